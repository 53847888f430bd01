"""`stemfit`: a small network that tells whether the stems of a mixture belong together.

It reads THE log-mel front-end's frames of a mixture in windows of `window` frames (2.56 s by
default) and gives, per window, an embedding (`embed`, the FAD embedding `stemfit` in
`msgld.eval.embeddings`) and a logit (`forward`: > 0 means "these stems were played together,
in time"). It is trained by `msgld.training.stemfit` on mixtures of real stems against mixtures
whose stems come from time-shifted copies of their own song or from another song.

Layers: the window is normalised (its own mean and standard deviation: level does not matter),
four 3x3 convolutions with stride 2 over (time, mel), two 1-D convolutions over time (the
second dilated), mean and standard deviation over time, a linear layer to `dim` (the
embedding) and a linear head on its ReLU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_CONFIG = {"n_mels": 64, "window": 256, "hop": 64, "channels": [16, 32, 64, 64], "hidden": 128, "dim": 64}


class StemFitNet(nn.Module):
    def __init__(self, n_mels: int = 64, window: int = 256, hop: int = 64, channels=(16, 32, 64, 64),
                 hidden: int = 128, dim: int = 64):
        super().__init__()
        self.n_mels, self.window, self.hop, self.dim = n_mels, window, hop, dim
        widths = [1, *channels]
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1)
                                   for i in range(len(channels)))
        bands = n_mels
        for _ in channels:
            bands = (bands + 1) // 2
        self.time1 = nn.Conv1d(channels[-1] * bands, hidden, 3, padding=1)
        self.time2 = nn.Conv1d(hidden, hidden, 3, padding=2, dilation=2)
        self.proj = nn.Linear(2 * hidden, dim)
        self.head = nn.Linear(dim, 1)

    def embed(self, mels: torch.Tensor) -> torch.Tensor:
        """Log-mel windows [N, window, n_mels] -> embeddings [N, dim]."""
        x = mels.float()
        x = (x - x.mean((1, 2), keepdim=True)) / x.std((1, 2), keepdim=True).clamp_min(1e-3)
        x = x[:, None]
        for conv in self.convs:
            x = F.relu(conv(x))
        x = x.permute(0, 1, 3, 2).flatten(1, 2)  # [N, C, T', bands] -> [N, C * bands, T']
        x = F.relu(self.time1(x))
        x = F.relu(self.time2(x)) + x
        pooled = torch.cat([x.mean(-1), x.std(-1)], dim=-1)
        return self.proj(pooled)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """Log-mel windows [N, window, n_mels] -> logits [N] (> 0: the stems fit)."""
        return self.head(F.relu(self.embed(mels)))[:, 0]

    def windows(self, mels: torch.Tensor) -> torch.Tensor:
        """A clip's log-mels [B, T, n_mels] -> windows [B, N, window, n_mels] every `hop` frames
        (a clip shorter than one window is padded with its quietest value)."""
        if mels.shape[1] < self.window:
            pad = self.window - mels.shape[1]
            mels = F.pad(mels.transpose(1, 2), (0, pad), value=float(mels.min())).transpose(1, 2)
        return mels.unfold(1, self.window, self.hop).transpose(-1, -2)


def build_stemfit(config: dict) -> StemFitNet:
    return StemFitNet(**{**DEFAULT_CONFIG, **config})


def _register() -> None:
    from msgld.weights import register_kind

    register_kind("stemfit", build_stemfit)


_register()
