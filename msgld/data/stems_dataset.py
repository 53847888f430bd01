"""Multi-stem datasets over folders `{root}/{split}/{track}/{stem}.{wav,flac}`.

```
slakh2100/                      musdb18hq/
  train/                          train/
    Track00001/                     A Classic Education - NightOwl/
      bass.wav  drums.wav             bass.wav drums.wav other.wav vocals.wav
      guitar.wav piano.wav            mixture.wav   (ignored)
  validation/ ...                 test/ ...
  test/ ...
```

Every file is resampled to 16 kHz mono; a missing stem file is silence; the mixture is the
plain sum of the stems. Training items are 10.24 s segments at a random (seeded) shift;
evaluation items are fixed, non-overlapping segments. Any index is cached outside the
dataset folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from msgld import SAMPLE_RATE
from msgld.audio.io import AudioError, atomic_write_text, audio_info, load_audio
from msgld.config import load_config

SEGMENT = 163840
AUDIO_SUFFIXES = (".wav", ".flac")
SILENCE_THRESHOLD = 1.5e-5  # mean |x| below this is silent (MSDM's protocol)
log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset folder that cannot be used; the message names the folder or track."""


@dataclass
class StemFile:
    path: Path
    sample_rate: int
    frames: int  # in the file's own rate

    @property
    def length(self) -> int:
        """Length in 16 kHz samples."""
        return int(round(self.frames * SAMPLE_RATE / self.sample_rate))


@dataclass
class Track:
    name: str
    folder: Path
    files: dict[str, StemFile | None]

    @property
    def length(self) -> int:
        return max(f.length for f in self.files.values() if f is not None)


def default_cache_dir() -> Path:
    return Path(os.environ.get("MSGLD_CACHE", Path.home() / ".cache" / "msgld"))


def find_stem_file(folder: Path, stem: str) -> Path | None:
    for suffix in AUDIO_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.exists() or path.is_symlink():  # a broken link is an error, not a missing stem
            return path
    return None


def scan_track(folder: Path, stems: list[str], pad_mismatched: bool) -> Track | None:
    files: dict[str, StemFile | None] = {}
    for stem in stems:
        path = find_stem_file(folder, stem)
        if path is None:
            for other in (".mp3", ".ogg"):
                if (folder / f"{stem}{other}").exists():
                    log.warning("%s: not read: dataset stems are %s files", folder / f"{stem}{other}",
                                " or ".join(AUDIO_SUFFIXES))
            files[stem] = None
            continue
        info = audio_info(path)
        if info.frames == 0:
            raise AudioError(f"{path}: zero-length audio")
        files[stem] = StemFile(path, int(info.samplerate), int(info.frames))
    present = [f for f in files.values() if f is not None]
    if not present:
        return None
    lengths = {f.length for f in present}
    if max(lengths) - min(lengths) > 1 and not pad_mismatched:
        detail = ", ".join(f"{s}={f.length}" for s, f in files.items() if f is not None)
        raise DatasetError(
            f"track {folder}: stems have different lengths at 16 kHz ({detail}); "
            "fix the files or pass pad_mismatched=True to pad shorter stems with silence"
        )
    return Track(folder.name, folder, files)


def verify_track(track: Track) -> None:
    """Read every file of a track whole (streamed): AudioError for the first bad one; the
    warnings of usable oddities are logged."""
    from msgld.audio.validate import check_file

    for f in track.files.values():
        if f is not None:
            for warning in check_file(f.path):
                log.warning("%s: %s", f.path, warning)


def scan_split(root: Path, split: str, stems: list[str], pad_mismatched: bool = False,
               skipped: list[str] | None = None) -> list[Track]:
    """The split's tracks. With a `skipped` list, a track with a bad file (checked whole, so
    NaN and truncated data are found here) is left out and its error appended; without one, the
    first bad header raises."""
    folder = root / split
    if not folder.is_dir():
        raise DatasetError(f"{folder}: split folder not found (expected {root}/{split}/<track>/<stem>.wav)")
    tracks = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            track = scan_track(sub, stems, pad_mismatched)
            if track is not None and skipped is not None:
                verify_track(track)
        except (AudioError, DatasetError) as e:
            if skipped is None:
                raise
            log.error("%s (track skipped)", e)
            skipped.append(str(e))
            continue
        if track is not None:
            tracks.append(track)
    if not tracks:
        raise DatasetError(f"{folder}: no track folders with any of the stems {stems}")
    return tracks


