"""Arrangement: given stems fixed, the model writes the missing ones (paper II-D).

The given stems' latents replace the model's at every step, noised to the current level
(optionally with RePaint resampling); the generated stems come back through the vocoder and
the given stems are returned as they came in. Any length: windows continue each other.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from msgld.inference.bundle import DEFAULT_MODEL, ModelBundle
from msgld.inference.codec import encode
from msgld.inference.generator import Generator


class Arranger(Generator):
    """`Arranger().arrange({"drums": wave, "bass": wave}, seed=0)` -> stems [S, L] (given ones untouched)."""

    def __init__(self, model: str | ModelBundle = DEFAULT_MODEL, device: str = "cpu"):
        super().__init__(model, device)

    def arrange(self, given: dict[str, np.ndarray | torch.Tensor], generate: list[str] | None = None, seed: int = 0,
                progress: Callable[[int, int], None] | None = None, **settings) -> torch.Tensor:
        """-> stems [S, L] (L: the longest given stem)."""
        return self.arrange_batch([given], generate, [seed], progress, **settings)[0]

    def arrange_batch(self, givens: list[dict[str, np.ndarray | torch.Tensor]], generate: list[str] | None = None,
                      seeds: list[int] | None = None, progress: Callable[[int, int], None] | None = None,
                      **settings) -> torch.Tensor:
        """Several arrangements sampled together, each with the same given stem names ->
        stems [B, S, L] (L: the longest given stem of the batch; shorter ones zero-padded)."""
        b = self.bundle
        if not givens:
            raise ValueError("give at least one arrangement")
        names = set(givens[0])
        if any(set(g) != names for g in givens):
            raise ValueError("every arrangement of a batch must give the same stems")
        unknown = names - set(b.stems)
        if unknown:
            raise ValueError(f"unknown stems {sorted(unknown)}; this model's stems are {b.stems}")
        if not names:
            raise ValueError("arrangement needs at least one given stem (use generation for none)")
        generate = list(generate) if generate else [st for st in b.stems if st not in names]
        bad = [st for st in generate if st not in b.stems or st in names]
        if bad:
            raise ValueError(f"cannot generate {bad}: choose from the stems not given, {[st for st in b.stems if st not in names]}")
        seeds = list(range(len(givens))) if seeds is None else list(seeds)
        if len(seeds) != len(givens):
            raise ValueError(f"{len(seeds)} seeds for {len(givens)} arrangements")
        s = self.settings(**settings)
        waves = [{k: torch.as_tensor(np.asarray(v, dtype=np.float32)).flatten() for k, v in g.items()} for g in givens]
        length = max(w.shape[0] for g in waves for w in g.values())
        frames, _ = self.latent_frames(length / b.front.cfg.sample_rate)
        audio = torch.zeros(len(givens), len(b.stems), frames * b.vae.compression * b.front.cfg.hop_length)
        for i, g in enumerate(waves):
            for k, w in g.items():
                audio[i, b.stems.index(k), : w.shape[0]] = w
        mask = torch.tensor([1.0 if st in names else 0.0 for st in b.stems])
        known = encode(b, audio) * mask.view(-1, 1, 1, 1).to(b.device)
        masks = mask.expand(len(givens), -1)
        z = self.sample_latents(frames, s, self.generators(seeds), known=known, stem_mask=masks, progress=progress)
        out = audio.clone()
        new = [b.stems.index(st) for st in generate]
        out[:, new] = self.to_audio(z[:, new], seeds, audio.shape[-1])
        skipped = [b.stems.index(st) for st in b.stems if st not in names and st not in generate]
        out[:, skipped] = 0.0  # stems neither given nor asked for stay silent
        return out[..., :length]
