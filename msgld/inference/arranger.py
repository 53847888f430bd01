"""Arrangement: given stems fixed, the model writes the missing ones (paper II-D).

The given stems' latents replace the model's at every step, noised to the current level
(optionally with RePaint resampling); the generated stems come back through the vocoder and
the given stems are returned as they came in. Any length: windows continue each other.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from msgld.inference.bundle import DEFAULT_MODEL, ModelBundle, load_bundle
from msgld.inference.codec import decode_mels, encode, vocode
from msgld.inference.generator import Generator


class Arranger(Generator):
    """`Arranger().arrange({"drums": wave, "bass": wave}, seed=0)` -> stems [S, L] (given ones untouched)."""

    def __init__(self, model: str | ModelBundle = DEFAULT_MODEL, device: str = "cpu"):
        super().__init__(model, device)

    def arrange(self, given: dict[str, np.ndarray | torch.Tensor], generate: list[str] | None = None, seed: int = 0,
                progress: Callable[[int, int], None] | None = None, **settings) -> torch.Tensor:
        b = self.bundle
        unknown = set(given) - set(b.stems)
        if unknown:
            raise ValueError(f"unknown stems {sorted(unknown)}; this model's stems are {b.stems}")
        if not given:
            raise ValueError("arrangement needs at least one given stem (use generation for none)")
        generate = list(generate) if generate else [st for st in b.stems if st not in given]
        bad = [st for st in generate if st not in b.stems or st in given]
        if bad:
            raise ValueError(f"cannot generate {bad}: choose from the stems not given, {[st for st in b.stems if st not in given]}")
        s = self.settings(**settings)
        waves = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)).flatten() for k, v in given.items()}
        length = max(w.shape[0] for w in waves.values())
        frames, wanted = self.latent_frames(length / b.front.cfg.sample_rate)
        samples = frames * b.vae.compression * b.front.cfg.hop_length
        audio = torch.zeros(len(b.stems), samples)
        for k, w in waves.items():
            audio[b.stems.index(k), : w.shape[0]] = w
        mask = torch.tensor([1.0 if st in given else 0.0 for st in b.stems])
        known = encode(b, audio) * mask.view(-1, 1, 1, 1).to(b.device)
        g = torch.Generator(device=b.device).manual_seed(int(seed))
        z = self.sample_latents(frames, s, g, known=known, stem_mask=mask, progress=progress)
        out = audio.clone()
        new = [b.stems.index(st) for st in generate]
        out[new] = vocode(b, decode_mels(b, z[new]), seed).cpu()
        skipped = [b.stems.index(st) for st in b.stems if st not in given and st not in generate]
        out[skipped] = 0.0  # stems neither given nor asked for stay silent
        return out[:, :length]
