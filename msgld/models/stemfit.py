"""`stemfit`: a small network that tells whether the stems of a mixture belong together.

Two things make stems belong together that a 64-band log-mel hardly shows: they play on the
same chord (a pitch question: the mel bands below 1 kHz are wider than a semitone) and they
play in time (an onset question). So the network reads `FitFrontEnd` features of the mixture,
every 20 ms: a 12-bin chroma from a 4096-point STFT (pitch classes, from librosa's chroma
filters) and the onset strength of 8 groups of mel bands (positive change of log energy).
Both are normalised per window by the window's own level, so loudness does not matter.

Per window of `window` frames (2.56 s by default): three 1-D convolutions over time (the last
two dilated), mean and standard deviation over time, a linear layer to `dim` (the embedding,
`embed`; the FAD embedding `stemfit` in `msgld.eval.embeddings`) and a linear head on its
ReLU (`forward`: a logit, > 0 means "these stems were played together, in time"). Trained by
`msgld.training.stemfit` on real mixtures against mixtures whose stems come from time-shifted
copies of their own song or from another song.
"""

from __future__ import annotations

import librosa
import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_CONFIG = {"sample_rate": 16000, "hop": 320, "chroma_fft": 4096, "onset_fft": 1024, "onset_bands": 8,
                  "window": 128, "window_hop": 32, "channels": 64, "dim": 64}


class FitFrontEnd(nn.Module):
    """Waveforms [B, L] -> features [B, 12 + onset_bands, L // hop]."""

    def __init__(self, sample_rate: int = 16000, hop: int = 320, chroma_fft: int = 4096, onset_fft: int = 1024,
                 onset_bands: int = 8):
        super().__init__()
        self.hop, self.chroma_fft, self.onset_fft = hop, chroma_fft, onset_fft
        chroma = librosa.filters.chroma(sr=sample_rate, n_fft=chroma_fft, n_chroma=12)
        mel = librosa.filters.mel(sr=sample_rate, n_fft=onset_fft, n_mels=8 * onset_bands, norm="slaney")
        groups = torch.from_numpy(mel).float().reshape(onset_bands, 8, -1).sum(1)
        self.register_buffer("chroma", torch.from_numpy(chroma).float(), persistent=False)
        self.register_buffer("bands", groups, persistent=False)
        self.register_buffer("window_c", torch.hann_window(chroma_fft), persistent=False)
        self.register_buffer("window_o", torch.hann_window(onset_fft), persistent=False)

    def _power(self, wave: torch.Tensor, n_fft: int, window: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, n_fft, self.hop, window=window, center=True, pad_mode="constant", return_complex=True)
        return spec.abs().square()[..., : wave.shape[-1] // self.hop]

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        wave = wave.float()
        chroma = self.chroma @ self._power(wave, self.chroma_fft, self.window_c)  # [B, 12, T]
        energy = torch.log(self.bands @ self._power(wave, self.onset_fft, self.window_o) + 1e-8)
        onset = F.relu(torch.diff(energy, dim=-1, prepend=energy[..., :1]))  # [B, bands, T]
        return torch.cat([chroma, onset], dim=1)


def normalise(windows: torch.Tensor) -> torch.Tensor:
    """Per window [N, 12 + bands, T]: chroma by the window's mean chroma energy (log1p), onsets by
    their window mean; silence stays near zero."""
    chroma, onset = windows[:, :12], windows[:, 12:]
    chroma = torch.log1p(chroma / (chroma.sum(1, keepdim=True).mean(-1, keepdim=True) / 12 + 1e-6))
    onset = onset / (onset.mean((1, 2), keepdim=True) + 1e-3)
    return torch.cat([chroma, onset], dim=1)


class StemFitNet(nn.Module):
    def __init__(self, sample_rate: int = 16000, hop: int = 320, chroma_fft: int = 4096, onset_fft: int = 1024,
                 onset_bands: int = 8, window: int = 128, window_hop: int = 32, channels: int = 64, dim: int = 64):
        super().__init__()
        self.front = FitFrontEnd(sample_rate, hop, chroma_fft, onset_fft, onset_bands)
        self.window, self.window_hop, self.dim, self.hop = window, window_hop, dim, hop
        width = 12 + onset_bands
        self.convs = nn.ModuleList([nn.Conv1d(width, channels, 5, padding=2),
                                    nn.Conv1d(channels, channels, 5, padding=4, dilation=2),
                                    nn.Conv1d(channels, channels, 5, padding=8, dilation=4)])
        self.norms = nn.ModuleList(nn.BatchNorm1d(channels) for _ in self.convs)
        self.proj = nn.Linear(2 * channels, dim)
        self.head = nn.Linear(dim, 1)

    def windows(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveforms [B, L] -> feature windows [B, N, 12 + bands, window] every `window_hop` frames
        (a clip shorter than one window is padded with silence)."""
        feats = self.front(wave)
        if feats.shape[-1] < self.window:
            feats = F.pad(feats, (0, self.window - feats.shape[-1]))
        return feats.unfold(-1, self.window, self.window_hop).permute(0, 2, 1, 3)

    def embed(self, windows: torch.Tensor) -> torch.Tensor:
        """Feature windows [N, 12 + bands, window] -> embeddings [N, dim]."""
        x = normalise(windows.float())
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            y = F.relu(norm(conv(x)))
            x = y + x if i else y
        return self.proj(torch.cat([x.mean(-1), x.std(-1)], dim=-1))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """Feature windows [N, 12 + bands, window] -> logits [N] (> 0: the stems fit)."""
        return self.head(F.relu(self.embed(windows)))[:, 0]


def build_stemfit(config: dict) -> StemFitNet:
    return StemFitNet(**{**DEFAULT_CONFIG, **config})


def _register() -> None:
    from msgld.weights import register_kind

    register_kind("stemfit", build_stemfit)


_register()
