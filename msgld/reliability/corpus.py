"""Bad and odd audio inputs, made by code: what a new user's folder may hold.

Each `Case` writes one entry (a file, a folder, a link) and says what msgld must do with it:
`error` (refused with a message naming the file and containing `problem`), `warning` (used,
with a warning containing `problem`) or `ok` (used, nothing to say), the same for every
command unless `per_command` says otherwise (a 1-sample file is a dataset oddity but too short
to separate; datasets do not read MP3). `long` marks the 1-hour file, which is only probed and
streamed, never separated. `make_dataset` puts each case in a track of an evaluation split.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

RATE = 16000
SECONDS = 1.5


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    expect: str  # "error" | "warning" | "ok"
    problem: str  # a phrase of the message ("" for ok)
    make: Callable[[Path], None]
    long: bool = False
    needs_non_root: bool = False  # root reads a chmod 000 file
    per_command: tuple[tuple[str, str, str], ...] = ()  # (command, expect, problem)

    def expected(self, command: str, root: bool) -> tuple[str, str]:
        """(outcome, phrase) for a command: separate, arrange, evaluate or check."""
        if self.needs_non_root and root:
            return "ok", ""
        for name, expect, problem in self.per_command:
            if name == command:
                return expect, problem
        return self.expect, self.problem


def music(seconds: float = SECONDS, rate: int = RATE, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A plucked tone over soft noise: [frames] or [frames, channels], peak about 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.4 * np.sin(2 * np.pi * 220 * t) * np.exp(-((t * 2) % 1.0) * 3)
    wave = (tone + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    if channels == 1:
        return wave
    return np.stack([wave * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)


def _wav(data, rate=RATE, subtype="PCM_16", fmt="WAV") -> Callable[[Path], None]:
    def make(path: Path) -> None:
        sf.write(str(path), data, rate, subtype=subtype, format=fmt)
    return make


def _cut(keep: Callable[[int], int], fmt: str = "WAV") -> Callable[[Path], None]:
    """A whole file, then only its first keep(size) bytes."""
    def make(path: Path) -> None:
        sf.write(str(path), music(), RATE, format=fmt)
        data = path.read_bytes()
        path.write_bytes(data[: keep(len(data))])
    return make


def _with(value: float) -> Callable[[Path], None]:
    wave = music()
    wave[len(wave) // 3] = value
    return _wav(wave, subtype="FLOAT")


def _folder(path: Path) -> None:
    path.mkdir()
    sf.write(str(path / "inside.wav"), music(0.2), RATE)


def _broken_link(path: Path) -> None:
    os.symlink(path.with_name("deleted-long-ago.wav"), path)


def _unreadable(path: Path) -> None:
    sf.write(str(path), music(), RATE)
    path.chmod(0)


def _one_hour(path: Path) -> None:
    """3600 s of soft noise at 16 kHz, 16-bit (115 MB), written block by block."""
    minute = (0.01 * np.random.default_rng(1).standard_normal(60 * RATE)).astype(np.float32)
    with sf.SoundFile(str(path), "w", RATE, 1, subtype="PCM_16") as f:
        for _ in range(60):
            f.write(minute)


CASES = [
    Case("empty file", "empty.wav", "error", "empty file", lambda p: p.write_bytes(b"")),
    Case("text named .wav", "notes.wav", "error", "not an audio file",
         lambda p: p.write_text("bass line, take 3\n" * 20)),
    Case("truncated header", "truncated-header.wav", "error", "damaged or truncated WAV", _cut(lambda n: 30)),
    Case("truncated data", "truncated-data.wav", "error", "truncated: the header declares", _cut(lambda n: n // 2)),
    Case("truncated FLAC data", "truncated.flac", "error", "damaged or truncated data", _cut(lambda n: n // 2, "FLAC")),
    Case("NaN samples", "nan.wav", "error", "NaN or Inf", _with(np.nan)),
    Case("Inf samples", "inf.wav", "error", "NaN or Inf", _with(np.inf)),
    Case("one sample", "one-sample.wav", "warning", "very short", _wav(np.array([0.25], np.float32)),
         per_command=(("separate", "error", "too short"), ("arrange", "error", "too short"))),
    Case("silence", "silence.wav", "warning", "silent", _wav(np.zeros(int(SECONDS * RATE), np.float32))),
    Case("8 channels", "eight-channels.wav", "warning", "8 channels", _wav(music(channels=8))),
    Case("8 kHz", "8khz.wav", "warning", "sample rate 8000 Hz", _wav(music(rate=8000), 8000)),
    Case("192 kHz", "192khz.wav", "ok", "", _wav(music(rate=192000), 192000, "PCM_24")),
    Case("float far above full scale", "too-loud.wav", "error", "far above full scale",
         _wav(music() * 2000, subtype="FLOAT")),
    Case("DC offset", "dc-offset.wav", "warning", "DC offset", _wav(music() * 0.5 + 0.3)),
    Case("FLAC named .wav", "flac-inside.wav", "warning", "contents are FLAC", _wav(music(), fmt="FLAC")),
    Case("MP3", "song-mp3.mp3", "ok", "", _wav(music(), subtype="MPEG_LAYER_III", fmt="MP3"),
         per_command=(("evaluate", "warning", "not read"), ("check", "warning", "not read"))),
    Case("OGG Vorbis", "song-ogg.ogg", "ok", "", _wav(music(), subtype="VORBIS", fmt="OGG"),
         per_command=(("evaluate", "warning", "not read"), ("check", "warning", "not read"))),
    Case("unicode and spaces", "Çà va – ünïcødé song.wav", "ok", "", _wav(music(seed=3))),
    Case("folder named .wav", "folder.wav", "error", "is a folder", _folder),
    Case("broken symlink", "broken-link.wav", "error", "broken symbolic link", _broken_link),
    Case("unreadable (chmod 000)", "unreadable.wav", "error", "permission denied", _unreadable, needs_non_root=True),
    Case("1-hour file", "one-hour.wav", "ok", "", _one_hour, long=True),
]


def make_corpus(folder: str | Path, cases: list[Case] | None = None, long: bool = True) -> list[Case]:
    """Write the cases (all, or `cases`; without the 1-hour file unless `long`) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chosen = [c for c in (cases or CASES) if long or not c.long]
    for case in chosen:
        path = folder / case.filename
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        case.make(path)
    return chosen


def dataset_entry(case: Case) -> str:
    """The case's name as a stem file: bass plus its extension (a FLAC stays .flac)."""
    return "bass" + Path(case.filename).suffix


def make_dataset(root: str | Path, cases: list[Case] | None = None, split: str = "test") -> dict[str, Path]:
    """`root/split/<track>/bass.<ext>`, one track per case (its other stems absent) plus a good
    four-stem track `Track00000`; unicode names go in the track folder's name. Returns the
    entry of each case by name."""
    root = Path(root)
    good = root / split / "Track00000"
    good.mkdir(parents=True, exist_ok=True)
    for k, stem in enumerate(("bass", "drums", "guitar", "piano")):
        sf.write(str(good / f"{stem}.wav"), 0.5 * music(seed=10 + k), RATE)
    entries = {}
    for k, case in enumerate(cases or CASES, start=1):
        name = Path(case.filename).stem if any(ord(c) > 127 or c == " " for c in case.filename) else f"Track{k:05d}"
        folder = root / split / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / dataset_entry(case)
        case.make(path)
        entries[case.name] = path
    return entries
