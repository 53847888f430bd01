"""Arrangement: given stems fixed, the model writes the missing ones (paper II-D).

The given stems' latents replace the model's at every step, noised to the current level
(optionally with RePaint resampling); the generated stems come back through the vocoder and
the given stems are returned as they came in. Any length: windows continue each other.
Given stems at another rate than the model's are resampled for the model, and the generated
stems resampled back to it.
"""

from __future__ import annotations

import numpy as np
import torch

from msgld.inference.codec import encode
from msgld.inference.engine import Engine, Progress, StepCallback, as_tensor, no_rate_error, to_rate
from msgld.inference.generator import Generator
from msgld.inference.settings import GenerationSettings


class Arranger(Generator):
    """`Arranger().arrange({"drums": wave, "bass": wave}, sample_rate=sr, seed=0)` -> stems [S, L]
    at `sr` (given ones untouched); `stem_prompts` may describe given stems as well as the ones
    to write."""

    Settings = GenerationSettings
    # mel_match 0, as the Generator's: at 2 passes G / BG / BP / GP read 6.7 / 21.1 / 14.8 / 14.9 against
    # 3.0 / 13.3 / 8.7 / 9.3 (stemfit-complete; README, session 18)
    defaults = {"sampler": "ddim", "steps": 50, "eta": 0.0, "overlap": None, "repaint": 0, "guidance": 0.0, "given_adapter": "auto",
                "given_guidance": 8.0, "precision": "auto", "spacing": "leading", "last_pass": "run",
                "prompt": None, "text_guidance": 3.0, "stem_prompts": None, "mel_match": 0}

    def arrange(self, given: dict[str, np.ndarray | torch.Tensor], generate: list[str] | None = None, seed: int = 0,
                progress: Progress | None = None, *, sample_rate: int | None = None,
                callback: StepCallback | None = None, **settings) -> torch.Tensor:
        """-> stems [S, L] (L: the longest given stem) at `sample_rate` (the given stems' rate)."""
        return self.arrange_batch([given], generate, [seed], progress, sample_rate=sample_rate, callback=callback,
                                  **settings)[0]

    def arrange_batch(self, givens: list[dict[str, np.ndarray | torch.Tensor]], generate: list[str] | None = None,
                      seeds: list[int] | None = None, progress: Progress | None = None, *,
                      sample_rate: int | None = None, callback: StepCallback | None = None,
                      **settings) -> torch.Tensor:
        """Several arrangements sampled together, each with the same given stem names (mono,
        at `sample_rate`) -> stems [B, S, L] (L: the longest given stem of the batch; shorter
        ones zero-padded)."""
        if sample_rate is None:
            raise no_rate_error("Arranger")
        names, generate, seeds = self.check_request(givens, generate, seeds)
        s = self.resolve(**settings)
        rate, own = int(sample_rate), self.sample_rate
        waves = [{k: mono(v, k) for k, v in g.items()} for g in givens]
        length = max(w.shape[0] for g in waves for w in g.values())
        frames, _ = self.latent_frames(length / rate)
        audio = torch.zeros(len(givens), len(self.stems), frames * self.geometry.samples_per_frame)
        for i, g in enumerate(waves):
            for k, w in g.items():
                w16 = to_rate(w, rate, own)[: audio.shape[-1]]
                audio[i, self.stems.index(k), : w16.shape[0]] = w16
        mask = torch.tensor([1.0 if st in names else 0.0 for st in self.stems])
        known = encode(self.bundle, audio) * mask.view(-1, 1, 1, 1).to(self.bundle.device)
        z = self.sample_latents(frames, s, self.generators(seeds), known=known, stem_mask=mask.expand(len(givens), -1),
                                progress=progress, callback=callback)
        out = torch.zeros(len(givens), len(self.stems), length)
        for i, g in enumerate(waves):
            for k, w in g.items():
                out[i, self.stems.index(k), : w.shape[0]] = w  # given stems as they came in
        new = [self.stems.index(st) for st in generate]
        made = self.to_audio(z[:, new], seeds, audio.shape[-1], s.mel_match)
        out[:, new] = to_rate(made, own, rate, length)  # stems neither given nor asked for stay silent
        return out

    def check_request(self, givens, generate, seeds) -> tuple[set, list[str], list[int]]:
        stems = self.stems
        if not givens:
            raise ValueError("give at least one arrangement")
        names = set(givens[0])
        if any(set(g) != names for g in givens):
            raise ValueError("every arrangement of a batch must give the same stems")
        unknown = names - set(stems)
        if unknown:
            raise ValueError(f"unknown stems {sorted(unknown)}; this model's stems are {stems}")
        if not names:
            raise ValueError("arrangement needs at least one given stem (use generation for none)")
        generate = list(generate) if generate else [st for st in stems if st not in names]
        bad = [st for st in generate if st not in stems or st in names]
        if bad:
            raise ValueError(f"cannot generate {bad}: choose from the stems not given, {[st for st in stems if st not in names]}")
        seeds = list(range(len(givens))) if seeds is None else list(seeds)
        if len(seeds) != len(givens):
            raise ValueError(f"{len(seeds)} seeds for {len(givens)} arrangements")
        return names, generate, seeds


def mono(wave, name: str) -> torch.Tensor:
    w = as_tensor(wave)
    if w.ndim == 2 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 1:
        raise ValueError(f"given stem {name!r}: expected mono audio [L], got shape {tuple(w.shape)}")
    return w
