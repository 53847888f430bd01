"""What every pattern generator shares: the Note record, the part context, rhythm-cell tiling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msgld.synth.plan import ChordSpan, Section, SongPlan
from msgld.synth.styles import Cell, Library


@dataclass(slots=True)
class Note:
    start: float  # grid steps (16th notes) from the song's start
    length: float  # grid steps
    pitch: int
    velocity: int
    offset: float = 0.0  # seconds added after the grid (strum spread)


@dataclass
class Context:
    plan: SongPlan
    library: Library
    rng: np.random.Generator
    stem: str

    @property
    def spb(self) -> int:
        return self.plan.meter.steps_per_bar

    @property
    def meter(self) -> str:
        return self.plan.meter.name

    @property
    def style(self) -> str:
        return self.plan.style.name

    def cell(self, kind: str, family: str, section: Section) -> Cell:
        cells = self.library.cells(kind, family, self.meter, self.style, section.energy_level())
        return cells[int(self.rng.integers(len(cells)))]


def velocity(base: float, energy: float, accent: float = 0.0) -> int:
    return int(np.clip(round(base * (0.72 + 0.4 * energy) + accent), 1, 127))


def tile(cell: Cell, start: int, end: int):
    """(absolute step, length, symbol) of `cell` repeated from `start` up to `end`."""
    for rep_start in range(start, end, cell.steps):
        for s, length, sym in cell.events:
            step = rep_start + s
            if step < end:
                yield step, min(length, end - step), sym


def split_at_changes(plan: SongPlan, step: int, length: float) -> list[tuple[int, float, ChordSpan]]:
    """Cut [step, step+length) where the chord changes: [(start, length, span)]."""
    out = []
    end = step + length
    s = step
    while s < end:
        span = plan.chord_at(s)
        e = min(end, span.end)
        out.append((s, e - s, span))
        s = e
    return out


def downbeat_accent(step: int, plan: SongPlan) -> float:
    spb, spbeat = plan.meter.steps_per_bar, plan.meter.steps_per_beat
    if step % spb == 0:
        return 8.0
    if step % spbeat == 0:
        return 3.0
    return -4.0 if step % 2 else 0.0
