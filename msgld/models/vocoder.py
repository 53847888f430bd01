"""HiFi-GAN generator (Kong et al., 2020) for THE front-end's log-mel: [B, T, 64] -> [B, T * 160].

`build_vocoder` builds the architecture a config's `arch` names: `hifigan` (this file; the
default, so configs and weights without the key are HiFi-GAN) or `vocos` (msgld.models.vocos).

16 kHz, hop 160: the upsample rates must multiply to the hop (5, 4, 2, 2, 2). Each stage is a
leaky-ReLU, a transposed conv that halves the width, and a multi-receptive-field fusion of
res blocks (type "1": two convs per dilation; type "2": one). Weight norm throughout.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

LRELU = 0.1

DEFAULTS = {
    "n_mels": 64,
    "hop_length": 160,
    "upsample_rates": [5, 4, 2, 2, 2],
    "upsample_kernel_sizes": [16, 16, 8, 4, 4],
    "upsample_initial_channel": 1024,
    "resblock": "1",
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
}


def padding(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2


def init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
        nn.init.normal_(module.weight, 0.0, 0.01)


class ResBlock1(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: list[int]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel, dilation=d, padding=padding(kernel, d))) for d in dilations
        )
        self.convs2 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel, padding=padding(kernel))) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU)), LRELU))
        return x


class ResBlock2(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: list[int]):
        super().__init__()
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel, dilation=d, padding=padding(kernel, d))) for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = x + c(F.leaky_relu(x, LRELU))
        return x


class HiFiGAN(nn.Module):
    """log-mel [B, T, n_mels] -> waveform [B, T * hop] in [-1, 1]."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.config = cfg = {**DEFAULTS, **cfg}
        rates, kernels = cfg["upsample_rates"], cfg["upsample_kernel_sizes"]
        if math.prod(rates) != cfg["hop_length"]:
            raise ValueError(f"upsample rates {rates} multiply to {math.prod(rates)}, not the hop {cfg['hop_length']}")
        if len(rates) != len(kernels):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")
        c0 = cfg["upsample_initial_channel"]
        block = {"1": ResBlock1, "2": ResBlock2}[str(cfg["resblock"])]
        self.rates = list(rates)
        self.conv_pre = weight_norm(nn.Conv1d(cfg["n_mels"], c0, 7, padding=3))
        self.ups = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        for i, (u, k) in enumerate(zip(rates, kernels)):
            c_in, c_out = c0 // 2**i, c0 // 2 ** (i + 1)
            self.ups.append(weight_norm(nn.ConvTranspose1d(c_in, c_out, k, u, padding=(k - u) // 2)))
            self.mrfs.append(nn.ModuleList(
                block(c_out, rk, rd) for rk, rd in zip(cfg["resblock_kernel_sizes"], cfg["resblock_dilation_sizes"])
            ))
        self.conv_post = weight_norm(nn.Conv1d(c0 // 2 ** len(rates), 1, 7, padding=3))
        self.ups.apply(init_weights)
        self.mrfs.apply(init_weights)
        self.conv_post.apply(init_weights)

    @property
    def hop_length(self) -> int:
        return self.config["hop_length"]

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        lead = log_mel.shape[:-2]
        x = self.conv_pre(log_mel.reshape(-1, *log_mel.shape[-2:]).transpose(1, 2))
        for up, mrf, u in zip(self.ups, self.mrfs, self.rates):
            length = x.shape[-1] * u
            x = up(F.leaky_relu(x, LRELU))[..., :length]
            x = sum(block(x) for block in mrf) / len(mrf)
        x = torch.tanh(self.conv_post(F.leaky_relu(x)))
        return x.reshape(*lead, x.shape[-1])


ARCHS = ("hifigan", "vocos")


def build_vocoder(cfg: dict) -> nn.Module:
    arch = cfg.get("arch", "hifigan")
    if arch == "vocos":
        from msgld.models.vocos import build_vocos

        return build_vocos(cfg)
    if arch != "hifigan":
        raise ValueError(f"unknown vocoder arch {arch!r}; known: {list(ARCHS)}")
    cfg = {k: v for k, v in cfg.items() if k != "arch"}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown vocoder config keys: {sorted(unknown)}")
    return HiFiGAN(cfg)
