"""The mask refiner: a small 2-D convolutional network that corrects the separator's per-stem
log-mels, given the mixture's own log-mel, before they become ratio masks.

Why: separation's output is the mixture's STFT under ratio masks made from the stems' estimated
log-mels (msgld.audio.reconstruct), so only their differences matter, and the LDM makes them from
the mixture's VAE latent alone. The refiner sees what the latent blurs: the mixture's log-mel at
full resolution (100 frames/s, 64 bands). It is trained on the LDM's own estimates of songs the
LDM never saw (msgld.data.estimate_cache), against the waveform SI-SDR of the masked stems
(msgld.training.refiner_module): a discriminative stage on top of the generative one, as
regression-plus-diffusion separators combine the two the other way round.

Input features per (frame, band): the S estimated log-mels, the mixture's log-mel and the S ratio
masks they make. Residual blocks of 3x3 convolutions, dilated along time (context of seconds) and
frequency (harmonics); the output conv starts at zero, so an untrained refiner returns the
estimate unchanged (`residual: true`, the output added to the estimate), or equal masks
(`residual: false`: the output replaces it, and the estimate is only an input feature). Any
length: it is fully convolutional.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KIND = "refiner"
DEFAULT_CONFIG = {
    "stems": ["bass", "drums", "guitar", "piano"],
    "channels": 32,
    "dilations": [[1, 1], [2, 1], [4, 2], [8, 1], [16, 2], [1, 4]],  # (time, frequency) per block
    "groups": 8,
    "residual": True,  # the output corrects the estimate; false: new log-mels, the estimate an input feature only
}


class DilatedBlock(nn.Module):
    def __init__(self, channels: int, dilation: tuple[int, int], groups: int):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(groups, channels), nn.GroupNorm(groups, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=tuple(dilation), dilation=tuple(dilation))
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))


class MaskRefiner(nn.Module):
    def __init__(self, config: dict | None = None):
        super().__init__()
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        self.config = cfg
        self.stems = list(cfg["stems"])
        s, c = len(self.stems), int(cfg["channels"])
        self.conv_in = nn.Conv2d(2 * s + 1, c, 3, padding=1)
        self.blocks = nn.ModuleList(DilatedBlock(c, tuple(d), int(cfg["groups"])) for d in cfg["dilations"])
        self.norm_out = nn.GroupNorm(int(cfg["groups"]), c)
        self.conv_out = nn.Conv2d(c, s, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, stem_log_mels: torch.Tensor, mixture_log_mel: torch.Tensor) -> torch.Tensor:
        """stem_log_mels [B, S, T, F], mixture_log_mel [B, T, F] -> refined stem log-mels [B, S, T, F]."""
        if stem_log_mels.dim() != 4 or stem_log_mels.shape[1] != len(self.stems):
            raise ValueError(f"expected stem log-mels [B, {len(self.stems)}, T, F], got {tuple(stem_log_mels.shape)}")
        if mixture_log_mel.shape != stem_log_mels.shape[:1] + stem_log_mels.shape[2:]:
            raise ValueError(f"mixture log-mel {tuple(mixture_log_mel.shape)} does not match the stems' "
                             f"{tuple(stem_log_mels.shape)}")
        est = stem_log_mels.float()
        x = torch.cat([est, mixture_log_mel.float().unsqueeze(1), torch.softmax(est, dim=1)], dim=1)
        h = self.conv_in(x)
        for block in self.blocks:
            h = block(h)
        out = self.conv_out(F.silu(self.norm_out(h)))
        return est + out if self.config["residual"] else out


def build_refiner(config: dict) -> MaskRefiner:
    """Weights factory of kind `refiner`."""
    return MaskRefiner(config)
