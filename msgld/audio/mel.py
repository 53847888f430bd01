"""THE mel front-end: one module for training, inference and evaluation.

16 kHz, n_fft 1024, periodic Hann 1024, hop 160, 64 Slaney mels 0-8 kHz on the STFT
magnitude, reflect-centred, ln(clamp(mel, 1e-5)). A signal of L samples gives L // hop
frames (163840 samples -> 1024 frames: the STFT's 1025th frame is cropped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import librosa
import torch
from torch import nn


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float = 8000.0
    log_floor: float = 1e-5

    def to_dict(self) -> dict:
        return asdict(self)

    def frames(self, num_samples: int) -> int:
        return num_samples // self.hop_length


def mel_basis(cfg: MelConfig) -> torch.Tensor:
    """Slaney-scale, Slaney-normalised filterbank [n_mels, n_fft // 2 + 1] from librosa."""
    fb = librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels,
        fmin=cfg.f_min, fmax=cfg.f_max, htk=False, norm="slaney",
    )
    return torch.from_numpy(fb).float()


class MelFrontEnd(nn.Module):
    """Waveforms [..., L] -> log-mel [..., T, n_mels] with T = L // hop; any leading dims."""

    def __init__(self, cfg: MelConfig | None = None):
        super().__init__()
        self.cfg = cfg or MelConfig()
        self.register_buffer("window", torch.hann_window(self.cfg.win_length, periodic=True), persistent=False)
        self.register_buffer("basis", mel_basis(self.cfg), persistent=False)

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """Complex STFT [..., n_fft//2+1, L//hop + 1] (reflect-centred)."""
        lead = wave.shape[:-1]
        flat = wave.reshape(-1, wave.shape[-1]).float()
        spec = torch.stft(
            flat, n_fft=self.cfg.n_fft, hop_length=self.cfg.hop_length, win_length=self.cfg.win_length,
            window=self.window, center=True, pad_mode="reflect", return_complex=True,
        )
        return spec.reshape(*lead, *spec.shape[-2:])

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        lead = spec.shape[:-2]
        flat = spec.reshape(-1, *spec.shape[-2:])
        wave = torch.istft(
            flat, n_fft=self.cfg.n_fft, hop_length=self.cfg.hop_length, win_length=self.cfg.win_length,
            window=self.window, center=True, length=length,
        )
        return wave.reshape(*lead, length)

    def mel_magnitude(self, wave: torch.Tensor) -> torch.Tensor:
        """Linear mel magnitude [..., T, n_mels]."""
        mag = self.stft(wave).abs()
        mel = torch.matmul(self.basis, mag)  # [..., n_mels, T+1]
        frames = self.cfg.frames(wave.shape[-1])
        return mel[..., :frames].transpose(-1, -2)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.clamp(self.mel_magnitude(wave), min=self.cfg.log_floor))


_DEFAULT: dict[tuple, MelFrontEnd] = {}


def log_mel(wave: torch.Tensor, cfg: MelConfig | None = None) -> torch.Tensor:
    """Functional form of the front-end (cached module per config and device)."""
    cfg = cfg or MelConfig()
    key = (cfg, wave.device)
    if key not in _DEFAULT:
        _DEFAULT[key] = MelFrontEnd(cfg).to(wave.device)
    return _DEFAULT[key](wave)
