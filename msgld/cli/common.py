"""Options shared by the inference commands (no `register`: not a command itself): the model,
the pipelines' settings as flags (from their typed settings, `msgld.inference.settings`), and the
output files (format, sample format, clipping), written block by block and atomically."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from msgld import SAMPLE_RATE, __version__
from msgld.atomic import atomic_write_text
from msgld.audio.io import CLIP_MODES, FORMATS as FILE_FORMATS, AudioWriter, output_subtype, pcm_peak
from msgld.inference.settings import SettingError, add_arguments, flag_of, from_args

FORMATS = ("wav", "flac", "mp3")
SAMPLE_FORMATS = ("float32", "int24", "int16")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="msgld-tiny", help="a shipped model name or a folder with vae/ldm/vocoder weights")
    p.add_argument("--checkpoint", help="an ldm weights pair (.safetensors + .json) that replaces the model's")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1")


def add_setting_arguments(p: argparse.ArgumentParser, pipeline, skip: tuple[str, ...] = ()) -> None:
    """The flags of a pipeline class's settings; defaults None, so the pipeline's apply."""
    add_arguments(p, pipeline.Settings, pipeline.defaults, skip)


def settings_from_args(pipeline, args: argparse.Namespace, **fixed) -> dict:
    """The pipeline's validated settings from the flags given; an error names the flag."""
    try:
        return pipeline.settings(**{**from_args(args, pipeline.Settings), **fixed})
    except SettingError as e:
        raise ValueError(f"{flag_of(pipeline.Settings, e.name)}: {e}") from e


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="wav", help="output audio format")
    kinds = p.add_mutually_exclusive_group()
    kinds.add_argument("--float32", dest="sample_format", action="store_const", const="float32",
                       help="32-bit float samples (the default; FLAC stores 24-bit integers)")
    kinds.add_argument("--int24", dest="sample_format", action="store_const", const="int24", help="24-bit integers")
    kinds.add_argument("--int16", dest="sample_format", action="store_const", const="int16", help="16-bit integers")
    p.set_defaults(sample_format="float32")
    p.add_argument("--clip-mode", choices=CLIP_MODES, default="rescale",
                   help="integer and MP3 output beyond full scale: rescale (all files of a run by one gain, "
                        "recorded; default) or clamp (never wraps around)")
    p.add_argument("--mp3-bitrate", type=int, metavar="KBPS",
                   help="constant MP3 bitrate (default: the highest the rate allows, 320 at 32-48 kHz)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


@dataclass(frozen=True)
class OutputFormat:
    """How the audio files of a run are stored."""

    fmt: str = "wav"
    sample_format: str = "float32"
    clip_mode: str = "rescale"
    mp3_bitrate: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "OutputFormat":
        if args.mp3_bitrate is not None and args.format != "mp3":
            raise ValueError("--mp3-bitrate: only for --format mp3")
        return cls(args.format, args.sample_format, args.clip_mode, args.mp3_bitrate)

    @property
    def stored(self) -> str:
        """What the files hold: float32, int24, int16 or mp3."""
        return output_subtype(FILE_FORMATS[f".{self.fmt}"], self.sample_format)

    @property
    def full_scale(self) -> float | None:
        """The largest value the files store as it is (None: float, no limit)."""
        if self.stored == "float32":
            return None
        return 1.0 if self.stored == "mp3" else pcm_peak(self.stored)

    def gain_for(self, peak: float) -> float:
        """One gain for every file of a run that keeps `peak` within full scale (rescale), else 1."""
        limit = self.full_scale
        if self.clip_mode != "rescale" or limit is None or peak <= limit:
            return 1.0
        return limit / peak

    def describe(self) -> dict:
        return {"format": self.fmt, "sample_format": self.stored, "clip_mode": self.clip_mode,
                **({"mp3_bitrate": self.mp3_bitrate or "highest"} if self.fmt == "mp3" else {})}


class StemFiles:
    """The files of one output folder, written block by block (each under a temporary name until
    `close`), scaled by `gain` and clamped at full scale; with a reference (the input), the error
    of the stored files' sum against it is measured on the way."""

    def __init__(self, folder: Path, names: list[str], sample_rate: int, channels: int, out: OutputFormat,
                 gain: float = 1.0):
        self.out, self.gain, self.names = out, gain, names
        self.writers: list[AudioWriter] = []
        try:
            for name in names:
                self.writers.append(AudioWriter(folder / f"{name}.{out.fmt}", sample_rate, channels,
                                                out.sample_format, out.mp3_bitrate))
        except BaseException:
            self.abort()
            raise
        self.err2 = self.ref2 = self.max_err = 0.0
        self.clamped = 0
        self.measured = False

    def write(self, blocks: np.ndarray, reference: np.ndarray | None = None) -> None:
        """blocks [K, C, n] (or [K, n]) for the K files, in order; reference [C, n] (or [n])."""
        blocks = np.asarray(blocks, dtype=np.float32) * np.float32(self.gain)
        limit = self.out.full_scale
        if limit is not None:  # beyond full scale by more than rounding takes back: clamped
            self.clamped += int((np.abs(blocks) > limit + (1 - limit) / 2 + 1e-7).sum())
            if self.out.stored == "mp3":
                blocks = np.clip(blocks, -1.0, 1.0)
        stored = [w.write(b) for w, b in zip(self.writers, blocks)]
        if reference is not None:
            err = np.sum(np.asarray(stored, dtype=np.float64), axis=0) - np.asarray(reference, dtype=np.float64)
            self.err2 += float(np.sum(err * err))
            self.ref2 += float(np.sum(np.asarray(reference, dtype=np.float64) ** 2))
            self.max_err = max(self.max_err, float(np.max(np.abs(err))) if err.size else 0.0)
            self.measured = True

    def close(self) -> list[str]:
        return [w.close().name for w in self.writers]

    def abort(self) -> None:
        for w in self.writers:
            w.abort()

    def report(self) -> dict:
        """For run.json: the gain, the clamped samples and the sum's error against the input."""
        rec = {**self.out.describe(), "gain": self.gain, "clamped_samples": self.clamped}
        if self.measured:
            snr = math.inf if self.err2 == 0 else 10 * math.log10(max(self.ref2, 1e-300) / self.err2)
            rec["sum_error"] = {"max_abs": self.max_err, "snr_db": round(snr, 1) if math.isfinite(snr) else "inf",
                                "against": "the input" + (f" (stems scaled by {self.gain:.6g})" if self.gain != 1 else "")}
            if self.out.stored == "mp3":
                rec["sum_error"]["note"] = "before MP3 encoding; decoded MP3 stems are not sample-exact"
        return rec


def load_bundle_from_args(args):
    from msgld.inference.bundle import load_bundle

    return load_bundle(args.model, args.device, checkpoint=args.checkpoint)


def write_stem_files(folder: Path, names: list[str], stems, out: OutputFormat, sample_rate: int = SAMPLE_RATE,
                     extra: dict[str, np.ndarray] | None = None, reference=None) -> tuple[list[str], dict]:
    """Whole arrays [K, (C,) L] (+ `extra` files) -> files and the report (one gain for all)."""
    waves = [np.asarray(w, dtype=np.float32) for w in [*stems, *(extra or {}).values()]]
    all_names = [*names, *(extra or {})]
    peak = max((float(np.max(np.abs(w))) for w in waves if w.size), default=0.0)
    channels = 1 if waves[0].ndim == 1 else waves[0].shape[0]
    files = StemFiles(folder, all_names, sample_rate, channels, out, out.gain_for(peak))
    try:
        files.write(np.stack(waves))
    except BaseException:
        files.abort()
        raise
    return files.close(), files.report()


def write_stems(folder: Path, names: list[str], stems, fmt: str, extra: dict[str, np.ndarray] | None = None,
                sample_rate: int = SAMPLE_RATE, out: OutputFormat | None = None) -> list[str]:
    """Each stem atomically (temp file + rename); returns the file names."""
    return write_stem_files(folder, names, stems, out or OutputFormat(fmt), sample_rate, extra)[0]


def run_record(bundle, settings: dict, **extra) -> dict:
    return {
        "msgld_version": __version__, "python": platform.python_version(), "command": sys.argv,
        "model": str(bundle.folder), "weights_hash": bundle.weights_hash(), "stems": bundle.stems,
        "sample_rate": SAMPLE_RATE, "settings": settings, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **extra,
    }


def write_json(path: Path, record: dict) -> None:
    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")


def add_seed_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (recorded in run.json)")


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) under torchrun, else (0, 1)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


@contextlib.contextmanager
def window_progress(desc: str, quiet: bool):
    """A tqdm bar driven by the pipelines' `progress(done, total)` callbacks (one per file)."""
    bar = tqdm(total=1, desc=desc, unit="window", disable=quiet, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        yield progress
    finally:
        bar.close()
