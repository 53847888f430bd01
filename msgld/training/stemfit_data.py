"""Training examples for `stemfit`: windows of real mixtures (label 1) against mixtures in which
some stems come from elsewhere (label 0).

Every example is drawn from `rng` alone (the trainer seeds one per step), so a run is
repeatable and resumable. A window: a random track and start; each stem kept with
probability 1 - mute (at least one), then gains of U(-9, +3) dB per stem. Half the examples
stay real. The others replace a random non-empty proper subset of the audible, active stems
with the same stems read at a time shift of the same song (`shift`, `msgld.data.shifts`) or
with the same stems of another song (`swap`); a fake needs an active stem on both sides, and
an example that cannot have one (fewer than two active stems) stays real. A fourth kind,
`mute` (off by default), leaves such a subset out instead: with `mute=0` (every stem of a
real example audible) the network learns that an arrangement with stems missing is not the
real thing (`stemfit-complete`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from msgld import SAMPLE_RATE
from msgld.config import load_config
from msgld.data.shifts import draw_shift, read_cyclic
from msgld.data.stems_dataset import read_segment, scan_split
from msgld.eval.metrics import SILENCE_THRESHOLD

KINDS = ("real", "shift", "swap", "mute")


class FitExamples:
    def __init__(self, root: str | Path, split: str = "train", preset: str = "slakh2100", stems: list[str] | None = None,
                 window: int = int(2.56 * SAMPLE_RATE), mute: float = 0.2, kind_p=(0.5, 0.25, 0.25, 0.0),
                 gain_db=(-9.0, 3.0)):
        self.stems = list(stems or load_config("data", preset)["stems"])
        self.tracks = [t for t in scan_split(Path(root), split, self.stems) if t.length > window + 2 * SAMPLE_RATE]
        if len(self.tracks) < 2:
            raise ValueError(f"{root}/{split}: stemfit needs at least two tracks longer than {window / SAMPLE_RATE + 2} s")
        kind_p = np.asarray(list(kind_p) + [0.0] * (len(KINDS) - len(kind_p)), float)
        if kind_p.shape != (len(KINDS),) or (kind_p < 0).any() or kind_p.sum() <= 0 or not 0 <= mute < 1:
            raise ValueError(f"stemfit examples: kind_p must be {len(KINDS)} non-negative weights for {KINDS} "
                             f"and mute a probability below 1, got {kind_p.tolist()} and {mute}")
        self.window, self.mute, self.kind_p, self.gain_db = window, mute, kind_p, gain_db

    def settings(self) -> dict:
        return {"split_tracks": len(self.tracks), "stems": self.stems, "window_seconds": self.window / SAMPLE_RATE,
                "mute": self.mute, "kind_p": dict(zip(KINDS, self.kind_p.tolist())), "gain_db": list(self.gain_db)}

    def _active(self, stems: np.ndarray) -> np.ndarray:
        return np.abs(stems).mean(-1) >= SILENCE_THRESHOLD

    def example(self, rng: np.random.Generator) -> tuple[np.ndarray, int, str]:
        """(mixture [window], label, kind)."""
        t = int(rng.integers(len(self.tracks)))
        track, w, count = self.tracks[t], self.window, len(self.stems)
        start = int(rng.integers(0, track.length - w + 1))
        stems = read_segment(track, self.stems, start, w)
        audible = rng.random(count) >= self.mute
        if not audible.any():
            audible[rng.integers(count)] = True
        kind = KINDS[int(rng.choice(len(KINDS), p=self.kind_p / self.kind_p.sum()))]
        candidates = np.flatnonzero(audible & self._active(stems))
        if candidates.size < 2:
            kind = "real"
        elif kind == "mute":
            order = rng.permutation(candidates)
            audible[order[: int(rng.integers(1, candidates.size))]] = False
        elif kind != "real":
            for _ in range(4):
                order = rng.permutation(candidates)
                moved = sorted(order[: int(rng.integers(1, candidates.size))].tolist())
                names = [self.stems[i] for i in moved]
                if kind == "shift":
                    other = read_cyclic(track, names, start + draw_shift(rng, track.length), w)
                else:
                    donor = self.tracks[(t + int(rng.integers(1, len(self.tracks)))) % len(self.tracks)]
                    other = read_segment(donor, names, int(rng.integers(0, donor.length - w + 1)), w)
                if self._active(other).any():
                    stems[moved] = other
                    break
            else:
                kind = "real"
        gains = 10 ** (rng.uniform(*self.gain_db, count) / 20) * audible
        return (stems * gains[:, None].astype(np.float32)).sum(0), int(kind == "real"), kind

    def batch(self, rng: np.random.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """(mixtures [size, window], labels [size] float, kinds)."""
        items = [self.example(rng) for _ in range(size)]
        return (torch.from_numpy(np.stack([m for m, _, _ in items])),
                torch.tensor([y for _, y, _ in items], dtype=torch.float32), [k for _, _, k in items])
