"""The composer's data: styles, drum grooves, chord progressions and rhythm cells, read from
`msgld/configs/synth/*.yaml` and checked once."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from msgld.config import CONFIG_ROOT
from msgld.synth.grid import METERS
from msgld.synth.theory import MODES, parse_roman

DATA_DIR = CONFIG_ROOT / "synth"
STEMS = ("bass", "drums", "guitar", "piano")
FAMILIES = {
    "bass": ("roots", "octaves", "walking", "syncopated"),
    "guitar": ("strum", "power", "arpeggio", "lead", "comping"),
    "piano": ("block", "comping", "arpeggio", "melody"),
}
PROGRAM_RANGES = {"bass": range(32, 40), "guitar": range(24, 32), "piano": range(0, 8)}
DRUM_VELOCITY = {"X": 118, "x": 96, "o": 66, "g": 34}
DRUM_LANES = {
    "kick": 36, "snare": 38, "rim": 37, "clap": 39, "hat": 42, "pedal": 44, "open": 46,
    "ride": 51, "bell": 53, "crash": 49, "tom_hi": 50, "tom_mid": 47, "tom_lo": 45, "floor": 41,
    "shaker": 70, "tamb": 54, "cowbell": 56, "conga_hi": 62, "conga_lo": 64, "claves": 75,
}


@dataclass(frozen=True)
class Cell:
    """A rhythm over `steps` 16th steps: (start step, length in steps, symbol) per event."""

    events: tuple[tuple[int, int, str], ...]
    steps: int
    energy: str | None = None
    styles: tuple[str, ...] | None = None


def parse_cell(text: str, steps_per_bar: int, where: str = "cell") -> Cell:
    """A pattern string: one char per 16th step, or per 8th when half a bar long multiple."""
    n = len(text)
    if n and n % steps_per_bar == 0:
        unit = 1
    elif n and (2 * n) % steps_per_bar == 0:
        unit = 2
    else:
        raise ValueError(f"{where}: {text!r} has {n} steps, not a whole number of bars of {steps_per_bar}")
    events = []
    for i, ch in enumerate(text):
        if ch in ".-":
            continue
        length = unit
        j = i + 1
        while j < n and text[j] == "-":
            length += unit
            j += 1
        events.append((i * unit, length, ch))
    return Cell(tuple(events), n * unit)


@dataclass(frozen=True)
class Groove:
    name: str
    meter: str
    desc: str
    steps: int  # length in steps (one or more bars)
    hits: tuple[tuple[int, str, int], ...]  # (step, lane, velocity)


@dataclass(frozen=True)
class Style:
    name: str
    weight: float
    tempo: tuple[float, float]
    meters: dict
    modes: dict
    swing: tuple[float, float]
    timing_ms: float
    velocity_sd: float
    chords: str
    color: float
    harmonic_rhythm: dict
    progressions: tuple[str, ...]
    generated: float
    stems: dict
    programs: dict
    kits: dict
    families: dict
    grooves: dict
    ghost_notes: float
    fill: float
    chorus_cymbal: str
    moods: tuple[str, str, str]
    ensemble: str
    tempo_68: tuple[float, float] | None = None

    def tempo_range(self, meter: str) -> tuple[float, float]:
        if meter == "6/8":
            return self.tempo_68 or (self.tempo[0] * 0.5, self.tempo[1] * 0.5)
        return self.tempo


@dataclass(frozen=True)
class Library:
    styles: dict[str, Style]
    grooves: dict[str, Groove]
    progressions: dict[str, dict]
    rhythms: dict = field(repr=False)

    def cells(self, kind: str, family: str, meter: str, style: str, energy: str) -> list[Cell]:
        """Rhythm cells of `rhythms.yaml[kind][family][meter]` allowed for `style`, those tagged
        with `energy` (or untagged) first."""
        table = self.rhythms[kind][family][meter]
        allowed = [c for c in table if c.styles is None or style in c.styles]
        matching = [c for c in allowed if c.energy in (None, energy)]
        return matching or allowed


def _read(name: str) -> dict:
    path = DATA_DIR / name
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


def _groove(name: str, spec: dict) -> Groove:
    meter = spec["meter"]
    spb = METERS[meter].steps_per_bar
    lanes = {k: v for k, v in spec.items() if k not in ("meter", "desc")}
    cells = {}
    for lane, text in lanes.items():
        if lane not in DRUM_LANES:
            raise ValueError(f"grooves.yaml: {name}: unknown lane {lane!r}; lanes are {sorted(DRUM_LANES)}")
        cells[lane] = parse_cell(text, spb, f"grooves.yaml: {name}.{lane}")
    steps = max(c.steps for c in cells.values())
    hits = []
    for lane, cell in cells.items():
        if steps % cell.steps:
            raise ValueError(f"grooves.yaml: {name}.{lane}: length does not divide the groove's {steps} steps")
        for rep in range(steps // cell.steps):
            for start, _, ch in cell.events:
                if ch not in DRUM_VELOCITY:
                    raise ValueError(f"grooves.yaml: {name}.{lane}: unknown hit {ch!r}")
                hits.append((rep * cell.steps + start, lane, DRUM_VELOCITY[ch]))
    return Groove(name, meter, spec.get("desc", "steady"), steps, tuple(sorted(hits)))


def _rhythms(data: dict) -> dict:
    out: dict = {}
    for kind, families in data.items():
        for family, meters in families.items():
            for meter, cells in meters.items():
                spb = METERS[meter].steps_per_bar
                parsed = []
                for i, spec in enumerate(cells):
                    cell = parse_cell(spec["cell"], spb, f"rhythms.yaml: {kind}.{family}.{meter}[{i}]")
                    styles = tuple(spec["styles"]) if "styles" in spec else None
                    parsed.append(Cell(cell.events, cell.steps, spec.get("energy"), styles))
                out.setdefault(kind, {}).setdefault(family, {})[meter] = parsed
    return out


def _style(name: str, s: dict, grooves: dict, progressions: dict) -> Style:
    where = f"styles.yaml: {name}"
    for meter in s["meters"]:
        if meter not in METERS:
            raise ValueError(f"{where}: unknown meter {meter}")
        names = s["grooves"].get(meter)
        if not names:
            raise ValueError(f"{where}: no groove for meter {meter}")
        for g in names:
            if g not in grooves or grooves[g].meter != meter:
                raise ValueError(f"{where}: groove {g!r} is not a {meter} groove in grooves.yaml")
    for mode in s["modes"]:
        if mode not in MODES:
            raise ValueError(f"{where}: unknown mode {mode}")
    for p in s["progressions"]:
        if p not in progressions:
            raise ValueError(f"{where}: unknown progression {p!r}")
    for stem, table in s["programs"].items():
        for program in table:
            if int(program) not in PROGRAM_RANGES[stem]:
                raise ValueError(f"{where}: program {program} is not a {stem} program")
    for stem, fams in s["families"].items():
        for fam in fams:
            if fam not in FAMILIES[stem]:
                raise ValueError(f"{where}: unknown {stem} family {fam!r}; one of {FAMILIES[stem]}")
    return Style(
        name=name, weight=float(s.get("weight", 1.0)), tempo=tuple(s["tempo"]), meters=dict(s["meters"]),
        modes=dict(s["modes"]), swing=tuple(s["swing"]), timing_ms=float(s["timing_ms"]),
        velocity_sd=float(s["velocity_sd"]), chords=s["chords"], color=float(s["color"]),
        harmonic_rhythm={float(k): float(v) for k, v in s["harmonic_rhythm"].items()},
        progressions=tuple(s["progressions"]), generated=float(s["generated"]), stems=dict(s["stems"]),
        programs={k: {int(p): float(w) for p, w in v.items()} for k, v in s["programs"].items()},
        kits={int(k): float(v) for k, v in s["kits"].items()},
        families={k: dict(v) for k, v in s["families"].items()}, grooves=dict(s["grooves"]),
        ghost_notes=float(s["ghost_notes"]), fill=float(s["fill"]), chorus_cymbal=s["chorus_cymbal"],
        moods=tuple(s["moods"]), ensemble=s["ensemble"],
        tempo_68=tuple(s["tempo_68"]) if "tempo_68" in s else None,
    )


@functools.lru_cache(maxsize=1)
def load_library() -> Library:
    grooves = {name: _groove(name, spec) for name, spec in _read("grooves.yaml").items()}
    progressions = _read("progressions.yaml")
    for name, p in progressions.items():
        for numeral in p["chords"].split():
            parse_roman(numeral, 0)  # raises on a typo
        for mode in p["modes"]:
            if mode not in MODES:
                raise ValueError(f"progressions.yaml: {name}: unknown mode {mode}")
    styles = {name: _style(name, s, grooves, progressions) for name, s in _read("styles.yaml").items()}
    return Library(styles, grooves, progressions, _rhythms(_read("rhythms.yaml")))
