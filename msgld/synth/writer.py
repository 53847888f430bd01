"""Write a SynthSlakh dataset in the Slakh2100 layout, resumably, with parallel workers.

```
out/
  synth.yaml                    seed, backend, soundfonts, resolved config (checked on rerun)
  train/ validation/ test/      each track in exactly one split, by a hash of (seed, index)
    Track00001/
      bass.wav drums.wav guitar.wav piano.wav    16 kHz mono, equal length (absent stem: no file)
      MIDI/bass.mid ...         one MIDI file per present stem (Song.midi() merges them)
      metadata.yaml             style, tempo, meter, key, progression, sections, programs,
                                soundfonts, seed, caption
```

A track is written into a hidden `.TrackNNNNN.partial-*` folder that is renamed to its final
name only when complete, so a finished track folder is always whole. A rerun skips finished
tracks (it never rewrites them), removes partial folders, and makes the rest. Each track depends
only on (seed, index), so the result does not depend on workers, order or interruptions.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from tqdm import tqdm

from msgld import __version__
from msgld.audio.io import atomic_write_text, save_audio
from msgld.config import load_config
from msgld.synth import soundfonts as sfonts
from msgld.synth.caption import PROGRAM_NAMES, caption
from msgld.synth.composer import Song, compose
from msgld.synth.plan import plan_song
from msgld.synth.render import render_song
from msgld.synth.rng import stream
from msgld.synth.styles import STEMS, load_library

MANIFEST = "synth.yaml"
KIT_NAMES = {0: "Standard", 8: "Room", 16: "Power", 24: "Electronic", 25: "TR-808", 32: "Jazz",
             40: "Brush", 48: "Orchestra"}
CHECKED_KEYS = ("seed", "backend", "soundfonts", "config")


def track_name(index: int) -> str:
    return f"Track{index + 1:05d}"


def split_of(seed: int, index: int, ratios: dict[str, float]) -> str:
    """Deterministic split of a track from a hash of (seed, index)."""
    u = int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "big") / 2**64
    total = sum(ratios.values())
    acc = 0.0
    for name, r in ratios.items():
        acc += r / total
        if u < acc:
            return name
    return list(ratios)[-1]


def tracks_for_hours(hours: float, seed: int, config: dict) -> int:
    """How many tracks (in index order) it takes to reach `hours` of music."""
    library = load_library()
    total, n = 0.0, 0
    while total < hours * 3600:
        plan = plan_song(stream(seed, n, "plan"), library, config, seed, n)
        total += plan.duration + float(config["tail_s"])
        n += 1
    return n


@dataclass(frozen=True)
class Job:
    seed: int
    index: int
    folder: str  # final track folder
    split: str
    config: dict
    backend: str
    soundfonts: tuple[str, ...]


def draw_soundfonts(seed: int, index: int, pool: tuple[str, ...]) -> dict[str, Path]:
    """One soundfont per stem (drawn for every stem name, present or not, so it is stable)."""
    rng = stream(seed, index, "soundfont")
    return {stem: Path(pool[int(rng.integers(len(pool)))]) for stem in STEMS}


def metadata(job: Job, song: Song, fonts: dict[str, Path], rendered, n_samples: int) -> dict:
    plan, cfg = song.plan, job.config
    stems = {}
    for stem in song.stems:
        part = plan.parts[stem]
        program = rendered.programs[stem]
        stems[stem] = {
            "audio": f"{stem}.wav",
            "midi": f"MIDI/{stem}.mid",
            ("kit" if part.is_drum else "program"): program,
            "instrument": KIT_NAMES.get(program, "Standard") + " kit" if part.is_drum else PROGRAM_NAMES[program],
            "families": song.family_bars(stem),
            "soundfont": fonts[stem].name,
            "volume": part.volume,
            "notes": len(song.instruments[stem].notes),
        }
    return {
        "track": track_name(job.index),
        "split": job.split,
        "index": job.index,
        "seed": job.seed,
        "caption": caption(song, rendered.programs),
        "style": plan.style.name,
        "tempo": {"bpm": plan.bpm, "beat": plan.meter.beat_unit, "qpm": plan.meter.qpm(plan.bpm)},
        "meter": plan.meter.name,
        "swing": plan.swing,
        "key": plan.key,
        "mode": plan.mode,
        "progression": " ".join(next((s.numerals for s in plan.sections if s.name == "verse"),
                                     plan.sections[0].numerals)),
        "harmonic_rhythm_bars": plan.harmonic_rhythm,
        "sections": [
            {"name": s.name, "start_bar": s.start_bar, "bars": s.bars, "energy": round(s.energy, 3),
             "progression": s.progression, "numerals": " ".join(s.numerals), "drum_fill": s.fill,
             "chords": " ".join(c.chord.symbol(plan.flats) for c in plan.chords
                                if s.start_bar * plan.meter.steps_per_bar <= c.start < (s.start_bar + s.bars) * plan.meter.steps_per_bar)}
            for s in plan.sections
        ],
        "stems": stems,
        "missing_stems": [s for s in STEMS if s not in song.stems],
        "sample_rate": int(cfg["sample_rate"]),
        "samples": n_samples,
        "duration_s": round(n_samples / int(cfg["sample_rate"]), 3),
        "render": {"backend": job.backend, "gain": round(float(rendered.gain), 6),
                   "render_rate": int(cfg["render"].get("render_rate", cfg["sample_rate"])),
                   "subtype": cfg["render"]["subtype"]},
        "generator": f"msgld {__version__} synth",
    }


def make_track(job: Job) -> tuple[str, float]:
    """Compose, render and write one track; returns (name, seconds of audio)."""
    cfg = job.config
    song = compose(job.seed, job.index, cfg)
    fonts = draw_soundfonts(job.seed, job.index, job.soundfonts)
    duration = song.end_time + float(cfg["tail_s"])
    rendered = render_song(song.instruments, {s: fonts[s] for s in song.stems}, duration, job.backend, cfg)
    n = next(iter(rendered.stems.values())).shape[0]

    final = Path(job.folder)
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "MIDI").mkdir(parents=True)
    try:
        for stem, audio in rendered.stems.items():
            save_audio(tmp / f"{stem}.wav", audio, int(cfg["sample_rate"]), cfg["render"]["subtype"])
            song.midi([stem]).write(str(tmp / "MIDI" / f"{stem}.mid"))
        meta = metadata(job, song, fonts, rendered, n)
        (tmp / "metadata.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, width=1000, allow_unicode=True))
        try:
            os.rename(tmp, final)  # atomic: the track appears whole or not at all
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return final.name, n / int(cfg["sample_rate"])


def manifest(seed: int, backend: str, fonts: list[Path], config: dict) -> dict:
    return {"seed": seed, "backend": backend, "soundfonts": [str(p) for p in fonts], "config": config,
            "msgld": __version__}


def check_manifest(path: Path, wanted: dict) -> None:
    have = yaml.safe_load(path.read_text()) or {}
    diff = [k for k in CHECKED_KEYS if have.get(k) != wanted[k]]
    if diff:
        detail = "; ".join(f"{k}: folder has {have.get(k)!r}, asked for {wanted[k]!r}" for k in diff if k != "config")
        if "config" in diff:
            detail += ("; " if detail else "") + "config differs"
        raise ValueError(f"{path.parent}: made with other settings ({detail}); rerun with the same "
                         "seed/backend/soundfonts/config to resume, or write to another folder")


@dataclass
class Summary:
    out: Path
    tracks: int
    made: int
    skipped: int
    seconds: float  # audio seconds made in this run
    elapsed: float
    backend: str

    @property
    def x_realtime(self) -> float:
        return self.seconds / self.elapsed if self.elapsed > 0 else 0.0


def synthesize(out: str | Path, tracks: int | None = None, hours: float | None = None, seed: int = 0,
               workers: int = 1, backend: str = "auto", config: str | dict = "default",
               soundfonts: list[str] | None = None, duration_range: tuple[float, float] | None = None,
               progress: bool = True) -> Summary:
    """Make (or complete) a dataset of `tracks` tracks, or of at least `hours` hours of music."""
    if (tracks is None) == (hours is None):
        raise ValueError("give exactly one of tracks or hours")
    cfg = load_config("synth", config) if isinstance(config, (str, Path)) else dict(config)
    if duration_range is not None:
        lo, hi = duration_range
        if not 0 < lo <= hi:
            raise ValueError(f"duration range must be 0 < min <= max, got {lo}..{hi}")
        cfg["duration_range"] = [float(lo), float(hi)]
    backend, fonts = sfonts.select(backend, cfg, soundfonts)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = manifest(seed, backend, fonts, cfg)
    mpath = out / MANIFEST
    if mpath.exists():
        check_manifest(mpath, wanted)
    else:
        atomic_write_text(mpath, yaml.safe_dump(wanted, sort_keys=False, width=1000))

    count = tracks if tracks is not None else tracks_for_hours(float(hours), seed, cfg)
    for split in cfg["splits"]:
        folder = out / split
        if folder.is_dir():
            for stale in folder.glob(".Track*.partial-*"):
                shutil.rmtree(stale, ignore_errors=True)
    jobs, skipped = [], 0
    for index in range(count):
        split = split_of(seed, index, cfg["splits"])
        folder = out / split / track_name(index)
        if folder.is_dir():
            skipped += 1
            continue
        elsewhere = [out / other / folder.name for other in cfg["splits"] if other != split]
        misplaced = [str(p) for p in elsewhere if p.is_dir()]
        if misplaced:  # the same song in two splits would leak test songs into training
            raise ValueError(f"{misplaced[0]}: this track belongs to split {split!r} now; the folder was "
                             "made by another version of the writer: write to a new folder")
        folder.parent.mkdir(parents=True, exist_ok=True)
        jobs.append(Job(seed, index, str(folder), split, cfg, backend, tuple(str(p) for p in fonts)))

    start, seconds = time.perf_counter(), 0.0
    bar = tqdm(total=len(jobs), unit="track", desc=f"synth ({backend})", disable=not progress)
    pool = None
    try:
        if workers <= 1 or len(jobs) <= 1:
            results = map(make_track, jobs)
        else:
            pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)))
            results = pool.imap_unordered(make_track, jobs)
        for _, secs in results:
            seconds += secs
            bar.update(1)
            bar.set_postfix(hours=f"{seconds / 3600:.2f}")
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    return Summary(out, count, len(jobs), skipped, seconds, time.perf_counter() - start, backend)
