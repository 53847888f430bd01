"""Where the soundfonts are and which synthesiser backend renders with them.

fluidsynth (pyfluidsynth over Debian's libfluidsynth) with the Debian General MIDI soundfonts
when both are there; otherwise tinysoundfont (a PyPI wheel, no system library) with the
TimGM6mb.sf2 that ships inside the pretty_midi package: a path that needs nothing from Debian.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

BACKENDS = ("fluidsynth", "tinysoundfont")
PRETTY_MIDI = "pretty_midi"  # a soundfont entry naming pretty_midi's bundled TimGM6mb.sf2


def pretty_midi_soundfont() -> Path:
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise ValueError("pretty_midi is not installed (its TimGM6mb.sf2 is the Debian-free soundfont)")
    return Path(spec.origin).parent / "TimGM6mb.sf2"


def resolve(entry: str | Path) -> Path:
    return pretty_midi_soundfont() if str(entry) == PRETTY_MIDI else Path(entry)


def available(entries: list[str | Path]) -> list[Path]:
    """The soundfonts of `entries` that exist, in order, without duplicates."""
    out = []
    for entry in entries:
        path = resolve(entry)
        if path.is_file() and path not in out:
            out.append(path)
    return out


def fluidsynth_importable() -> bool:
    try:
        import fluidsynth  # noqa: F401  (raises ImportError when libfluidsynth is missing)
    except (ImportError, OSError):
        return False
    return True


def tinysoundfont_importable() -> bool:
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        return False
    return True


def select(backend: str, config: dict, soundfonts: list[str] | None = None) -> tuple[str, list[Path]]:
    """(backend, soundfont paths) for `backend` = auto | fluidsynth | tinysoundfont.

    `soundfonts` replaces the configured list of the chosen backend.
    """
    if backend not in ("auto", *BACKENDS):
        raise ValueError(f"unknown backend {backend!r}; use auto, fluidsynth or tinysoundfont")
    lists = config["soundfonts"]

    def pool(name: str) -> list[Path]:
        return available(soundfonts if soundfonts else lists[name])

    if backend == "auto":
        if fluidsynth_importable() and pool("fluidsynth"):
            return "fluidsynth", pool("fluidsynth")
        backend = "tinysoundfont"
    if backend == "fluidsynth" and not fluidsynth_importable():
        raise ValueError("backend fluidsynth: pyfluidsynth or the fluidsynth library is missing "
                         "(apt-get install fluidsynth; pip install pyfluidsynth), or use --backend tinysoundfont")
    if backend == "tinysoundfont" and not tinysoundfont_importable():
        raise ValueError("backend tinysoundfont: `pip install --no-deps tinysoundfont` first")
    paths = pool(backend)
    if not paths:
        wanted = soundfonts if soundfonts else lists[backend]
        raise ValueError(f"backend {backend}: none of the soundfonts {wanted} exists")
    return backend, paths