def read_segment(track: Track, stems: list[str], start: int, length: int) -> np.ndarray:
    """[S, length] float32 at 16 kHz from `start` (16 kHz samples); silence where a stem is missing
    or the track ends."""
    out = np.zeros((len(stems), length), dtype=np.float32)
    for i, stem in enumerate(stems):
        f = track.files.get(stem)
        if f is None:
            continue
        ratio = f.sample_rate / SAMPLE_RATE
        native_start = int(math.floor(start * ratio))
        native_len = int(math.ceil(length * ratio)) + (0 if f.sample_rate == SAMPLE_RATE else 16)
        if native_start >= f.frames:
            continue
        wave = load_audio(f.path, SAMPLE_RATE, start=native_start, frames=native_len)
        n = min(length, wave.shape[-1])
        out[i, :n] = wave[:n]
    return out


def active_stems(stems: np.ndarray, threshold: float = SILENCE_THRESHOLD) -> int:
    return int((np.abs(stems).mean(axis=-1) >= threshold).sum())


class MultiStemDataset(Dataset):
    """Items: {"stems": [S, L], "mixture": [L], "track": str, "start": int}.

    mode="train": `len` = the number of whole segments in the split; item i is track-weighted
    and taken at a random shift drawn from (seed, epoch, i). mode="eval": fixed non-overlapping
    segments (a track shorter than one segment gives one zero-padded segment).
    `min_active_stems` skips segments with fewer active stems (train: redraws the shift up to
    `max_redraws` times; eval: filtered once, the result cached outside the dataset folder).
    `skip_bad`: every file is read whole once; tracks with a bad one are left out (their errors
    in `skipped`) instead of stopping the scan.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        preset: str = "slakh2100",
        stems: list[str] | None = None,
        mode: str = "train",
        segment: int = SEGMENT,
        min_active_stems: int = 0,
        pad_mismatched: bool = False,
        seed: int = 0,
        max_redraws: int = 10,
        cache_dir: str | Path | None = None,
        skip_bad: bool = False,
    ):
        if mode not in ("train", "eval"):
            raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
        preset_cfg = load_config("data", preset)
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset folder not found")
        self.split, self.mode, self.segment = split, mode, segment
        self.stems = list(stems or preset_cfg["stems"])
        self.min_active_stems, self.seed, self.max_redraws = min_active_stems, seed, max_redraws
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.skipped: list[str] = []  # with skip_bad: the errors of the tracks left out
        self.tracks = scan_split(self.root, split, self.stems, pad_mismatched, self.skipped if skip_bad else None)
        self.epoch = 0
        if mode == "train":
            self.track_of_item = [i for i, t in enumerate(self.tracks) for _ in range(max(1, t.length // segment))]
        else:
            self.eval_items = self._eval_items()

    # -- evaluation index ------------------------------------------------------------------
    def _index_key(self) -> str:
        state = [str(self.root.resolve()), self.split, self.stems, self.segment, self.min_active_stems]
        for t in self.tracks:
            for f in t.files.values():
                if f is not None:
                    st = f.path.stat()
                    state.append([str(f.path), st.st_size, st.st_mtime_ns])
        return hashlib.sha1(json.dumps(state).encode()).hexdigest()[:16]

    def _eval_items(self) -> list[tuple[int, int]]:
        def all_segments(t: Track) -> list[int]:
            return [k * self.segment for k in range(max(1, t.length // self.segment))]

        if self.min_active_stems <= 0:
            return [(i, s) for i, t in enumerate(self.tracks) for s in all_segments(t)]
        cache = self.cache_dir / "index" / f"eval-{self._index_key()}.json"
        if cache.exists():
            return [tuple(x) for x in json.loads(cache.read_text())]
        items = []
        for i, t in enumerate(self.tracks):
            for s in all_segments(t):
                if active_stems(read_segment(t, self.stems, s, self.segment)) >= self.min_active_stems:
                    items.append((i, s))
        atomic_write_text(cache, json.dumps(items))
        return items

    # -- Dataset API -----------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.track_of_item) if self.mode == "train" else len(self.eval_items)

    def __getitem__(self, index: int) -> dict:
        if self.mode == "train":
            track = self.tracks[self.track_of_item[index]]
            rng = np.random.default_rng([self.seed, self.epoch, index])
            for _ in range(self.max_redraws + 1):
                start = int(rng.integers(0, max(0, track.length - self.segment) + 1))
                stems = read_segment(track, self.stems, start, self.segment)
                if active_stems(stems) >= self.min_active_stems:
                    break
        else:
            t_index, start = self.eval_items[index]
            track = self.tracks[t_index]
            stems = read_segment(track, self.stems, start, self.segment)
        stems_t = torch.from_numpy(stems)
        return {"stems": stems_t, "mixture": stems_t.sum(dim=0), "track": track.name, "start": start}
