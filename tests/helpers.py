"""Synthetic multi-stem audio for tests (importable as tests.helpers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch


TINY_UNET = dict(channels=8, channel_mult=[1, 2], num_res_blocks=1, attention_levels=[1], head_dim=8, norm_groups=4)


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    """The zero-initialised output layers would make every output 0: give all weights values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def tone_stems(seconds: float, sr: int, seed: int, stems=("bass", "drums", "guitar", "piano")) -> dict[str, np.ndarray]:
    """Distinct synthetic stems: low harmonic tone, noise bursts, mid tone, high chords."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    out = {}
    for i, stem in enumerate(stems):
        if stem == "drums":
            env = np.exp(-((t * 4) % 1.0) * 30)
            out[stem] = (0.3 * env * rng.standard_normal(n)).astype(np.float32)
        else:
            f0 = {0: 55.0, 2: 330.0, 3: 1250.0}.get(i, 700.0) * (1 + 0.1 * rng.random())
            env = 0.5 + 0.5 * np.sin(2 * np.pi * (0.5 + i) * t) ** 2
            wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5))
            out[stem] = (0.15 * env * wave).astype(np.float32)
    return out


def write_track(folder: Path, stems: dict[str, np.ndarray], sr: int, stereo: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, wave in stems.items():
        data = np.stack([wave, 0.5 * wave], axis=1) if stereo else wave
        sf.write(folder / f"{name}.wav", data, sr, subtype="FLOAT")


def save_tiny_vae(folder: Path) -> Path:
    """A seeded 8-channel VAE saved as FOLDER/vae: the encoder of the tests' latent caches."""
    from msgld.models.vae import build_vae
    from msgld.weights import save_model

    torch.manual_seed(0)
    vae = build_vae({"channels": 8, "channel_mult": [1, 2, 4], "num_res_blocks": 1, "norm_groups": 4,
                     "mid_attention": False})
    save_model(vae, folder / "vae", "vae", vae.config)
    return folder / "vae"
