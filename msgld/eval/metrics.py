"""Separation metrics, each named by its domain.

- `si_sdr_wave` / `si_sdri_wave`: waveform SI-SDR and its improvement over the mixture with
  MSDM's protocol: 4 s windows every 2 s (at 16 kHz), the window count is MSDM's
  `ceil((L - hop_overlap) / step)` so the last window may be shorter; a window in which at most
  one source is active is skipped (silent: mean |x| < 1.5e-5). Per stem, the score is the
  mean over the kept windows in which that stem is itself active (a silent target has no
  meaningful SI-SDR; MSDM's literal average over all kept windows is dominated by that artefact).
- `si_sdr_wave_clip` / `si_sdri_wave_clip`: the same on whole clips (clips whose target is
  silent are skipped).
- `mel_mse`: the paper's Table II metric, MSE between the log-mels (THE front-end,
  `msgld.audio.mel.log_mel`) of estimate and reference, averaged over all clips.
- `log_mel_l1`: MGE-LDM's extraction metric, the mean absolute difference of the same log-mels.

eps: `si_sdr` is MSDM's `sisnr` formula with eps = 1e-8 added to the projection's numerator
and denominator and to both energies. Identical signals therefore give a large finite value
(about 10 log10(||s||^2 / eps), e.g. ~105 dB for a 4 s window at amplitude 0.1), never inf; a
silent estimate gives 0 dB. Computation is in float64.

Scores are accumulated across clips correctly: `SeparationScores.update` collects the value of
every kept window (and clip) per stem; `summary` averages at the end, so a clip with more
active windows weighs more, exactly as if all windows of all clips were pooled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from msgld import SAMPLE_RATE
from msgld.audio.mel import log_mel

EPS = 1e-8
SILENCE_THRESHOLD = 1.5e-5
WINDOW_SECONDS = 4.0
HOP_SECONDS = 2.0

SEPARATION_METRICS = ("si_sdr_wave", "si_sdri_wave", "si_sdr_wave_clip", "si_sdri_wave_clip", "mel_mse", "log_mel_l1")


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))


def si_sdr(estimate, reference, eps: float = EPS) -> torch.Tensor:
    """SI-SDR in dB over the last axis, batched: [..., L] x [..., L] -> [...] (float64).

    MSDM's formula: alpha = (<e, r> + eps) / (||r||^2 + eps), target = alpha r,
    SI-SDR = 10 log10((||target||^2 + eps) / (||target - e||^2 + eps)).
    """
    e = _as_tensor(estimate).double()
    r = _as_tensor(reference).double()
    alpha = ((e * r).sum(-1, keepdim=True) + eps) / ((r * r).sum(-1, keepdim=True) + eps)
    target = alpha * r
    noise = target - e
    return 10 * torch.log10(((target * target).sum(-1) + eps) / ((noise * noise).sum(-1) + eps))


def is_silent(x, threshold: float = SILENCE_THRESHOLD) -> torch.Tensor:
    """mean |x| < threshold over the last axis: [..., L] -> bool [...]."""
    return _as_tensor(x).abs().double().mean(-1) < threshold


def window_bounds(length: int, window: int, hop: int) -> list[tuple[int, int]]:
    """MSDM's evaluation windows: `ceil((L - (window - hop)) / hop)` windows (at least one)
    starting every `hop` samples; the last one is cut at the signal's end."""
    if window <= 0 or not 0 < hop <= window:
        raise ValueError(f"need window > 0 and 0 < hop <= window, got window={window}, hop={hop}")
    count = max(1, math.ceil((length - (window - hop)) / hop))
    return [(i * hop, min(length, i * hop + window)) for i in range(count)]


