"""Compose one multi-track song: plan it, write each stem's notes, humanise, build MIDI.

Every random draw comes from streams of (seed, track index): the plan from "plan", each stem
from its own stream, so a track is the same whatever else is made alongside it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pretty_midi

from msgld.config import load_config
from msgld.synth.humanize import tidy, timed
from msgld.synth.patterns import Context, part_notes
from msgld.synth.plan import SongPlan, plan_song
from msgld.synth.rng import stream
from msgld.synth.styles import Library, load_library

RESOLUTION = 480  # MIDI ticks per quarter note
MAJOR_LIKE = {"major", "lydian", "mixolydian"}


@dataclass
class Song:
    plan: SongPlan
    instruments: dict[str, pretty_midi.Instrument]  # stem -> one instrument

    @property
    def stems(self) -> list[str]:
        return list(self.instruments)

    @property
    def end_time(self) -> float:
        """When the last note ends (seconds)."""
        return max((n.end for inst in self.instruments.values() for n in inst.notes), default=0.0)

    def family_bars(self, stem: str) -> dict[str, int]:
        """Bars played in each pattern family (drums: each groove), most played first."""
        part = self.plan.parts[stem]
        count: Counter = Counter()
        for fam, sec in zip(part.families, self.plan.sections):
            if fam is not None:
                count[fam] += sec.bars
        return dict(count.most_common())

    def main_family(self, stem: str) -> str:
        return next(iter(self.family_bars(stem)))

    def midi(self, stems: list[str] | None = None) -> pretty_midi.PrettyMIDI:
        plan = self.plan
        pm = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=plan.meter.qpm(plan.bpm))
        pm.time_signature_changes.append(pretty_midi.TimeSignature(plan.meter.numerator, plan.meter.denominator, 0.0))
        key = plan.tonic if plan.mode in MAJOR_LIKE else plan.tonic + 12
        pm.key_signature_changes.append(pretty_midi.KeySignature(key, 0.0))
        for stem in stems or self.stems:
            pm.instruments.append(self.instruments[stem])
        return pm


def compose(seed: int, index: int, config: dict | None = None, library: Library | None = None,
            style: str | None = None, meter: str | None = None) -> Song:
    """Song number `index` of the dataset made with `seed` (`style`/`meter` force a choice)."""
    config = config or load_config("synth", "default")
    library = library or load_library()
    plan = plan_song(stream(seed, index, "plan"), library, config, seed, index, style, meter)
    grid = plan.grid
    tick = 60.0 / (plan.meter.qpm(plan.bpm) * RESOLUTION)
    humanize = bool(config.get("humanize", True))
    instruments = {}
    for stem, part in plan.parts.items():
        ctx = Context(plan, library, stream(seed, index, stem), stem)
        notes = part_notes(ctx, part)
        timing = plan.style.timing_ms / 1000 * (0.7 if part.is_drum else 1.0)
        events = timed(notes, grid, stream(seed, index, f"{stem}/humanize") if humanize else None,
                       timing, plan.style.velocity_sd)
        inst = pretty_midi.Instrument(program=part.program, is_drum=part.is_drum, name=stem)
        inst.control_changes.append(pretty_midi.ControlChange(7, part.volume, 0.0))
        inst.control_changes.append(pretty_midi.ControlChange(10, 64, 0.0))
        inst.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for s, e, p, v in tidy(events, tick)]
        instruments[stem] = inst
    return Song(plan, instruments)
