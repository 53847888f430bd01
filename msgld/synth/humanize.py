"""From grid notes to timed MIDI notes: swing (in the grid), humanised timing and velocity,
no overlapping notes of one pitch, times on the MIDI tick grid so file and audio agree."""

from __future__ import annotations

import numpy as np

from msgld.synth.grid import Grid
from msgld.synth.patterns.common import Note

MIN_LENGTH = 0.03  # seconds


def timed(notes: list[Note], grid: Grid, rng: np.random.Generator | None, timing_s: float,
          velocity_sd: float) -> list[tuple[float, float, int, int]]:
    """[(start s, end s, pitch, velocity)], humanised when `rng` is given."""
    n = len(notes)
    starts = np.array([grid.time(x.start) + x.offset for x in notes])
    ends = np.array([grid.time(x.start + x.length) + x.offset for x in notes])
    vels = np.array([x.velocity for x in notes], dtype=float)
    if rng is not None and n:
        if timing_s > 0:
            jitter = np.clip(rng.normal(0, timing_s, n), -2.5 * timing_s, 2.5 * timing_s)
            starts, ends = starts + jitter, ends + jitter * 0.5
        if velocity_sd > 0:
            vels = vels + rng.normal(0, velocity_sd, n)
    starts = np.maximum(starts, 0.0)
    ends = np.maximum(ends, starts + MIN_LENGTH)
    vels = np.clip(np.round(vels), 1, 127).astype(int)
    return [(float(s), float(e), int(p.pitch), int(v)) for s, e, p, v in zip(starts, ends, notes, vels)]


def tidy(events: list[tuple[float, float, int, int]], tick: float) -> list[tuple[float, float, int, int]]:
    """Snap to ticks, drop duplicates, shorten a note that would overlap the next of its pitch."""
    snapped = sorted({(round(s / tick) * tick, max(round(e / tick), round(s / tick) + 1) * tick, p, v)
                      for s, e, p, v in events if 0 <= p <= 127}, key=lambda x: (x[2], x[0], -x[3]))
    unique = []
    for s, e, p, v in snapped:  # same pitch at the same time: keep the loudest (sorted first)
        if not (unique and unique[-1][2] == p and abs(unique[-1][0] - s) < 1e-9):
            unique.append((s, e, p, v))
    out = []
    for i, (s, e, p, v) in enumerate(unique):
        if i + 1 < len(unique) and unique[i + 1][2] == p and unique[i + 1][0] < e:
            e = max(s + tick, unique[i + 1][0] - tick)
        out.append((s, e, p, v))
    return sorted(out, key=lambda x: (x[0], x[2]))
