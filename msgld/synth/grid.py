"""Meters and the time grid: 16th-note steps to seconds, with swing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Meter:
    name: str  # "4/4"
    numerator: int
    denominator: int
    beats: int  # felt beats per bar
    steps_per_beat: int  # 16th-note steps in one felt beat

    @property
    def steps_per_bar(self) -> int:
        return self.beats * self.steps_per_beat

    @property
    def beat_unit(self) -> str:
        return "dotted quarter" if self.steps_per_beat == 6 else "quarter"

    def qpm(self, bpm: float) -> float:
        """Quarter notes per minute for a felt tempo (what a MIDI file stores)."""
        return bpm * self.steps_per_beat / 4

    @property
    def eighth_steps(self) -> list[int]:
        return list(range(0, self.steps_per_bar, 2))


METERS = {
    "4/4": Meter("4/4", 4, 4, beats=4, steps_per_beat=4),
    "3/4": Meter("3/4", 3, 4, beats=3, steps_per_beat=4),
    "6/8": Meter("6/8", 6, 8, beats=2, steps_per_beat=6),
}


@dataclass(frozen=True)
class Grid:
    """Step (16th note, may be fractional) -> seconds. `swing` is where the off-beat 8th falls
    inside a quarter-note beat (0.5 straight, 2/3 triplet swing); 6/8 is never swung."""

    meter: Meter
    bpm: float
    swing: float = 0.5

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.bpm

    @property
    def bar_seconds(self) -> float:
        return self.beat_seconds * self.meter.beats

    @property
    def steps_per_bar(self) -> int:
        return self.meter.steps_per_bar

    def time(self, step: float) -> float:
        spb = self.meter.steps_per_beat
        beat, pos = divmod(step, spb)
        frac = pos / spb
        if spb == 4 and self.swing != 0.5:  # piecewise-linear: [0, .5] -> [0, swing]
            frac = frac / 0.5 * self.swing if frac <= 0.5 else self.swing + (frac - 0.5) / 0.5 * (1 - self.swing)
        return (beat + frac) * self.beat_seconds
