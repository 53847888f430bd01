"""Time-shifted copies of a track's stems: "musically wrong but spectrally right" audio.

A track is read as a loop: a shift `d` moves a stem's read position from `start` to
`(start + d) mod length`, so every stem keeps its own sound, key and tempo but no longer plays
in time (nor on the same chord) with the others. Shifts are drawn uniformly from
[min_shift, length - min_shift]: never close to 0 (or to a whole loop). The evaluation's
`time-shifted` control and the `stemfit` embedding's training negatives both use this.
"""

from __future__ import annotations

import numpy as np

from msgld import SAMPLE_RATE
from msgld.data.stems_dataset import Track, read_segment

MIN_SHIFT_SECONDS = 1.0


def draw_shift(rng: np.random.Generator, track_length: int, min_shift: int = int(MIN_SHIFT_SECONDS * SAMPLE_RATE)) -> int:
    """A shift in samples, uniform in [min_shift, track_length - min_shift]."""
    if track_length < 2 * min_shift + 1:
        raise ValueError(f"a track of {track_length} samples is too short for shifts of at least {min_shift}")
    return int(rng.integers(min_shift, track_length - min_shift + 1))


def read_cyclic(track: Track, stems: list[str], start: int, length: int) -> np.ndarray:
    """[S, length] from `start` with the track read as a loop (the read wraps at its end)."""
    total = track.length
    start %= total
    first = min(length, total - start)
    out = read_segment(track, stems, start, first)
    while out.shape[-1] < length:
        out = np.concatenate([out, read_segment(track, stems, 0, min(total, length - out.shape[-1]))], axis=-1)
    return out
