"""The vocoders' discriminators: multi-period (MPD) and multi-scale (MSD), HiFi-GAN's, and
multi-resolution (MRD, UnivNet's; what Vocos pairs with the MPD).

Each sub-discriminator returns (score map, feature maps) for the feature-matching loss.
Widths are configurable so a CPU-sized model can train; `width: 1.0` is HiFi-GAN's (and
UnivNet's 32 channels for the MRD). `msd_scales: 0` drops the MSD; `mrd_resolutions` (a list
of [n_fft, hop, win]) adds one MRD sub-discriminator per STFT resolution (none by default).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

LRELU = 0.1
DEFAULTS = {"periods": [2, 3, 5, 7, 11], "mpd_width": 1.0, "msd_scales": 3, "msd_width": 1.0,
            "mrd_resolutions": [], "mrd_width": 1.0}


def scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))



def run_convs(convs: nn.ModuleList, conv_post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Leaky-ReLU conv stack, then the output conv: (flattened scores, every layer's features)."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU)
        feats.append(x)
    x = conv_post(x)
    feats.append(x)
    return x.flatten(1), feats

class PeriodDiscriminator(nn.Module):
    """Folds the waveform into [T / p, p] and applies 2-D convs along time (kernel (5, 1))."""

    def __init__(self, period: int, width: float):
        super().__init__()
        self.period = period
        chans = [1] + [scaled(c, width) for c in (32, 128, 512, 1024)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0))) for a, b in zip(chans[:-1], chans[1:])
        )
        self.convs.append(weight_norm(nn.Conv2d(chans[-1], chans[-1], (5, 1), 1, padding=(2, 0))))
        self.conv_post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), "reflect")
        x = x.view(b, c, -1, self.period)
        return run_convs(self.convs, self.conv_post, x)


class ScaleDiscriminator(nn.Module):
    """Strided grouped 1-D convs on the (pooled) waveform."""

    SPEC = [(128, 15, 1, 1), (128, 41, 2, 4), (256, 41, 2, 16), (512, 41, 4, 16),
            (1024, 41, 4, 16), (1024, 41, 1, 16), (1024, 5, 1, 1)]  # (out, kernel, stride, groups)

    def __init__(self, width: float, spectral: bool = False):
        super().__init__()
        wrap = spectral_norm if spectral else weight_norm
        self.convs, c_in = nn.ModuleList(), 1
        for out, k, s, g in self.SPEC:
            c_out = scaled(out, width)
            groups = math.gcd(g, math.gcd(c_in, c_out))
            self.convs.append(wrap(nn.Conv1d(c_in, c_out, k, s, groups=groups, padding=(k - 1) // 2)))
            c_in = c_out
        self.conv_post = wrap(nn.Conv1d(c_in, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return run_convs(self.convs, self.conv_post, x)


class ResolutionDiscriminator(nn.Module):
    """2-D convs over one STFT magnitude, [frames, bins], striding along frequency."""

    def __init__(self, n_fft: int, hop: int, win: int, width: float):
        super().__init__()
        self.n_fft, self.hop, self.win = n_fft, hop, win
        c = scaled(32, width)
        self.convs = nn.ModuleList([weight_norm(nn.Conv2d(1, c, (3, 9), padding=(1, 4)))])
        self.convs.extend(weight_norm(nn.Conv2d(c, c, (3, 9), (1, 2), padding=(1, 4))) for _ in range(3))
        self.convs.append(weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))))
        self.conv_post = weight_norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))
        self.register_buffer("window", torch.hann_window(win), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        with torch.autocast(device_type=x.device.type, enabled=False):
            spec = torch.stft(x.squeeze(1).float(), self.n_fft, self.hop, self.win, self.window,
                              center=True, return_complex=True).abs()
        return run_convs(self.convs, self.conv_post, spec.transpose(1, 2).unsqueeze(1))


class HiFiGANDiscriminator(nn.Module):
    """MPD + MSD (+ MRD). forward(real [B, 1, L], fake [B, 1, L]) ->
    (real scores, fake scores, real features, fake features), each a list over sub-discriminators."""

    def __init__(self, cfg: dict | None = None):
        super().__init__()
        self.config = cfg = {**DEFAULTS, **(cfg or {})}
        self.mpd = nn.ModuleList(PeriodDiscriminator(p, cfg["mpd_width"]) for p in cfg["periods"])
        self.msd = nn.ModuleList(
            ScaleDiscriminator(cfg["msd_width"], spectral=(i == 0)) for i in range(cfg["msd_scales"])
        )
        self.mrd = nn.ModuleList(ResolutionDiscriminator(*r, cfg["mrd_width"]) for r in cfg["mrd_resolutions"])

    def forward(self, real: torch.Tensor, fake: torch.Tensor):
        outs = ([], [], [], [])
        for d in [*self.mpd, *self.mrd]:
            for j, x in enumerate((real, fake)):
                score, feats = d(x)
                outs[j].append(score)
                outs[2 + j].append(feats)
        for i, d in enumerate(self.msd):
            if i > 0:
                real, fake = F.avg_pool1d(real, 4, 2, padding=2), F.avg_pool1d(fake, 4, 2, padding=2)
            for j, x in enumerate((real, fake)):
                score, feats = d(x)
                outs[j].append(score)
                outs[2 + j].append(feats)
        return outs


def build_discriminator(cfg: dict | None) -> HiFiGANDiscriminator:
    unknown = set(cfg or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown discriminator config keys: {sorted(unknown)}")
    return HiFiGANDiscriminator(cfg)
