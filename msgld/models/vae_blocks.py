"""2-D building blocks of the KL autoencoder (the LDM / AudioLDM / MusicLDM shape)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, channels), channels, eps=1e-6, affine=True)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with a 1x1 shortcut when the width changes."""

    def __init__(self, c_in: int, c_out: int, groups: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2, self.conv2 = norm(c_out, groups), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all positions of the feature map."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1)
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    """Stride-2 3x3 conv with (0, 1, 0, 1) padding: even sizes halve exactly."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest x2 then 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def mid_block(channels: int, groups: int, attention: bool, dropout: float) -> nn.Sequential:
    layers = [ResBlock(channels, channels, groups, dropout)]
    if attention:
        layers.append(AttnBlock(channels, groups))
    layers.append(ResBlock(channels, channels, groups, dropout))
    return nn.Sequential(*layers)
