"""Separation: the mixture's latent conditions the model (w >= 1), window by window.

Each 10.24 s window: mixture -> log-mel -> VAE latent c -> sample the stems' latents with
guidance w -> VAE decoder -> per-stem log-mels -> mixture-phase reconstruction (ratio masks on
the mixture STFT: the stems of every window sum to it) or the vocoder. Windows overlap and are
blended with linear cross-fades, so any length works with flat memory and, with masks, the
stems sum to the input.

`method="dirac"` and `"gaussian"` are MSDM-style separation in latent space on the
unconditional model (w = 0): the sum of the stems' clean estimates is pulled to the mixture's
latent at every step: the last stem is set to the remainder (Dirac) or every stem moves by an
equal share of the residual (Gaussian, `gaussian_strength` in (0, 1]). This is the baseline
Multi-Track MusicLDM reported; a latent of a sum is not the sum of latents, which limits it.

`ensemble=k` draws k samples per window and keeps their mean mel power (k times the cost).
`spacing` places the steps ("trailing": the first at t = T, so `steps=1` is the one-step x0
estimate; "leading": the DDIM paper's). `refine=k` is a warm-start refinement (SDEdit/StoRM):
the sampled estimate is noised again to t0 = `refine_strength` * T and k more steps run from there.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from msgld.audio.chunking import OverlapAdd, window_starts
from msgld.diffusion.sampling import resolve_precision, sample_latents
from msgld.inference.bundle import DEFAULT_MODEL, ModelBundle, load_bundle
from msgld.inference.codec import decode_mels, encode, vocode

METHODS = ("msgld", "dirac", "gaussian")
RECONSTRUCT = ("mask", "vocoder")


def msdm_hook(method: str, cond: torch.Tensor, strength: float = 1.0):
    """x0 rewrite for MSDM-style separation: cond [B, C, T, F] is the mixture's latent."""

    def dirac(x0, t):
        x0 = x0.clone()
        x0[:, -1] = cond - x0[:, :-1].sum(dim=1)
        return x0

    def gaussian(x0, t):
        residual = cond - x0.sum(dim=1)
        return x0 + strength * residual.unsqueeze(1) / x0.shape[1]

    return {"dirac": dirac, "gaussian": gaussian}[method]


