"""Check a multi-stem dataset folder (Slakh2100 or MUSDB18-HQ layout) before training on it.

Errors (the folder cannot be used as it is): no split folder, a track folder without any stem
file, unreadable, empty, truncated or non-audio files, folders and broken links under stem
names, NaN/Inf samples, float samples far above full scale, stems of one track with different
lengths, a sample rate other than the one asked for, a track name in two splits.
Warnings: a missing split, a silent stem (mean |x| below the silence threshold), clipped
samples, a mixture (sum of the stems) that clips, unexpected audio files, MP3/OGG stems (not
read), and what `msgld.audio.validate.file_warnings` finds (a DC offset, a low rate, ...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from msgld import SAMPLE_RATE
from msgld.audio import validate
from msgld.audio.io import READ_EXTENSIONS, AudioError
from msgld.config import load_config
from msgld.data.stems_dataset import AUDIO_SUFFIXES, SILENCE_THRESHOLD, DatasetError, scan_track

PRESETS = ("slakh2100", "musdb18hq")
CLIP_LEVEL = 0.999


@dataclass
class Problem:
    severity: str  # "error" | "warning"
    where: str  # a file or folder
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


@dataclass
class SplitStats:
    tracks: int = 0
    seconds: float = 0.0
    stems: Counter = field(default_factory=Counter)


@dataclass
class Report:
    root: Path
    preset: str
    stems: list[str]
    splits: dict[str, SplitStats] = field(default_factory=dict)
    sample_rates: Counter = field(default_factory=Counter)
    channels: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def ok(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)

    def add(self, severity: str, where: Path | str, message: str) -> None:
        self.problems.append(Problem(severity, str(where), message))


def detect_preset(root: Path) -> str:
    """musdb18hq if any track folder has a vocals/other/mixture file, else slakh2100."""
    for split in root.iterdir() if root.is_dir() else []:
        if split.is_dir():
            for track in split.iterdir():
                if any((track / f"{name}{suf}").exists() for name in ("vocals", "other", "mixture")
                       for suf in AUDIO_SUFFIXES):
                    return "musdb18hq"
    return "slakh2100"


def check_audio(track, report: Report) -> None:
    """Silence, clipping and NaN per stem; clipping of the mixture (when rates agree)."""
    waves = {}
    for stem, f in track.files.items():
        if f is None:
            continue
        try:
            try:
                data, _ = sf.read(str(f.path), dtype="float32", always_2d=True)
            except Exception as e:
                raise validate.read_error(f.path, e) from e
            validate.check_length(f.path, data.shape[0], f.frames)  # compressed data that ends early
            validate.check_samples(data, f.path, rate=f.sample_rate)  # NaN/Inf, far above full scale
        except AudioError as e:
            report.add("error", f.path, str(e).removeprefix(f"{f.path}: "))
            continue
        for warning in validate.file_warnings(f.path, data.T, f.sample_rate):
            if not warning.startswith(("silent", "nearly silent", "peaks at")):  # said below
                report.add("warning", f.path, warning)
        if float(np.abs(data).mean()) < SILENCE_THRESHOLD:
            report.add("warning", f.path, f"silent stem (mean |x| < {SILENCE_THRESHOLD:g})")
        clipped = int((np.abs(data) >= CLIP_LEVEL).sum())
        if clipped:
            report.add("warning", f.path, f"clipping: {clipped} samples at full scale")
        waves[stem] = (data, f.sample_rate)
    rates = {sr for _, sr in waves.values()}
    if len(waves) > 1 and len(rates) == 1:
        n = min(d.shape[0] for d, _ in waves.values())
        mix = sum(d[:n] for d, _ in waves.values())
        peak = float(np.abs(mix).max()) if n else 0.0
        if peak > 1.0:
            report.add("warning", track.folder, f"the mixture (sum of the stems) clips: peak {peak:.3f}")


def check_dataset(root: str | Path, preset: str | None = None, sample_rate: int | None = None,
                  audio: bool = True, progress: bool = True) -> Report:
    """Check `root`; the report lists every problem found (nothing is raised for bad data)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    preset = preset or detect_preset(root)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; use one of {PRESETS}")
    cfg = load_config("data", preset)
    stems, splits, ignore = list(cfg["stems"]), list(cfg["splits"]), set(cfg.get("ignore", []))
    report = Report(root, preset, stems)
    present = [s for s in splits if (root / s).is_dir()]
    if not present:
        report.add("error", root, f"no split folder: expected {', '.join(s + '/' for s in splits)} "
                                  f"each holding <track>/<stem>.wav ({preset} layout)")
        return report
    for s in splits:
        if s not in present:
            report.add("warning", root / s, "split folder missing")
    folders = [(s, t) for s in present for t in sorted((root / s).iterdir())
               if t.is_dir() and not t.name.startswith(".")]
    seen: dict[str, str] = {}
    for split in present:
        report.splits[split] = SplitStats()
        if not any(t.is_dir() and not t.name.startswith(".") for t in (root / split).iterdir()):
            report.add("error", root / split, "split folder has no track folders")
    for split, folder in tqdm(folders, desc="check", unit="track", disable=not progress):
        if folder.name in seen:
            report.add("error", folder, f"track name also in split {seen[folder.name]!r} (splits must be disjoint)")
        seen.setdefault(folder.name, split)
        for f in folder.iterdir():
            if f.suffix in AUDIO_SUFFIXES and f.stem not in stems and f.stem not in ignore:
                report.add("warning", f, f"unexpected audio file (stems are {stems})")
            elif f.suffix.lower() in set(READ_EXTENSIONS) - set(AUDIO_SUFFIXES) and f.stem not in ignore:
                report.add("warning", f, f"not read: dataset stems are {' or '.join(AUDIO_SUFFIXES)} files")
        try:
            track = scan_track(folder, stems, pad_mismatched=False)
        except (AudioError, DatasetError) as e:
            message = str(e)
            for prefix in (f"track {folder}: ", f"{folder}/"):
                message = message.removeprefix(prefix)
            report.add("error", folder, message)
            continue
        if track is None:
            report.add("error", folder, f"no stem file (expected any of {', '.join(s + '.wav' for s in stems)})")
            continue
        stats = report.splits[split]
        stats.tracks += 1
        stats.seconds += track.length / SAMPLE_RATE
        for stem, f in track.files.items():
            if f is None:
                continue
            stats.stems[stem] += 1
            report.sample_rates[f.sample_rate] += 1
            report.channels[sf.info(str(f.path)).channels] += 1
            if sample_rate is not None and f.sample_rate != sample_rate:
                report.add("error", f.path, f"sample rate {f.sample_rate} Hz, expected {sample_rate} Hz")
        if audio:
            check_audio(track, report)
    return report


def format_report(report: Report, max_problems: int = 50) -> str:
    lines = [f"dataset {report.root} ({report.preset} layout; stems {', '.join(report.stems)})"]
    lines.append(f"{'split':<12}{'tracks':>8}{'hours':>9}  stems present")
    for split, st in report.splits.items():
        present = ", ".join(f"{s} {st.stems.get(s, 0)}" for s in report.stems)
        lines.append(f"{split:<12}{st.tracks:>8}{st.seconds / 3600:>9.3f}  {present}")
    if report.sample_rates:
        rates = ", ".join(f"{sr} Hz x{n}" for sr, n in sorted(report.sample_rates.items()))
        chans = ", ".join(f"{c} ch x{n}" for c, n in sorted(report.channels.items()))
        lines.append(f"files: {rates}; {chans}")
    for p in report.problems[:max_problems]:
        lines.append(str(p))
    if len(report.problems) > max_problems:
        lines.append(f"... and {len(report.problems) - max_problems} more problems")
    verdict = "OK" if not report.errors else "FAILED"
    lines.append(f"{verdict}: {len(report.errors)} errors, {len(report.warnings)} warnings")
    return "\n".join(lines)
