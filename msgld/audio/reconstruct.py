"""Mixture-phase reconstruction: per-stem mel estimates -> waveforms that sum to the mixture.

The mel estimates give ratio masks per mel band (they sum to one over stems); each linear
STFT bin takes the filter-weighted average of the bands that cover it, so the linear masks
also sum to one; masked mixture STFTs go back through the inverse STFT. Because the inverse
STFT is linear, the stems add up to the mixture (to float precision).
"""

from __future__ import annotations

import torch

from msgld.audio.mel import MelConfig, MelFrontEnd, mel_basis


def mel_to_linear_weights(cfg: MelConfig) -> torch.Tensor:
    """[n_freq, n_mels] weights, each row summing to one, that spread mel-band values to STFT bins.

    Bins that no filter covers (DC, Nyquist) take the nearest band.
    """
    basis = mel_basis(cfg)  # [n_mels, n_freq]
    weights = basis.T.clone()  # [n_freq, n_mels]
    total = weights.sum(dim=1, keepdim=True)
    empty = total.squeeze(1) <= 0
    if empty.any():
        centres = torch.argmax(basis, dim=1).float()  # the bin where each band peaks
        for f in torch.nonzero(empty).flatten().tolist():
            weights[f, int(torch.argmin((centres - f).abs()))] = 1.0
        total = weights.sum(dim=1, keepdim=True)
    return weights / total


def mel_ratio_masks(stem_log_mels: torch.Tensor, stem_dim: int = -3) -> torch.Tensor:
    """Ratio masks over stems from log-mels [..., S, T, F] (stem axis at `stem_dim`)."""
    magnitude = torch.exp(stem_log_mels.float())
    return magnitude / magnitude.sum(dim=stem_dim, keepdim=True)


class MaskReconstructor(torch.nn.Module):
    """Apply per-stem mel ratio masks to the mixture STFT and invert."""

    def __init__(self, cfg: MelConfig | None = None):
        super().__init__()
        self.front = MelFrontEnd(cfg)
        self.register_buffer("spread", mel_to_linear_weights(self.front.cfg), persistent=False)

    def linear_masks(self, mel_masks: torch.Tensor, frames: int) -> torch.Tensor:
        """[..., S, T, n_mels] -> [..., S, n_freq, frames] (last mel frame repeated to fill)."""
        lin = torch.matmul(mel_masks, self.spread.T).transpose(-1, -2)  # [..., S, n_freq, T]
        if lin.shape[-1] < frames:
            pad = lin[..., -1:].expand(*lin.shape[:-1], frames - lin.shape[-1])
            lin = torch.cat([lin, pad], dim=-1)
        return lin[..., :frames]

    def forward(self, stem_log_mels: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
        """stem_log_mels [..., S, T, F], mixture [..., L] -> stems [..., S, L]."""
        spec = self.front.stft(mixture).unsqueeze(-3)  # [..., 1, n_freq, frames]
        masks = self.linear_masks(mel_ratio_masks(stem_log_mels), spec.shape[-1])
        return self.front.istft(spec * masks, length=mixture.shape[-1])


def oracle_mel_mask(stems: torch.Tensor, mixture: torch.Tensor | None = None, cfg: MelConfig | None = None) -> torch.Tensor:
    """Separate the mixture with ratio masks from the true stems' mel magnitudes [..., S, L]."""
    rec = MaskReconstructor(cfg).to(stems.device)
    if mixture is None:
        mixture = stems.sum(dim=-2)
    return rec(rec.front(stems), mixture)
