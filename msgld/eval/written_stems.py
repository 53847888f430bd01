"""Does a written stem play with the song? Two readings of each stem an arranger wrote, against
the song's own stem at the same place (what the given stems were recorded with):

- **onset correlation**: Pearson correlation of the two stems' onset-strength envelopes
  (librosa's spectral flux, 10 ms hops). A stem that plays on the song's beat scores high;
  one from another song or from a time shift of the same song scores near 0; silence scores 0.
- **level**: 20 log10 of the written stem's RMS over the song's own (dB; 0 = as loud as the
  real part; silence reads `FLOOR_DB`).

Only stems whose real part is active (RMS above `ACTIVE_RMS`) are read: a silent original has
no beat to follow. These say nothing about timbre or harmony; they sit beside the FAD rows.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch

ACTIVE_RMS = 1e-3  # -60 dBFS
FLOOR_DB = -60.0
HOP_SECONDS = 0.01


def rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))


def onset_envelope(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    return librosa.onset.onset_strength(y=np.asarray(wave, dtype=np.float32), sr=sample_rate,
                                        hop_length=max(1, round(HOP_SECONDS * sample_rate)))


def onset_correlation(written: np.ndarray, real: np.ndarray, sample_rate: int) -> float:
    """Pearson correlation of the onset envelopes; 0 where either is flat (silence)."""
    a, b = onset_envelope(written, sample_rate), onset_envelope(real, sample_rate)
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-12 else 0.0


def level_db(written: np.ndarray, real: np.ndarray) -> float:
    w, r = rms(written), rms(real)
    return float(max(FLOOR_DB, 20 * np.log10(max(w, 1e-12) / r)))


def read_written(written: torch.Tensor, real: torch.Tensor, stems: list[str], generated: tuple[str, ...],
                 sample_rate: int) -> list[dict]:
    """Readings of the generated stems of a batch: written and real [B, S, L] -> one dict per
    (clip, stem) whose real part is active: {"stem", "onset_corr", "level_db"}."""
    out = []
    w, r = written.detach().float().cpu().numpy(), real.detach().float().cpu().numpy()
    for i in range(w.shape[0]):
        for name in generated:
            k = stems.index(name)
            if rms(r[i, k]) <= ACTIVE_RMS:
                continue
            out.append({"stem": name, "onset_corr": onset_correlation(w[i, k], r[i, k], sample_rate),
                        "level_db": level_db(w[i, k], r[i, k])})
    return out


def summarize(readings: list[dict]) -> dict:
    """{"onset_corr": mean, "level_db": median, "n": readings, "by_stem": {stem: the same}}."""
    def one(items):
        if not items:
            return {"onset_corr": None, "level_db": None, "n": 0}
        return {"onset_corr": float(np.mean([x["onset_corr"] for x in items])),
                "level_db": float(np.median([x["level_db"] for x in items])), "n": len(items)}

    stems = list(dict.fromkeys(x["stem"] for x in readings))
    return {**one(readings), "by_stem": {s: one([x for x in readings if x["stem"] == s]) for s in stems}}