class Separator:
    """`Separator().separate(mixture)` -> stems [S, L] at 16 kHz (`.stems` names them)."""

    # chosen by measurement (benchmarks/bench_separate.py, README): DDIM with 3 steps at w = 3 was
    # the best si_sdri_wave of the grid within 2.5 s per 10.24 s on 2 CPU cores
    defaults = {"guidance": 3.0, "sampler": "ddim", "steps": 3, "eta": 0.0, "overlap": None,
                "batch_size": 8, "seed": 0, "reconstruct": "mask", "method": "msgld", "gaussian_strength": 1.0,
                "precision": "auto", "ensemble": 1, "spacing": "leading", "refine": 0, "refine_strength": 0.3}

    def __init__(self, model: str | ModelBundle = DEFAULT_MODEL, device: str = "cpu"):
        self.bundle = model if isinstance(model, ModelBundle) else load_bundle(model, device)

    @property
    def stems(self) -> list[str]:
        return self.bundle.stems

    def settings(self, **overrides) -> dict:
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ValueError(f"unknown separation settings {sorted(unknown)}; allowed: {sorted(self.defaults)}")
        s = {**self.defaults, **{k: v for k, v in overrides.items() if v is not None}}
        if s["method"] not in METHODS:
            raise ValueError(f"unknown separation method {s['method']!r}; choose one of {list(METHODS)}")
        if s["reconstruct"] not in RECONSTRUCT:
            raise ValueError(f"unknown reconstruction {s['reconstruct']!r}; choose one of {list(RECONSTRUCT)}")
        if s["method"] == "msgld" and s["guidance"] < 0:
            raise ValueError(f"guidance must be >= 0, got {s['guidance']}")
        window = self.bundle.window_samples / self.bundle.front.cfg.sample_rate
        if s["overlap"] is None:  # a quarter of the window (2.56 s of 10.24 s)
            s["overlap"] = window / 4
        if not 0 <= s["overlap"] < window:
            raise ValueError(f"overlap must be in [0, {window}) seconds, got {s['overlap']}")
        if s["ensemble"] < 1:
            raise ValueError(f"ensemble must be at least 1 sample, got {s['ensemble']}")
        if s["refine"] < 0 or not 0 < s["refine_strength"] <= 1:
            raise ValueError(f"refine must be >= 0 steps and refine_strength in (0, 1], got {s['refine']}, "
                             f"{s['refine_strength']}")
        if s["batch_size"] < 1:
            raise ValueError(f"batch size must be at least 1, got {s['batch_size']}")
        s["precision"] = resolve_precision(s["precision"], self.bundle.device)
        return s

    @torch.no_grad()
    def separate_windows(self, chunks: torch.Tensor, s: dict, generator: torch.Generator) -> torch.Tensor:
        """Mixture windows [n, W] -> stems [n, S, W]."""
        b = self.bundle
        n, k = chunks.shape[0], s["ensemble"]
        cond = encode(b, chunks).repeat_interleave(k, dim=0)  # [n * k, C, T, F]
        shape = (n * k, len(b.stems), *cond.shape[1:])
        if s["method"] == "msgld":
            guide = {"cond": cond, "guidance": s["guidance"]}
        else:
            guide = {"cond": None, "guidance": 0.0, "x0_hook": msdm_hook(s["method"], cond, s["gaussian_strength"])}
        common = {"sampler": s["sampler"], "eta": s["eta"], "generator": generator, "precision": s["precision"],
                  "spacing": s["spacing"], **guide}
        z = sample_latents(b.ldm, shape, steps=s["steps"], **common)
        if s["refine"]:  # warm start from the estimate: exactly `refine` steps below t0
            total = max(s["refine"], int(round(s["refine"] / s["refine_strength"])))
            z = sample_latents(b.ldm, shape, steps=total, init=z, strength=s["refine"] / total, **common)
        mels = decode_mels(b, z)  # [n * k, S, T, 64]
        if k > 1:  # the ensemble's mean mel power: an estimate of the posterior mean
            mels = torch.logsumexp(mels.unflatten(0, (n, k)), dim=1) - math.log(k)
        if s["reconstruct"] == "mask":
            return b.masker(mels, chunks)
        return vocode(b, mels, s["seed"])

    def separate(self, mixture, progress: Callable[[int, int], None] | None = None, **settings) -> torch.Tensor:
        """mixture [L] (16 kHz, numpy or torch) -> stems [S, L]. Settings: see `defaults`.
        `progress(windows_done, windows_total)` is called after each batch of windows."""
        s = self.settings(**settings)
        b = self.bundle
        mix = torch.as_tensor(np.asarray(mixture, dtype=np.float32) if not torch.is_tensor(mixture) else mixture)
        mix = mix.float().cpu()
        if mix.ndim != 1:
            raise ValueError(f"expected a mono mixture [L], got shape {tuple(mix.shape)}")
        length, window = mix.shape[0], b.window_samples
        overlap = int(round(s["overlap"] * b.front.cfg.sample_rate))
        padded = torch.nn.functional.pad(mix, (0, max(0, window - length)))
        starts = window_starts(padded.shape[0], window, overlap)
        acc = OverlapAdd(padded.shape[0], window, overlap)
        generator = torch.Generator(device=b.device).manual_seed(int(s["seed"]))
        for i in range(0, len(starts), s["batch_size"]):
            group = starts[i : i + s["batch_size"]]
            chunks = torch.stack([padded[st : st + window] for st in group]).to(b.device)
            stems = self.separate_windows(chunks, s, generator).cpu()
            for st, out in zip(group, stems):
                acc.add(out, st)
            if progress is not None:
                progress(i + len(group), len(starts))
        return acc.result()[:, :length]
