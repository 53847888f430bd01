"""A song's plan: style, meter, tempo, key, form (sections with chords), and per stem the
program and the pattern family of every section. Drawn from the track's "plan" stream."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from msgld.synth import progressions
from msgld.synth.grid import METERS, Grid, Meter
from msgld.synth.rng import uniform, weighted
from msgld.synth.styles import PROGRAM_RANGES, STEMS, Library, Style
from msgld.synth.theory import Chord, color, key_name, parse_roman, uses_flats, with_flavour

ENERGY = {"intro": 0.35, "verse": 0.55, "chorus": 0.85, "bridge": 0.65, "outro": 0.45}
FORM_CYCLE = ["verse", "chorus", "verse", "chorus", "bridge", "chorus", "verse", "chorus"]


@dataclass(frozen=True)
class ChordSpan:
    start: int  # absolute step
    end: int
    chord: Chord
    numeral: str


@dataclass
class Section:
    name: str
    start_bar: int
    bars: int
    energy: float
    progression: str  # library name or "generated"
    numerals: list[str]
    fill: bool = False  # a drum fill in the last bar

    def energy_level(self) -> str:
        return "low" if self.energy < 0.45 else "mid" if self.energy < 0.75 else "high"


@dataclass
class Part:
    stem: str
    program: int  # GM program, or drum kit for drums
    is_drum: bool
    volume: int  # MIDI CC7
    families: list[str | None]  # per section; None: the part rests


@dataclass
class SongPlan:
    seed: int
    index: int
    style: Style
    meter: Meter
    bpm: int
    swing: float
    tonic: int
    mode: str
    sections: list[Section]
    chords: list[ChordSpan]
    parts: dict[str, Part]
    harmonic_rhythm: float
    _starts: list[int] = field(default_factory=list, repr=False)

    @property
    def grid(self) -> Grid:
        return Grid(self.meter, float(self.bpm), self.swing)

    @property
    def bars(self) -> int:
        return sum(s.bars for s in self.sections)

    @property
    def end_step(self) -> int:
        return self.bars * self.meter.steps_per_bar

    @property
    def duration(self) -> float:
        """Seconds of music (without the release tail)."""
        return self.bars * self.grid.bar_seconds

    @property
    def key(self) -> str:
        return key_name(self.tonic, self.mode)

    @property
    def flats(self) -> bool:
        return uses_flats(self.tonic, self.mode)

    def chord_at(self, step: float) -> ChordSpan:
        if not self._starts:
            self._starts = [c.start for c in self.chords]
        i = bisect.bisect_right(self._starts, step) - 1
        return self.chords[max(0, min(i, len(self.chords) - 1))]

    def next_chord(self, span: ChordSpan) -> ChordSpan:
        return self.chord_at(span.end) if span.end < self.end_step else span

    def section_steps(self, section: Section) -> tuple[int, int]:
        spb = self.meter.steps_per_bar
        return section.start_bar * spb, (section.start_bar + section.bars) * spb


def plan_form(rng: np.random.Generator, target_bars: int, cycle_bars: int) -> list[tuple[str, int]]:
    """[(section name, bars)] adding up to `target_bars`."""
    form = []
    remaining = target_bars
    intro = int(rng.choice([0, 2, 2, 4])) if target_bars >= 10 else 0
    if intro:
        form.append(("intro", intro))
        remaining -= intro
    unit = cycle_bars if 4 < cycle_bars <= 12 else 4
    i = 0
    while remaining > 0:
        if remaining <= min(unit, 4) + 2 and form:
            form.append(("outro", remaining))
            break
        name = FORM_CYCLE[i % len(FORM_CYCLE)]
        bars = unit if unit > 4 else (8 if remaining >= 14 and rng.random() < 0.6 else 4)
        if name == "bridge":
            bars = 4 if unit <= 4 else unit
        bars = min(bars, remaining)
        form.append((name, bars))
        remaining -= bars
        i += 1
    return form


def chord_spans(sections: list[Section], spb: int, hr: float, tonic: int, style: Style, rng) -> list[ChordSpan]:
    """Each section cycles through its progression, one chord per `hr` bars."""
    span = max(1, int(round(hr * spb)))
    cache: dict[str, Chord] = {}
    out = []
    for si, sec in enumerate(sections):
        start, end = sec.start_bar * spb, (sec.start_bar + sec.bars) * spb
        numerals = sec.numerals
        k = 0
        for s in range(start, end, span):
            numeral = numerals[k % len(numerals)]
            if si == len(sections) - 1 and s + span >= end:  # the song ends on the tonic
                numeral = numerals[0]
            k += 1
            key = f"{numeral}@{si}"
            if key not in cache:
                chord = with_flavour(parse_roman(numeral, tonic), style.chords)
                if rng.random() < style.color:
                    chord = color(chord, rng)
                cache[key] = chord
            out.append(ChordSpan(s, min(s + span, end), cache[key], numeral))
    return out


def draw_stems(rng: np.random.Generator, style: Style, min_stems: int) -> list[str]:
    present = [s for s in STEMS if rng.random() < style.stems.get(s, 1.0)]
    for s in sorted(STEMS, key=lambda s: -style.stems.get(s, 1.0)):  # most likely first
        if len(present) >= min_stems:
            break
        if s not in present:
            present.append(s)
    return [s for s in STEMS if s in present]


def draw_families(rng: np.random.Generator, stem: str, style: Style, sections: list[Section],
                  meter: Meter, library: Library) -> list[str | None]:
    if stem == "drums":
        names = style.grooves[meter.name]
        main = names[int(rng.integers(len(names)))]
        alt = names[int(rng.integers(len(names)))]
        fams = [alt if (s.name in ("chorus", "bridge") and rng.random() < 0.4) else main for s in sections]
    else:
        weights = dict(style.families[stem])
        if meter.name == "6/8":
            weights.pop("walking", None)
        weights = weights or {"roots": 1.0}
        main = weighted(rng, weights)
        alt = weighted(rng, weights)
        fams = []
        for s in sections:
            p_alt = {"chorus": 0.35, "bridge": 0.5}.get(s.name, 0.0)
            fams.append(alt if rng.random() < p_alt else main)
    for i, s in enumerate(sections):  # intros and outros sometimes leave a part out
        if s.name in ("intro", "outro") and rng.random() < 0.3:
            fams[i] = None
    if all(f is None for f in fams):
        fams[-1] = main
    return fams


def plan_song(rng: np.random.Generator, library: Library, config: dict, seed: int, index: int,
              style_name: str | None = None, meter_name: str | None = None) -> SongPlan:
    style = library.styles[style_name] if style_name else library.styles[
        weighted(rng, {n: s.weight for n, s in library.styles.items()})]
    meter = METERS[meter_name or weighted(rng, style.meters)]
    lo, hi = style.tempo_range(meter.name)
    bpm = int(round(uniform(rng, lo, hi)))
    swing = round(uniform(rng, *style.swing), 3) if meter.steps_per_beat == 4 else 0.5
    tonic = int(rng.integers(12))
    mode = weighted(rng, style.modes)
    hr = float(weighted(rng, style.harmonic_rhythm))
    if meter.name == "6/8" and hr == 0.5:
        hr = 1.0
    target = uniform(rng, *config["duration_range"])
    bar_s = Grid(meter, float(bpm), swing).bar_seconds
    target_bars = max(4, int(round(target / bar_s)))

    verse = progressions.choose(rng, library, style, mode)
    chorus = progressions.choose(rng, library, style, mode, exclude=(verse[0],))
    bridge = progressions.choose(rng, library, style, mode, exclude=(verse[0], chorus[0]))
    by_name = {"intro": chorus if rng.random() < 0.5 else verse, "verse": verse, "chorus": chorus,
               "bridge": bridge, "outro": chorus}
    cycle_bars = int(math.ceil(len(verse[1]) * hr))
    sections, bar = [], 0
    for name, bars in plan_form(rng, target_bars, cycle_bars):
        prog = by_name[name]
        energy = float(np.clip(ENERGY[name] + rng.normal(0, 0.06), 0.2, 1.0))
        sections.append(Section(name, bar, bars, energy, prog[0], list(prog[1])))
        bar += bars
    for i, s in enumerate(sections[:-1]):
        s.fill = bool(rng.random() < style.fill or sections[i + 1].name == "chorus")
    chords = chord_spans(sections, meter.steps_per_bar, hr, tonic, style, rng)

    parts = {}
    vol_lo, vol_hi = config["render"]["volume"]
    for stem in draw_stems(rng, style, int(config.get("min_stems", 2))):
        if stem == "drums":
            program = int(weighted(rng, style.kits))
        else:
            table = {p: style.programs[stem].get(p, 0.0) for p in PROGRAM_RANGES[stem]}
            program = int(weighted(rng, table, floor=float(config.get("program_floor", 0.0))))
        volume = int(rng.integers(vol_lo, vol_hi + 1))
        fams = draw_families(rng, stem, style, sections, meter, library)
        parts[stem] = Part(stem, program, stem == "drums", volume, fams)
    return SongPlan(seed, index, style, meter, bpm, swing, tonic, mode, sections, chords, parts, hr)
