"""Options shared by the inference commands (no `register`: not a command itself)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from msgld import SAMPLE_RATE, __version__
from msgld.audio.io import atomic_write_text, save_audio
from msgld.diffusion.samplers import SAMPLERS, SPACINGS
from msgld.diffusion.sampling import PRECISIONS

FORMATS = ("wav", "flac", "mp3")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="msgld-tiny", help="a shipped model name or a folder with vae/ldm/vocoder weights")
    p.add_argument("--checkpoint", help="an ldm weights pair (.safetensors + .json) that replaces the model's")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1")


def add_sampler_arguments(p: argparse.ArgumentParser, guidance: bool = False) -> None:
    """Defaults are None: the pipeline's own defaults apply (recorded in run.json)."""
    p.add_argument("--sampler", choices=SAMPLERS, help="diffusion sampler")
    p.add_argument("--steps", type=int, help="sampling steps")
    p.add_argument("--eta", type=float, help="DDIM eta (0 = deterministic)")
    p.add_argument("--spacing", choices=SPACINGS,
                   help="timestep spacing (trailing: the first step at t = T; with --steps 1 the one-step estimate)")
    if guidance:
        p.add_argument("--guidance-scale", type=float, dest="guidance",
                       help="classifier-free guidance weight w (>= 1 separates; 0 < w < 1 gives variations)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (recorded in run.json)")
    p.add_argument("--overlap", type=float, help="overlap of consecutive model windows, seconds")
    p.add_argument("--precision", choices=PRECISIONS, help="the network's precision (bf16: autocast, faster on recent CPUs)")


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="wav", help="output audio format")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def load_bundle_from_args(args):
    from msgld.inference.bundle import load_bundle

    return load_bundle(args.model, args.device, checkpoint=args.checkpoint)


def write_stems(folder: Path, names: list[str], stems, fmt: str, extra: dict[str, np.ndarray] | None = None) -> list[str]:
    """Each stem atomically (temp file + rename); returns the file names."""
    written = []
    subtype = "int16" if fmt == "mp3" else "float32"
    for name, wave in list(zip(names, stems)) + list((extra or {}).items()):
        path = folder / f"{name}.{fmt}"
        save_audio(path, np.asarray(wave, dtype=np.float32), SAMPLE_RATE, subtype=subtype)
        written.append(path.name)
    return written


def run_record(bundle, settings: dict, **extra) -> dict:
    return {
        "msgld_version": __version__, "python": platform.python_version(), "command": sys.argv,
        "model": str(bundle.folder), "weights_hash": bundle.weights_hash(), "stems": bundle.stems,
        "sample_rate": SAMPLE_RATE, "settings": settings, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **extra,
    }


def write_json(path: Path, record: dict) -> None:
    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")


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
