"""Mixture-phase reconstruction: per-stem mel estimates -> waveforms that sum to the mixture,
at the mixture's own sample rate and on each of its channels.

The mel estimates give ratio masks per mel band (they sum to one over stems). The mixture's
STFT is taken at its own rate with THE front-end's window and hop scaled by rate / 16000
(`StftGrid`), so one STFT frame covers the time of one mel frame; the masks are sampled at each
frame's time (linear interpolation between mel frames) and each linear bin up to 8 kHz takes
the filter-weighted average of the mel bands that cover it. Bins above the front-end's 8 kHz
(which the model never saw) take a `high_band` rule:

- `flat`: the top mel band's masks, held flat up to Nyquist;
- `band`: each stem's share of the 6-8 kHz mel energy (the top six bands together);
- `dominant`: all of it to the stem with the most 6-8 kHz mel energy in that frame;
- `slope`: each stem's log-mel over 4-8 kHz fitted by a line in log frequency (slope clamped to
  <= 0), extrapolated to every bin, and the ratios taken there.

Every rule gives masks that sum to one over stems in every bin, and the inverse STFT is linear,
so the stems add up to the mixture to float precision at any rate and channel count. At 16 kHz
the grid is the front-end's own and the result is today's 16 kHz reconstruction.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import librosa
import torch

from msgld.audio.mel import MelConfig, MelFrontEnd

HIGH_BANDS = ("flat", "band", "dominant", "slope")
BAND_HZ = (6000.0, 8000.0)  # the band whose energy `band` and `dominant` read
SLOPE_HZ = (4000.0, 8000.0)  # the bands `slope` fits


@dataclass(frozen=True)
class StftGrid:
    """An STFT at `sample_rate` whose window and hop span the front-end's (64 ms, 10 ms); the
    FFT size is the window's rounded up to a fast length (2^a 3^b 5^c)."""

    sample_rate: int
    n_fft: int
    hop_length: int
    mel: MelConfig = MelConfig()
    win_length: int | None = None  # None: n_fft

    @classmethod
    def for_rate(cls, sample_rate: int, mel: MelConfig | None = None) -> "StftGrid":
        mel = mel or MelConfig()
        ratio = sample_rate / mel.sample_rate
        if sample_rate == mel.sample_rate:
            return cls(mel.sample_rate, mel.n_fft, mel.hop_length, mel, mel.win_length)
        win = 2 * max(1, round(mel.win_length * ratio / 2))
        return cls(int(sample_rate), fast_length(win), max(1, round(mel.hop_length * ratio)), mel, win)

    @property
    def n_freq(self) -> int:
        return self.n_fft // 2 + 1

    def frame_positions(self, frames: int, offset: int = 0) -> torch.Tensor:
        """Where STFT frames 0..frames-1 of a signal starting at sample `offset` sit on the mel
        frame axis (mel frame t is centred at t * mel hop / mel rate seconds)."""
        samples = offset + torch.arange(frames, dtype=torch.float64) * self.hop_length
        return samples * self.mel.sample_rate / (self.sample_rate * self.mel.hop_length)  # exact at 16 kHz

    def _kw(self, device) -> dict:
        win = self.win_length or self.n_fft
        return {"n_fft": self.n_fft, "hop_length": self.hop_length, "win_length": win,
                "window": torch.hann_window(win, periodic=True, device=device), "center": True}

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """Complex STFT [..., n_freq, L // hop + 1] (reflect-centred, periodic Hann)."""
        lead = wave.shape[:-1]
        flat = wave.reshape(-1, wave.shape[-1]).float()
        spec = torch.stft(flat, **self._kw(flat.device), pad_mode="reflect", return_complex=True)
        return spec.reshape(*lead, *spec.shape[-2:])

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        lead = spec.shape[:-2]
        flat = spec.reshape(-1, *spec.shape[-2:])
        wave = torch.istft(flat, **self._kw(flat.device), length=length)
        return wave.reshape(*lead, length)


def fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (FFTs of such sizes are fast)."""
    m = n
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def _band_layout(grid: StftGrid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """`_cached_band_layout`, made outside inference mode: a cached tensor first made under
    `torch.inference_mode` (evaluation) could not take part in training later (the refiner's
    loss goes through these masks)."""
    with torch.inference_mode(False):
        return _cached_band_layout(grid)


@lru_cache(maxsize=16)
def _cached_band_layout(grid: StftGrid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(spread [n_freq, n_mels]: rows summing to one for the bins up to f_max, zero above;
    high: bool [n_freq], the bins above f_max; bin frequencies [n_freq]; band centres [n_mels])."""
    cfg = grid.mel
    with warnings.catch_warnings():  # below 16 kHz the top bands lie above Nyquist: empty, as they should be
        warnings.simplefilter("ignore")
        basis = librosa.filters.mel(sr=grid.sample_rate, n_fft=grid.n_fft, n_mels=cfg.n_mels, fmin=cfg.f_min,
                                    fmax=cfg.f_max, htk=False, norm="slaney")
    weights = torch.from_numpy(basis).float().T.clone()  # [n_freq, n_mels]
    freqs = torch.from_numpy(librosa.fft_frequencies(sr=grid.sample_rate, n_fft=grid.n_fft)).float()
    centres = torch.from_numpy(librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max,
                                                       htk=False)[1:-1]).float()
    high = freqs > cfg.f_max + 1e-3
    weights[high] = 0.0
    total = weights.sum(dim=1)
    for f in torch.nonzero((total <= 0) & ~high).flatten().tolist():  # DC, Nyquist at 16 kHz: the nearest band
        weights[f, int(torch.argmin((centres - freqs[f]).abs()))] = 1.0
    total = weights.sum(dim=1, keepdim=True)
    spread = torch.where(total > 0, weights / total.clamp(min=1e-12), weights)
    return spread, high, freqs, centres


def mel_to_linear_weights(cfg: MelConfig) -> torch.Tensor:
    """[n_freq, n_mels] weights at the front-end's own rate, each row summing to one, that
    spread mel-band values to STFT bins (bins no filter covers take the nearest band)."""
    return _band_layout(StftGrid.for_rate(cfg.sample_rate, cfg))[0].clone()


def mel_ratio_masks(stem_log_mels: torch.Tensor, stem_dim: int = -3, power: float = 1.0) -> torch.Tensor:
    """Ratio masks over stems from log-mels [..., S, T, F] (stem axis at `stem_dim`): each
    stem's mel magnitude to the `power`, over their sum (1: magnitude ratios; 2: power ratios,
    Wiener-like and harder; below 1 softer)."""
    return torch.softmax(power * stem_log_mels.float(), dim=stem_dim)


