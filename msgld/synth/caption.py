"""One English sentence that says what a track holds: style, ensemble, key, meter, tempo, and
each present stem with its instrument and the pattern family it plays most."""

from __future__ import annotations

from msgld.synth.composer import Song
from msgld.synth.styles import load_library

PROGRAM_NAMES = {
    0: "grand piano", 1: "bright piano", 2: "electric grand piano", 3: "honky-tonk piano",
    4: "electric piano", 5: "FM electric piano", 6: "harpsichord", 7: "clavinet",
    24: "nylon-string guitar", 25: "steel-string acoustic guitar", 26: "jazz guitar",
    27: "clean electric guitar", 28: "muted electric guitar", 29: "overdriven guitar",
    30: "distorted guitar", 31: "guitar harmonics",
    32: "upright bass", 33: "fingered electric bass", 34: "picked bass", 35: "fretless bass",
    36: "slap bass", 37: "slap bass", 38: "synth bass", 39: "synth bass",
}
KIT_WORDS = {0: "", 8: "roomy", 16: "punchy", 24: "electronic", 25: "808", 32: "jazz", 40: "brushed", 48: "orchestral"}
FAMILY_PHRASES = {
    "roots": "root-note {inst}", "octaves": "octave-bouncing {inst}", "walking": "walking {inst}",
    "syncopated": "syncopated {inst}", "block": "block-chord {inst}", "comping": "comping {inst}",
    "arpeggio": "arpeggiated {inst}", "melody": "{art} {inst} melody", "strum": "strummed {inst}",
    "power": "{inst} power chords", "lead": "{inst} lead lines",
}
ENSEMBLE_SIZE = {1: "solo", 2: "duo", 3: "trio", 4: "quartet"}


def ensemble_word(kind: str, n: int) -> str:
    if kind == "combo":
        return ENSEMBLE_SIZE.get(n, "combo")
    if kind == "track":
        return "track"
    return "band" if n >= 3 else "duo"


def mood(song: Song) -> str:
    style, plan = song.plan.style, song.plan
    lo, hi = style.tempo_range(plan.meter.name)
    third = (plan.bpm - lo) / max(1e-9, hi - lo)
    return style.moods[0 if third < 1 / 3 else 1 if third < 2 / 3 else 2]


def stem_phrase(song: Song, stem: str, program: int) -> str:
    if stem == "drums":
        desc = load_library().grooves[song.main_family("drums")].desc
        kit = KIT_WORDS.get(program, "")
        return " ".join(w for w in (kit if kit not in desc else "", desc, "drums") if w)
    instrument = PROGRAM_NAMES.get(program, stem)
    return FAMILY_PHRASES[song.main_family(stem)].format(inst=instrument, art=article(instrument))


def article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou8" or word.startswith(("FM", "MIDI")) else "a"


def join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def caption(song: Song, programs: dict[str, int] | None = None) -> str:
    """`programs`: what the renderer actually played (after any soundfont fallback)."""
    plan = song.plan
    programs = programs or {s: plan.parts[s].program for s in song.stems}
    words = f"{mood(song)} {plan.style.name} {ensemble_word(plan.style.ensemble, len(song.stems))}"
    meter = "" if plan.meter.name == "4/4" else f" in {plan.meter.name} time"
    parts = [stem_phrase(song, s, programs[s]) for s in song.stems]
    return f"{article(words)} {words} in {plan.key}{meter} at {plan.bpm} BPM with {join(parts)}"
