"""What the LDM's training augmentation (msgld.data.remix) costs per step: milliseconds to
assemble one batch from a latent cache with and without remixes and stem gains, next to the
time of the tiny U-Net's training step on the same batch shape.

    python benchmarks/bench_augment.py --cache LATENTS [--batch 8] [--frames 64] [--batches 6] [--out F.json]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import default_collate

from benchmarks.bench_ldm_train import time_steps
from benchmarks.timing import report
from msgld.config import load_config
from msgld.data.latent_cache import LatentDataset
from msgld.data.remix import AugmentedLatents

SETTINGS = [{"remix": 0.0, "gain_db": 0.0}, {"remix": 0.5, "gain_db": 0.0}, {"remix": 1.0, "gain_db": 0.0},
            {"remix": 0.0, "gain_db": 6.0}, {"remix": 0.5, "gain_db": 6.0}]


def batch_ms(dataset, batch: int, batches: int) -> float:
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0)).tolist()
    times = []
    for b in range(batches):
        t0 = time.perf_counter()
        default_collate([dataset[i] for i in order[b * batch:(b + 1) * batch]])
        times.append(time.perf_counter() - t0)
    return 1000 * sorted(times)[len(times) // 2]


def run(cache: str, batch: int = 8, frames: int = 64, batches: int = 6) -> list[dict]:
    base = LatentDataset(cache, "train", frames, seed=0)
    cfg = load_config("ldm", "tiny")
    shape = (batch, len(cfg["model"]["stems"]), cfg["model"]["latent_channels"], frames, 16)
    step = 1000 * time_steps(cfg, shape, bf16=False, repeats=3)
    rows = []
    for s in SETTINGS:
        data = base if not any(s.values()) else AugmentedLatents(base, **s, seed=0)
        ms = batch_ms(data, batch, batches)
        rows.append({**s, "batch": batch, "frames": frames, "tracks": len(base.tracks), "threads": torch.get_num_threads(),
                     "batch_ms": round(ms, 1), "train_step_ms_fp32": round(step, 1),
                     "batch_over_step": round(ms / step, 3)})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = run(args.cache, args.batch, args.frames, args.batches)
    report(rows, args.out)
