"""HT-Demucs (Rouard, Massa, Defossez, ICASSP 2023) from the `demucs` package: the peer separator.

Only the model class is used (`demucs.htdemucs.HTDemucs`, which imports torch, einops and
julius, never torchaudio), with Demucs's own overlap-add chunking (`demucs.apply.apply_model`)
for clips longer than its training segment. The model config is HTDemucs's keyword arguments
(`sources`, `audio_channels`, `samplerate`, `segment` in seconds, `channels`, `depth`,
`t_layers`, ...), so it travels with the weights as plain JSON; `build_htdemucs` is the factory
that `msgld.weights.load_model` uses for kind `demucs` (registered when this module is imported).

Shapes: the network maps a mixture [B, audio_channels, L] to stems [B, S, audio_channels, L];
`separate_waves` speaks msgld's mono layout, mixture [B, L] -> stems [B, S, L].
"""

from __future__ import annotations

import inspect
import random
from fractions import Fraction

import torch
from demucs.apply import apply_model
from demucs.htdemucs import HTDemucs

from msgld import SAMPLE_RATE
from msgld.weights import register_kind

KIND = "demucs"


def htdemucs_arguments() -> set[str]:
    return set(inspect.signature(HTDemucs.__init__).parameters) - {"self"}


def segment_samples(config: dict) -> int:
    """The training segment in samples (HTDemucs pads shorter inputs to it at inference)."""
    return int(round(float(config["segment"]) * int(config.get("samplerate", SAMPLE_RATE))))


def build_htdemucs(config: dict) -> HTDemucs:
    """HTDemucs(**config), its segment made exact (a Fraction of whole samples)."""
    unknown = set(config) - htdemucs_arguments()
    if unknown:
        raise ValueError(f"unknown HT-Demucs config keys: {sorted(unknown)}")
    for key in ("sources", "segment"):
        if key not in config:
            raise ValueError(f"HT-Demucs config needs {key!r}")
    sr = int(config.get("samplerate", SAMPLE_RATE))
    if sr != SAMPLE_RATE:
        raise ValueError(f"HT-Demucs samplerate {sr}: msgld's datasets and metrics are {SAMPLE_RATE} Hz")
    model = HTDemucs(**config)
    model.segment = Fraction(segment_samples(config), sr)
    return model


def separate_waves(model: HTDemucs, mixture: torch.Tensor, shifts: int = 0, overlap: float = 0.25,
                   seed: int = 0) -> torch.Tensor:
    """Mixture [B, L] -> stems [B, S, L] (mono models): Demucs's `apply_model`, which cuts the
    clip into training-length chunks overlapping by `overlap` and blends them with triangular
    weights; `shifts` > 0 averages that many random time shifts (up to 0.5 s, drawn from
    Python's `random`, seeded here by `seed`)."""
    if model.audio_channels != 1:
        raise ValueError(f"separate_waves is for mono models (audio_channels {model.audio_channels})")
    if shifts:
        random.seed(seed)
    device = next(model.parameters()).device
    out = apply_model(model, mixture.float()[:, None].to(device), shifts=shifts, split=True, overlap=overlap,
                      progress=False, device=device)
    return out[:, :, 0]


register_kind(KIND, build_htdemucs)