def high_band_masks(stem_log_mels: torch.Tensor, rule: str, centres: torch.Tensor,
                    freqs: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Masks for bins above f_max, [..., S, T, H] (H = 1 for a rule that is flat in frequency,
    else one per frequency in `freqs` [H]); they sum to one over S. `power` applies to `flat`."""
    if rule not in HIGH_BANDS:
        raise ValueError(f"unknown high-band rule {rule!r}; choose one of {list(HIGH_BANDS)}")
    logm = stem_log_mels.float()
    if rule == "flat":
        return mel_ratio_masks(logm[..., -1:], power=power)
    if rule in ("band", "dominant"):
        sel = (centres >= BAND_HZ[0]) & (centres <= BAND_HZ[1])
        energy = torch.exp(2 * logm[..., sel]).sum(-1, keepdim=True)  # [..., S, T, 1]
        if rule == "band":
            return energy / energy.sum(-3, keepdim=True).clamp(min=1e-30)
        return torch.nn.functional.one_hot(energy.argmax(-3), logm.shape[-3]).movedim(-1, -3).float()
    sel = (centres >= SLOPE_HZ[0]) & (centres <= SLOPE_HZ[1])
    x = torch.log2(centres[sel]).to(logm.device)
    y = logm[..., sel]
    xc = x - x.mean()
    slope = ((y - y.mean(-1, keepdim=True)) * xc).sum(-1, keepdim=True) / (xc * xc).sum()
    slope = slope.clamp(max=0.0)
    at_top = y.mean(-1, keepdim=True) + slope * (math.log2(float(centres[sel][-1])) - x.mean())
    octaves = torch.log2(freqs.to(logm.device) / float(centres[sel][-1]))  # [H]
    return torch.softmax(at_top + slope * octaves, dim=-3)


class MaskReconstructor(torch.nn.Module):
    """Apply per-stem mel ratio masks to a mixture's STFT at its own rate and invert."""

    def __init__(self, cfg: MelConfig | None = None, high_band: str = "flat", power: float = 1.0):
        super().__init__()
        self.front = MelFrontEnd(cfg)
        if high_band not in HIGH_BANDS:
            raise ValueError(f"unknown high-band rule {high_band!r}; choose one of {list(HIGH_BANDS)}")
        if not power > 0:
            raise ValueError(f"mask power must be above 0, got {power}")
        self.high_band = high_band
        self.power = float(power)

    def grid(self, sample_rate: int | None) -> StftGrid:
        return StftGrid.for_rate(sample_rate or self.front.cfg.sample_rate, self.front.cfg)

    def linear_masks(self, stem_log_mels: torch.Tensor, grid: StftGrid, frames: int, offset: int = 0,
                     high_band: str | None = None) -> torch.Tensor:
        """log-mels [..., S, T, n_mels] -> masks [..., S, n_freq, frames] for the STFT frames of
        a signal at `grid`'s rate starting at sample `offset` (beyond the last mel frame, the
        last is held)."""
        spread, high, freqs, centres = (t.to(stem_log_mels.device) for t in _band_layout(grid))
        pos = grid.frame_positions(frames, offset)
        t = stem_log_mels.shape[-2]
        lo = pos.floor().clamp(0, t - 1).long()
        hi = (lo + 1).clamp(max=t - 1)
        frac = (pos - pos.floor()).clamp(0, 1).float().to(stem_log_mels.device)[:, None]
        first, last = int(lo.min()), int(hi.max()) + 1
        logm = stem_log_mels[..., first:last, :]  # only the mel frames this signal needs
        lo, hi = (lo - first).to(logm.device), (hi - first).to(logm.device)

        def at_frames(m):  # [..., S, T', K] -> [..., S, frames, K], linear in time
            return m[..., lo, :] * (1 - frac) + m[..., hi, :] * frac

        masks = at_frames(mel_ratio_masks(logm, power=self.power)) @ spread.T  # [..., S, frames, n_freq]
        if high.any():
            upper = at_frames(high_band_masks(logm, high_band or self.high_band, centres, freqs[high], self.power))
            masks[..., high] = upper.expand(*upper.shape[:-1], int(high.sum()))
        return masks.transpose(-1, -2)

    def forward(self, stem_log_mels: torch.Tensor, mixture: torch.Tensor, sample_rate: int | None = None,
                offset: int = 0, high_band: str | None = None) -> torch.Tensor:
        """stem_log_mels [..., S, T, F] (mel frames from sample `offset` of the mixture's
        timeline), mixture [..., L] at `sample_rate` (default: the front-end's) -> stems [..., S, L]."""
        grid = self.grid(sample_rate)
        spec = grid.stft(mixture).unsqueeze(-3)  # [..., 1, n_freq, frames]
        masks = self.linear_masks(stem_log_mels, grid, spec.shape[-1], offset, high_band)
        return grid.istft(spec * masks, length=mixture.shape[-1])


    def per_channel(self, stem_log_mels: torch.Tensor, mixture: torch.Tensor, sample_rate: int | None = None,
                    offset: int = 0, high_band: str | None = None) -> torch.Tensor:
        """The same for a multi-channel mixture [C, L] and one set of log-mels [S, T, F] -> [S, C, L]:
        the masks are made once and the channels inverted one at a time (flat memory in C). The
        last stem is the mixture minus the others (its mask is one minus theirs, and the inverse
        STFT is linear): one inverse STFT fewer, and the sum is the mixture to the last bit."""
        grid = self.grid(sample_rate)
        spec = grid.stft(mixture)  # [C, n_freq, frames]
        masks = self.linear_masks(stem_log_mels, grid, spec.shape[-1], offset, high_band)[:-1]
        length = mixture.shape[-1]
        out = torch.empty(masks.shape[0] + 1, spec.shape[0], length, dtype=mixture.dtype, device=mixture.device)
        for c in range(spec.shape[0]):
            for k in range(masks.shape[0]):  # one stem at a time: the inverse STFT's buffers stay small
                out[k, c] = grid.istft(spec[c] * masks[k], length=length)
            out[-1, c] = mixture[c] - out[:-1, c].sum(0)
        return out


def oracle_mel_mask(stems: torch.Tensor, mixture: torch.Tensor | None = None, cfg: MelConfig | None = None) -> torch.Tensor:
    """Separate the mixture with ratio masks from the true stems' mel magnitudes [..., S, L]."""
    rec = MaskReconstructor(cfg).to(stems.device)
    if mixture is None:
        mixture = stems.sum(dim=-2)
    return rec(rec.front(stems), mixture)


def native_oracle_log_mels(stems: torch.Tensor, sample_rate: int, cfg: MelConfig | None = None) -> torch.Tensor:
    """The true stems' 16 kHz mono log-mels (what a perfect model would estimate): stems
    [S, C, L] or [S, L] at `sample_rate` -> [S, T, n_mels] (channels averaged, then resampled)."""
    from msgld.audio.io import resample

    front = MelFrontEnd(cfg)
    mono = stems.float().mean(-2) if stems.dim() == 3 else stems.float()
    down = torch.from_numpy(resample(mono.cpu().numpy(), sample_rate, front.cfg.sample_rate))
    return front(down.to(front.window.device))