def windowed_si_sdr(
    estimates, references, mixture=None, sample_rate: int = SAMPLE_RATE,
    window_seconds: float = WINDOW_SECONDS, hop_seconds: float = HOP_SECONDS,
    threshold: float = SILENCE_THRESHOLD, eps: float = EPS,
) -> dict[str, torch.Tensor]:
    """Per-window SI-SDR of one clip, MSDM's protocol. estimates/references [S, L], mixture [L].

    Returns {"si_sdr": [W, S], "si_sdr_mix": [W, S], "active": bool [W, S], "kept": bool [W]}:
    a window is kept when at least two sources are active in it; a stem's score counts only
    where kept & active.
    """
    est, ref = _as_tensor(estimates).double(), _as_tensor(references).double()
    if est.shape != ref.shape or est.dim() != 2:
        raise ValueError(f"estimates and references must both be [S, L], got {tuple(est.shape)} and {tuple(ref.shape)}")
    mix = ref.sum(0) if mixture is None else _as_tensor(mixture).double()
    window, hop = int(round(window_seconds * sample_rate)), int(round(hop_seconds * sample_rate))
    scores, scores_mix, active = [], [], []
    for a, b in window_bounds(ref.shape[-1], window, hop):
        r = ref[:, a:b]
        scores.append(si_sdr(est[:, a:b], r, eps))
        scores_mix.append(si_sdr(mix[a:b].expand_as(r), r, eps))
        active.append(~is_silent(r, threshold))
    active_t = torch.stack(active)
    return {
        "si_sdr": torch.stack(scores), "si_sdr_mix": torch.stack(scores_mix),
        "active": active_t, "kept": active_t.sum(-1) >= 2,
    }


def mel_errors(estimates: torch.Tensor, references: torch.Tensor) -> dict[str, torch.Tensor]:
    """`mel_mse` and `log_mel_l1` over [..., L] waveforms -> [...] each (THE mel front-end)."""
    diff = log_mel(_as_tensor(estimates).float()) - log_mel(_as_tensor(references).float())
    return {"mel_mse": (diff * diff).mean((-2, -1)).double(), "log_mel_l1": diff.abs().mean((-2, -1)).double()}


@dataclass
class SeparationScores:
    """Accumulates per-window and per-clip values per stem over any number of clips."""

    stems: list[str]
    sample_rate: int = SAMPLE_RATE
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    clips: int = 0

    def __post_init__(self):
        self.values = {s: {m: [] for m in SEPARATION_METRICS} for s in self.stems}

    def update(self, estimates, references, mixture=None) -> None:
        """estimates/references [B, S, L] (or [S, L]), mixture [B, L] (default: sum of references)."""
        est, ref = _as_tensor(estimates), _as_tensor(references)
        if est.dim() == 2:
            est, ref = est[None], ref[None]
            mixture = None if mixture is None else _as_tensor(mixture)[None]
        if est.shape != ref.shape or est.shape[1] != len(self.stems):
            raise ValueError(f"estimates {tuple(est.shape)} and references {tuple(ref.shape)} "
                             f"must be [B, {len(self.stems)}, L]")
        mix = ref.sum(1) if mixture is None else _as_tensor(mixture)
        mel = mel_errors(est, ref)  # [B, S]
        clip = si_sdr(est, ref)  # [B, S]
        clip_mix = si_sdr(mix[:, None].expand_as(ref), ref)
        clip_active = ~is_silent(ref)
        for b in range(est.shape[0]):
            w = windowed_si_sdr(est[b], ref[b], mix[b], self.sample_rate)
            count = w["kept"][:, None] & w["active"]
            for j, stem in enumerate(self.stems):
                v = self.values[stem]
                sel = count[:, j]
                v["si_sdr_wave"] += w["si_sdr"][sel, j].tolist()
                v["si_sdri_wave"] += (w["si_sdr"][sel, j] - w["si_sdr_mix"][sel, j]).tolist()
                if clip_active[b, j]:
                    v["si_sdr_wave_clip"].append(float(clip[b, j]))
                    v["si_sdri_wave_clip"].append(float(clip[b, j] - clip_mix[b, j]))
                v["mel_mse"].append(float(mel["mel_mse"][b, j]))
                v["log_mel_l1"].append(float(mel["log_mel_l1"][b, j]))
            self.clips += 1

    def per_stem(self) -> dict[str, dict[str, float | None]]:
        """{stem: {metric: mean}}; None where a stem had no value (e.g. never active)."""
        return {s: {m: (float(np.mean(v)) if v else None) for m, v in vals.items()} for s, vals in self.values.items()}

    def mean(self) -> dict[str, float | None]:
        """The mean over stems of each metric (stems without a value left out)."""
        table = self.per_stem()
        out = {}
        for m in SEPARATION_METRICS:
            vals = [table[s][m] for s in self.stems if table[s][m] is not None]
            out[m] = float(np.mean(vals)) if vals else None
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        """How many windows / clips each stem's SI-SDR averages over."""
        return {s: {"windows": len(v["si_sdr_wave"]), "active_clips": len(v["si_sdr_wave_clip"])}
                for s, v in self.values.items()}
