"""Small synthetic multi-track folders in the Slakh layout, for tests and quick runs.

```
root/
  train/ Track00000/ bass.wav drums.wav guitar.wav piano.wav
  test/  Track00000/ ...
```

Each track: a random tempo; bass notes and piano chords of decaying harmonic tones, guitar
plucks (silent over the second half of every third track, so silence handling is exercised), and
drums from a pitched-down sine kick, noise snare and short noise hi-hats. Deterministic in
`seed`. Not music of any quality: signals with the structure the metrics need.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from msgld import SAMPLE_RATE
from msgld.audio.io import save_audio

SLAKH_STEMS = ("bass", "drums", "guitar", "piano")


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _tone(f0: float, seconds: float, sr: int, harmonics: int, decay: float, bright: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    for k in range(1, harmonics + 1):
        if f0 * k < sr / 2:
            out += bright ** (k - 1) * np.sin(2 * np.pi * f0 * k * t)
    attack = np.minimum(1.0, t / 0.005)
    return out * attack * np.exp(-t / decay)


def _place(track: np.ndarray, sound: np.ndarray, start: int) -> None:
    end = min(track.size, start + sound.size)
    if start < end:
        track[start:end] += sound[: end - start]


def synth_track(rng: np.random.Generator, seconds: float, sr: int, silent_guitar: bool) -> dict[str, np.ndarray]:
    n = int(seconds * sr)
    beat = 60.0 / rng.uniform(90, 140)
    beats = int(seconds / beat) + 1
    root = int(rng.integers(0, 12))
    stems = {s: np.zeros(n) for s in SLAKH_STEMS}
    for b in range(beats):
        at = int(b * beat * sr)
        note = 36 + root + int(rng.choice([0, 3, 5, 7, 10]))
        _place(stems["bass"], 0.25 * _tone(_midi_hz(note), beat, sr, 5, beat / 2, 0.5), at)
        kick_t = np.arange(int(0.15 * sr)) / sr
        kick = np.sin(2 * np.pi * (50 * kick_t + 70 * 0.03 * (1 - np.exp(-kick_t / 0.03)))) * np.exp(-kick_t / 0.05)
        if b % 2 == 0:
            _place(stems["drums"], 0.5 * kick, at)
        else:
            snare_t = np.arange(int(0.12 * sr)) / sr
            _place(stems["drums"], 0.2 * rng.standard_normal(snare_t.size) * np.exp(-snare_t / 0.04), at)
        hat = rng.standard_normal(int(0.03 * sr))
        hat = np.diff(hat, prepend=0.0) * np.exp(-np.arange(hat.size) / (0.008 * sr))
        _place(stems["drums"], 0.05 * hat, at)
        _place(stems["drums"], 0.05 * hat, at + int(beat * sr / 2))
        if b % 4 == 0:
            for interval in (12, 16, 19):
                f = _midi_hz(48 + root + interval)
                _place(stems["piano"], 0.07 * _tone(f, 4 * beat, sr, 6, beat, 0.4), at)
        for half in range(2):
            g_note = 52 + root + int(rng.choice([0, 2, 4, 7, 9, 12]))
            _place(stems["guitar"], 0.1 * _tone(_midi_hz(g_note), beat / 2, sr, 8, beat / 6, 0.7), at + int(half * beat * sr / 2))
    if silent_guitar:
        stems["guitar"][n // 2 :] = 0.0
    return {s: w.astype(np.float32) for s, w in stems.items()}


def make_multitrack_folder(
    root: str | Path,
    tracks: dict[str, int] | None = None,
    seconds: float = 8.0,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
) -> Path:
    """Write `{root}/{split}/TrackNNNNN/{stem}.wav` for each split's track count; returns root."""
    root = Path(root)
    tracks = tracks if tracks is not None else {"train": 3, "test": 4}
    for split_index, (split, count) in enumerate(sorted(tracks.items())):
        for i in range(count):
            rng = np.random.default_rng([seed, split_index, i])
            stems = synth_track(rng, seconds, sample_rate, silent_guitar=(i % 3 == 2))
            for stem, wave in stems.items():
                save_audio(root / split / f"Track{i:05d}" / f"{stem}.wav", wave, sample_rate)
    return root
