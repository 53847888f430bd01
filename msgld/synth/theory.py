"""Music theory the composer needs: modes, chords, Roman numerals, key names."""

from __future__ import annotations

import re
from dataclasses import dataclass

SHARP_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLAT_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
FLAT_MAJOR_KEYS = {5, 10, 3, 8, 1, 6}  # F Bb Eb Ab Db Gb: spelled with flats

MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
}
# semitones from the mode's tonic down to its parent major scale's tonic (for spelling)
PARENT_OFFSET = {"major": 0, "minor": 9, "dorian": 2, "phrygian": 4, "lydian": 5,
                 "mixolydian": 7, "harmonic_minor": 9}
MODE_WORDS = {"harmonic_minor": "harmonic minor"}

# chord quality -> intervals above the root
QUALITIES = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
    "sus2": (0, 2, 7), "sus4": (0, 5, 7), "5": (0, 7), "add9": (0, 4, 7, 14),
    "madd9": (0, 3, 7, 14), "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9), "9": (0, 4, 7, 10, 14), "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14), "7sus4": (0, 5, 7, 10),
}
SYMBOL_SUFFIX = {"maj": "", "min": "m", "dim": "dim", "aug": "aug", "m7b5": "m7b5"}

ROMAN = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
_ROMAN_RE = re.compile(r"^(b|#)?(vii|vi|v|iv|iii|ii|i|VII|VI|V|IV|III|II|I)(°|o|ø|\+)?(.*)$")


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class 0-11
    quality: str

    @property
    def intervals(self) -> tuple[int, ...]:
        return QUALITIES[self.quality]

    @property
    def pcs(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in self.intervals)

    def third(self) -> int | None:
        """Interval of the chord's third (or its sus replacement); None for power chords."""
        for i in self.intervals[1:]:
            if i in (2, 3, 4, 5):
                return i
        return None

    def fifth(self) -> int:
        for i in self.intervals[1:]:
            if i in (6, 7, 8):
                return i
        return 7

    def seventh(self) -> int | None:
        for i in self.intervals:
            if i in (9, 10, 11) and self.quality not in ("6", "m6"):
                return i
        return None

    def symbol(self, flats: bool = True) -> str:
        names = FLAT_NAMES if flats else SHARP_NAMES
        return names[self.root] + SYMBOL_SUFFIX.get(self.quality, self.quality)


def scale_pcs(tonic: int, mode: str) -> tuple[int, ...]:
    return tuple((tonic + i) % 12 for i in MODES[mode])


def uses_flats(tonic: int, mode: str) -> bool:
    parent = (tonic - PARENT_OFFSET[mode]) % 12
    return parent in FLAT_MAJOR_KEYS


def key_name(tonic: int, mode: str) -> str:
    """'F major', 'E dorian', 'C# minor'."""
    names = FLAT_NAMES if uses_flats(tonic, mode) else SHARP_NAMES
    return f"{names[tonic]} {MODE_WORDS.get(mode, mode)}"


def parse_roman(numeral: str, tonic: int) -> Chord:
    """'bVII7' in a key on `tonic` -> Chord. Degrees are those of the major scale."""
    m = _ROMAN_RE.match(numeral)
    if m is None:
        raise ValueError(f"not a Roman numeral chord: {numeral!r}")
    accidental, degree, mark, suffix = m.groups()
    root = (tonic + ROMAN[degree.lower()] + {"b": -1, "#": 1, None: 0}[accidental]) % 12
    upper = degree.isupper()
    if mark == "ø":
        quality = "m7b5"
    elif mark in ("°", "o"):
        quality = "dim7" if suffix == "7" else "dim"
    elif mark == "+":
        quality = "aug"
    elif suffix in ("", None):
        quality = "maj" if upper else "min"
    elif suffix in ("5", "sus2", "sus4", "add9", "maj7", "maj9", "7sus4"):
        quality = suffix if upper or suffix == "5" else {"add9": "madd9"}.get(suffix, suffix)
    elif suffix in ("7", "9", "6"):
        quality = suffix if upper else {"7": "m7", "9": "m9", "6": "m6"}[suffix]
    else:
        raise ValueError(f"unknown chord suffix {suffix!r} in {numeral!r}")
    return Chord(root, quality)


def diatonic_chord(tonic: int, mode: str, degree: int, sevenths: bool = False) -> Chord:
    """The chord built in thirds on scale degree `degree` (0-6) of the mode."""
    scale = MODES[mode]

    def tone(k: int) -> int:
        return scale[(degree + k) % 7] + 12 * ((degree + k) // 7)

    root = tone(0)
    third, fifth, seventh = tone(2) - root, tone(4) - root, tone(6) - root
    triad = {(4, 7): "maj", (3, 7): "min", (3, 6): "dim", (4, 8): "aug"}.get((third, fifth), "maj")
    if sevenths:
        quality = {("maj", 11): "maj7", ("maj", 10): "7", ("min", 10): "m7", ("dim", 10): "m7b5",
                   ("dim", 9): "dim7", ("min", 11): "m7", ("aug", 11): "maj7"}.get((triad, seventh), triad)
    else:
        quality = triad
    return Chord((tonic + root) % 12, quality)


def with_flavour(chord: Chord, flavour: str) -> Chord:
    """Colour a chord for a style: 'sevenths' adds the fitting seventh, 'power' keeps root and fifth."""
    if flavour == "power":
        return Chord(chord.root, "5")
    if flavour == "sevenths" and len(chord.intervals) == 3:
        return Chord(chord.root, {"maj": "maj7", "min": "m7", "dim": "m7b5", "aug": "aug"}.get(
            chord.quality, chord.quality))
    return chord


def color(chord: Chord, rng) -> Chord:
    """A random colour tone (sus, add9, 9th) that keeps the chord's function."""
    options = {
        "maj": ["sus2", "sus4", "add9", "6"], "min": ["madd9", "m7", "m6"], "7": ["9", "7sus4"],
        "m7": ["m9"], "maj7": ["maj9", "6"], "5": ["5"],
    }.get(chord.quality)
    if not options:
        return chord
    return Chord(chord.root, options[int(rng.integers(len(options)))])


def nearest_pitch(pc: int, target: float) -> int:
    """The MIDI pitch with pitch class `pc` closest to `target`."""
    base = int(round(target)) - 6
    return base + (pc - base) % 12
