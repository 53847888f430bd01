"""Measured tempo of audio (librosa's tempo estimator) and how well pieces order by tempo.

`measure_tempo` runs librosa's onset strength and tempogram-based estimator (the one its beat
tracker starts from) on a mixture. The estimator picks the tempogram's peak under a log-normal
prior on tempo. Its default prior is centred on 120 BPM, so it favours a fast beat: on
SynthSlakh it read 4/4 tracks at about 70 BPM at twice their tempo. `tempo_prior(70, 140)`
centres the prior on the geometric mean of the two tempi being compared (99 BPM), one octave
wide: it then favours neither. Octave errors are not folded away: 70 and 140 BPM are an octave
apart, so folding would make them the same. They are counted instead (`octave_class`), and the
same estimator measured on real audio of known tempo gives the ceiling of the measure.

An ordering compares log-tempi (the same as comparing BPM). An equal measurement, or one that
could not be made (a silent piece), counts as half right: no ordering was shown, the value
of a coin flip. Intervals come from a bootstrap over pairs or, for two groups of clips, over
the clips of each group (`default_rng([seed, ...])`, percentiles 2.5 and 97.5).
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import torch

HOP = 256
TOLERANCE = 0.08  # a measured tempo within 8% of a multiple of the requested one has that multiple
OCTAVES = {"right": 1.0, "double": 2.0, "half": 0.5, "triple": 3.0, "third": 1 / 3, "one and a half": 1.5,
           "two thirds": 2 / 3}


def tempo_prior(slow: float, fast: float, octaves: float = 1.0) -> dict:
    """The estimator's prior for comparing `slow` with `fast`: centred between them on a log scale."""
    return {"start_bpm": float(math.sqrt(slow * fast)), "std_bpm": float(octaves)}


def measure_tempo(wave, sample_rate: int = 16000, start_bpm: float = 120.0, std_bpm: float = 1.0) -> float | None:
    """The tempo (BPM) of a mono waveform [L], or None when it has no onsets (silence)."""
    y = wave.detach().float().cpu().numpy() if torch.is_tensor(wave) else np.asarray(wave, np.float32)
    if y.ndim != 1:
        raise ValueError(f"measure_tempo takes one mono waveform [L], got shape {y.shape}")
    onsets = librosa.onset.onset_strength(y=y, sr=sample_rate, hop_length=HOP)
    if not np.isfinite(onsets).all() or onsets.max() <= 1e-6:
        return None
    return float(librosa.feature.tempo(onset_envelope=onsets, sr=sample_rate, hop_length=HOP,
                                       start_bpm=start_bpm, std_bpm=std_bpm)[0])


def octave_class(measured: float | None, requested: float, tolerance: float = TOLERANCE) -> str:
    """Which multiple of the requested tempo was measured: "right", "double", "half", ... or "other"."""
    if measured is None:
        return "none"
    for name, factor in OCTAVES.items():
        if abs(measured / (requested * factor) - 1) <= tolerance:
            return name
    return "other"


def order_score(low: float | None, high: float | None) -> float:
    """1 if `high` measured above `low`, 0 if below, 0.5 if equal or unmeasured."""
    if low is None or high is None or low == high:
        return 0.5
    return float(high > low)


def interval(values: np.ndarray, draws: int, seed: int, tag: int) -> list[float] | None:
    if draws <= 0 or len(values) < 2:
        return None
    rng = np.random.default_rng([seed, tag])
    means = values[rng.integers(0, len(values), (draws, len(values)))].mean(1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def paired_order(pairs: list[tuple[float | None, float | None]], draws: int = 1000, seed: int = 0) -> dict:
    """Pairs (measured slow, measured fast): the share ordered right, ties, unmeasured, 95% interval."""
    scores = np.array([order_score(lo, hi) for lo, hi in pairs], float)
    return {"pairs": len(pairs), "share": float(scores.mean()) if len(scores) else None,
            "ci95": interval(scores, draws, seed, 1), "ties": int(sum(lo == hi and lo is not None for lo, hi in pairs)),
            "unmeasured": int(sum(lo is None or hi is None for lo, hi in pairs))}


def group_order(slow: list[float | None], fast: list[float | None], draws: int = 1000, seed: int = 0) -> dict:
    """Two groups of clips: the share of all (slow, fast) pairs ordered right (the AUC), with a
    bootstrap over the clips of both groups."""
    if not slow or not fast:
        return {"pairs": 0, "slow": len(slow), "fast": len(fast), "share": None, "ci95": None}
    grid = np.array([[order_score(lo, hi) for hi in fast] for lo in slow], float)
    out = {"pairs": int(grid.size), "slow": len(slow), "fast": len(fast), "share": float(grid.mean()), "ci95": None}
    if draws > 0 and len(slow) >= 2 and len(fast) >= 2:
        rng = np.random.default_rng([seed, 2])
        shares = [grid[np.ix_(rng.integers(0, len(slow), len(slow)), rng.integers(0, len(fast), len(fast)))].mean()
                  for _ in range(draws)]
        out["ci95"] = [float(np.percentile(shares, 2.5)), float(np.percentile(shares, 97.5))]
    return out


def summary(measured: list[float | None], requested: float | None = None) -> dict:
    """Median (and quartiles) of measured tempi; with `requested`, the share per octave class."""
    values = np.array([m for m in measured if m is not None], float)
    out = {"pieces": len(measured), "measured": len(values),
           "median_bpm": float(np.median(values)) if len(values) else None,
           "quartiles_bpm": [float(np.percentile(values, 25)), float(np.percentile(values, 75))] if len(values) else None}
    if requested is not None:
        classes = [octave_class(m, requested) for m in measured]
        out["octave"] = {c: classes.count(c) / len(classes) for c in dict.fromkeys([*OCTAVES, "other", "none"])
                         if c in classes}
    return out
