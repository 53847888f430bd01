"""Total generation: all stems at once from the unconditional model (w = 0), any duration
(longer than one window by continuation), back to audio by the vocoder."""

from __future__ import annotations

import math
from typing import Callable

import torch

from msgld.diffusion.sampling import resolve_precision
from msgld.inference.bundle import DEFAULT_MODEL, ModelBundle, load_bundle
from msgld.inference.codec import decode_mels, vocode
from msgld.inference.long_sampling import sample_sequence


class Generator:
    """`Generator().generate(duration=10.24, seed=0)` -> stems [S, L] at 16 kHz."""

    defaults = {"sampler": "ddim", "steps": 50, "eta": 0.0, "overlap": None, "repaint": 0, "guidance": 0.0,
                "precision": "auto", "spacing": "leading"}

    def __init__(self, model: str | ModelBundle = DEFAULT_MODEL, device: str = "cpu"):
        self.bundle = model if isinstance(model, ModelBundle) else load_bundle(model, device)

    @property
    def stems(self) -> list[str]:
        return self.bundle.stems

    def latent_frames(self, duration: float) -> tuple[int, int]:
        """(frames to sample, frames wanted) for `duration` seconds."""
        b = self.bundle
        per_frame = b.vae.compression * b.front.cfg.hop_length / b.front.cfg.sample_rate
        wanted = max(1, math.ceil(duration / per_frame))
        window = b.window_samples // (b.vae.compression * b.front.cfg.hop_length)
        frames = max(window, math.ceil(wanted / b.frames_multiple) * b.frames_multiple)
        return frames, wanted

    def settings(self, **overrides) -> dict:
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ValueError(f"unknown generation settings {sorted(unknown)}; allowed: {sorted(self.defaults)}")
        s = {**self.defaults, **{k: v for k, v in overrides.items() if v is not None}}
        s["precision"] = resolve_precision(s["precision"], self.bundle.device)
        return s

    def sample_latents(self, frames: int, s: dict, generators: list[torch.Generator], known=None, stem_mask=None,
                       cond=None, progress=None) -> torch.Tensor:
        """-> latents [B, S, C, frames, F], B = len(generators) (one per sequence)."""
        b = self.bundle
        window = b.window_samples // (b.vae.compression * b.front.cfg.hop_length)
        per_frame = b.vae.compression * b.front.cfg.hop_length / b.front.cfg.sample_rate
        overlap = window // 4 if s["overlap"] is None else int(round(s["overlap"] / per_frame))
        if not 0 <= overlap < window:
            raise ValueError(f"overlap must be in [0, {window * per_frame}) seconds, got {s['overlap']}")
        return sample_sequence(
            b.ldm, frames, window, overlap, len(b.stems), b.vae.latent_channels, 64 // b.vae.compression,
            known=known, stem_mask=stem_mask, cond=cond, guidance=s["guidance"], sampler=s["sampler"],
            steps=s["steps"], eta=s["eta"], repaint=s["repaint"], generator=generators, progress=progress,
            precision=s["precision"], batch=len(generators), spacing=s["spacing"],
        )

    def generators(self, seeds: list[int]) -> list[torch.Generator]:
        return [torch.Generator(device=self.bundle.device).manual_seed(int(seed)) for seed in seeds]

    def to_audio(self, z: torch.Tensor, seeds: list[int], samples: int) -> torch.Tensor:
        """Latents [B, S', C, T, F] -> waves [B, S', samples] by the vocoder (seeded per item)."""
        b = self.bundle
        return torch.stack([vocode(b, decode_mels(b, zi), seed).cpu()[:, :samples] for zi, seed in zip(z, seeds)])

    def generate(self, duration: float = 10.24, seed: int = 0, progress: Callable[[int, int], None] | None = None,
                 **settings) -> torch.Tensor:
        """-> stems [S, L] of one piece."""
        return self.generate_batch([seed], duration, progress, **settings)[0]

    def generate_batch(self, seeds: list[int], duration: float = 10.24,
                       progress: Callable[[int, int], None] | None = None, **settings) -> torch.Tensor:
        """-> stems [len(seeds), S, L]: pieces sampled together (faster than one by one); piece i
        is the piece `generate(seed=seeds[i])` gives, up to float rounding."""
        if duration <= 0:
            raise ValueError(f"duration must be positive, got {duration}")
        if not seeds:
            raise ValueError("give at least one seed")
        s = self.settings(**settings)
        frames, wanted = self.latent_frames(duration)
        z = self.sample_latents(frames, s, self.generators(seeds), progress=progress)[..., :wanted, :]
        return self.to_audio(z, seeds, int(round(duration * self.bundle.front.cfg.sample_rate)))
