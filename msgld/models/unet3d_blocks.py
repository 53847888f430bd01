"""3-D building blocks of the multi-track U-Net.

Feature maps are [B, channels, C, T, F]: the latent's C channels are a depth axis that is
never downsampled, so every resampling stride is (1, 2, 2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, channels), channels, eps=1e-6)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding [B, dim] of (possibly fractional) timesteps [B]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock3d(nn.Module):
    """GroupNorm-SiLU-conv3d, the timestep embedding added between the two convs. Its second
    conv starts at zero, so a new block with c_in == c_out is the identity until trained (what
    lets a trained network grow deeper, `extra_blocks`). `film` [B, N] optionally holds a
    per-channel scale and shift of the second norm's output at columns `film_slice` (text
    FiLM); zeros change nothing."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = norm(c_in, groups), nn.Conv3d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = norm(c_out, groups), nn.Conv3d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv3d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.film_slice: tuple[int, int] | None = None  # set by the network that feeds it FiLM

    def forward(self, x: torch.Tensor, emb: torch.Tensor, film: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None, None]
        h = self.norm2(h)
        if film is not None and self.film_slice is not None:
            scale, shift = film[:, self.film_slice[0]:self.film_slice[1]].to(h.dtype).chunk(2, dim=1)
            h = h * (1 + scale[:, :, None, None, None]) + shift[:, :, None, None, None]
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class MixtureProjection(nn.Module):
    """The mixture latent at one level [B, 1, C, T, F] -> features [B, channels, C, T, F]: a 3x3
    conv over (T, F) that reads all C latent channels at once (the network's 3-D convs see only
    three neighbouring ones), so every feature channel at every depth gets its own view of the
    whole mixture. Bias-free, so the null condition (zeros) maps to zero; it starts at zero, so a
    network given this pathway computes what it did until training moves it."""

    def __init__(self, latent_channels: int, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(latent_channels, channels * latent_channels, 3, padding=1, bias=False)
        nn.init.zeros_(self.conv.weight)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        b, _, c, t, f = cond.shape
        return self.conv(cond[:, 0]).view(b, -1, c, t, f)


class GivenStemsAdapter(nn.Module):
    """Arrangement's given stems as the network's own condition (issue 16): their clean latents
    and where they are known, [known * mask, mask] [B, 2S, C, T, F], through a small conv encoder
    that halves (T, F) like the U-Net -> one feature map per level [B, width_l, C, T_l, F_l]
    (T2I-Adapter-like, Mou et al. 2023). Every block adds its own zero-initialised 1x1 projection of
    its level's map (`MultiTrackUNet`), so a network given this pathway computes what it did until
    training moves it. Bias-free throughout, so an item with nothing known maps to exactly zero."""

    def __init__(self, stems: int, widths: list[int]):
        super().__init__()
        self.conv_in = nn.Conv3d(2 * stems, widths[0], 3, padding=1, bias=False)
        self.levels = nn.ModuleList()
        for lvl, w in enumerate(widths):
            c_in = widths[lvl - 1] if lvl else widths[0]
            self.levels.append(nn.ModuleList([
                nn.Conv3d(c_in, w, 3, stride=(1, 2, 2) if lvl else 1, padding=1, bias=False),
                nn.Conv3d(w, w, 3, padding=1, bias=False),
            ]))

    def forward(self, known: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """known, mask [B, S, C, T, F] (mask 1 where known) -> features per level."""
        h = self.conv_in(torch.cat([known * mask, mask], dim=1))
        feats = []
        for first, second in self.levels:
            h = first(F.silu(h))
            h = h + second(F.silu(h))
            feats.append(h)
        return feats


class SelfAttention3d(nn.Module):
    """Plain multi-head self-attention over every (C, T, F) position, through SDPA."""

    def __init__(self, channels: int, groups: int, head_dim: int = 32):
        super().__init__()
        self.heads = max(1, channels // head_dim)
        self.norm = norm(channels, groups)
        self.qkv = nn.Conv3d(channels, 3 * channels, 1)
        self.proj = nn.Conv3d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, d, t, f = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, d * t * f)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # [B, heads, N, head_dim]
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, d, t, f))


class Downsample3d(nn.Module):
    """Stride (1, 2, 2) conv: T and F halve, the latent-channel depth stays."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, 3, stride=(1, 2, 2), padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample3d(nn.Module):
    """Nearest x(1, 2, 2) then a 3x3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest"))


class TextEmbedding(nn.Module):
    """A pooled sentence embedding [B, D] -> a shift [B, E] of the timestep embedding, which
    every ResBlock turns into its own per-channel shift; with a `film` layer (set by the network,
    which knows its ResBlocks: `MultiTrackUNet.film_layout`) also FiLM vectors (every ResBlock's
    own scale and shift, `ResBlock3d.film_slice`), which reach the features directly. Bias-free,
    so the null text (zeros) maps to exactly zero; the output layers start at zero, so a network
    with this pathway added computes exactly what it computed without it until training moves
    them."""

    def __init__(self, text_dim: int, emb_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(text_dim, emb_dim, bias=False)
        self.fc2 = nn.Linear(emb_dim, emb_dim, bias=False)
        nn.init.zeros_(self.fc2.weight)
        self.film: nn.Linear | None = None

    def forward(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> (timestep-embedding shift [B, E], FiLM vectors [B, film.out_features] or None)."""
        hidden = F.silu(self.fc1(text))
        return self.fc2(hidden), (self.film(hidden) if self.film is not None else None)
