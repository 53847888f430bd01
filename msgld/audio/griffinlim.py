"""Griffin-Lim from THE front-end's log-mel: the no-training way back to audio.

The mel magnitude is mapped to a non-negative linear magnitude (each band's value spread over
its bins, then refined by non-negative least squares with multiplicative updates, Lee & Seung
2001), then the fast Griffin-Lim iteration (Perraudin et al., 2013; momentum 0.99)
finds a phase consistent with it, using the front-end's own STFT and inverse STFT.
"""

from __future__ import annotations

import torch

from msgld.audio.mel import MelConfig, MelFrontEnd, mel_basis


def mel_to_linear(log_mel: torch.Tensor, cfg: MelConfig | None = None, n_iter: int = 32) -> torch.Tensor:
    """log-mel [..., T, n_mels] -> non-negative linear magnitude [..., n_freq, T] whose mel
    matches (least squares)."""
    cfg = cfg or MelConfig()
    basis = mel_basis(cfg).to(log_mel.device)  # [n_mels, n_freq]
    mel = torch.exp(log_mel.float()).transpose(-1, -2)  # [..., n_mels, T]
    spread = basis.T / basis.T.sum(dim=1, keepdim=True).clamp(min=1e-8)
    linear = spread @ (mel / basis.sum(dim=1, keepdim=True)) + 1e-8
    target = basis.T @ mel
    for _ in range(n_iter):
        linear = linear * target / (basis.T @ (basis @ linear)).clamp(min=1e-12)
    return linear


def griffin_lim(
    log_mel: torch.Tensor,
    n_iter: int = 64,
    momentum: float = 0.99,
    cfg: MelConfig | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """log-mel [..., T, n_mels] -> waveform [..., T * hop]. Random initial phase from `generator`
    (seed 0 when none is given, so the result is deterministic)."""
    front = MelFrontEnd(cfg).to(log_mel.device)
    hop = front.cfg.hop_length
    length = log_mel.shape[-2] * hop
    mag = mel_to_linear(log_mel, front.cfg)
    mag = torch.cat([mag, mag[..., -1:]], dim=-1)  # the STFT has T + 1 frames
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    phase = torch.rand(mag.shape, generator=generator).to(mag.device) * 2 * torch.pi
    spec = mag * torch.exp(1j * phase)
    previous = torch.zeros_like(spec)
    for _ in range(n_iter):
        rebuilt = front.stft(front.istft(spec, length))
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous
        previous = rebuilt
        spec = mag * torch.exp(1j * torch.angle(accelerated))
    return front.istft(spec, length)
