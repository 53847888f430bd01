"""How many 4-stem 10.24 s segments per second the dataset + mel front-end deliver on one core.

The input pipeline must not be the bottleneck of CPU training (aim: 20 or more per second).
Writes a small Slakh-style folder (22.05 kHz, as the MSDM baseline prepares Slakh2100) to a
temp dir, then times `MultiStemDataset` (train mode, random shifts, resampling to 16 kHz) and
the log-mel of the 4 stems and the mixture.

    python benchmarks/bench_dataset.py [--out results.json] [--items 60]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from msgld.audio.mel import MelFrontEnd
from msgld.data.stems_dataset import MultiStemDataset


def make_folder(root: Path, sample_rate: int, tracks: int = 4, seconds: float = 60.0) -> None:
    rng = np.random.default_rng(0)
    for k in range(tracks):
        folder = root / "train" / f"Track{k:05d}"
        folder.mkdir(parents=True)
        for stem in ("bass", "drums", "guitar", "piano"):
            wave = (0.1 * rng.standard_normal(int(seconds * sample_rate))).astype(np.float32)
            sf.write(folder / f"{stem}.wav", wave, sample_rate, subtype="PCM_16")


def run(quick: bool = False, items: int = 60) -> list[dict]:
    items = 10 if quick else items
    torch.set_num_threads(1)
    front = MelFrontEnd()
    rows = []
    for sample_rate in (22050, 16000, 44100):
        with tempfile.TemporaryDirectory() as tmp:
            make_folder(Path(tmp), sample_rate)
            ds = MultiStemDataset(tmp, "train", segment=163840, seed=0, cache_dir=Path(tmp) / ".cache")
            n = min(items, len(ds))
            t0 = time.perf_counter()
            for i in range(n):
                ds[i]
            t_load = time.perf_counter() - t0
            t0 = time.perf_counter()
            for i in range(n):
                item = ds[i]
                front(torch.cat([item["stems"], item["mixture"][None]]))
            t_total = time.perf_counter() - t0
        rows.append({
            "name": "dataset+mel", "file_rate": sample_rate, "segments": n, "threads": 1,
            "load_per_s": round(n / t_load, 1), "load_mel_per_s": round(n / t_total, 1),
            "target_per_s": 20,
        })
    return rows


def print_table(rows: list[dict]) -> None:
    keys = list(rows[0])
    print(" | ".join(keys))
    print(" | ".join("---" for _ in keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = run(items=args.items)
    print_table(rows)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
