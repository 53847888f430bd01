"""The tiny LDM's training step on this CPU, fp32 and bf16 autocast: milliseconds and the
achieved GFLOP/s next to a measured conv3d peak.

    python benchmarks/bench_ldm_train.py [--batch 4] [--frames 256] [--repeats 5] [--out FILE.json]

FLOPs of a step (forward + backward) are counted by torch's FlopCounterMode on the meta
device; the peak is the best of a few large 3x3x3 conv3d forwards of the U-Net's widths.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from msgld.config import load_config
from msgld.diffusion.objective import diffusion_loss
from msgld.diffusion.schedule import training_scheduler
from msgld.models.unet3d import MultiTrackUNet


def conv3d_peak(repeats: int = 3) -> float:
    """GFLOP/s of the fastest 3x3x3 conv3d forward among the U-Net's shapes (fp32)."""
    best = 0.0
    for c, t, f in ((32, 256, 16), (64, 128, 8), (96, 64, 4)):
        x = torch.randn(4, c, 8, t, f)
        conv = torch.nn.Conv3d(c, c, 3, padding=1)
        flops = 2 * x.numel() * c * 27
        with torch.no_grad():
            conv(x)
            for _ in range(repeats):
                t0 = time.perf_counter()
                conv(x)
                best = max(best, flops / (time.perf_counter() - t0) / 1e9)
    return best


def step_flops(cfg: dict, shape: tuple) -> int:
    with torch.device("meta"):
        model = MultiTrackUNet(cfg["model"])
        x, c = torch.zeros(shape), torch.zeros(shape[0], *shape[2:])
        counter = FlopCounterMode(display=False)
        with counter:
            model(x, torch.zeros(shape[0], dtype=torch.long), c).square().mean().backward()
    return counter.get_total_flops()


def time_steps(cfg: dict, shape: tuple, bf16: bool, repeats: int) -> float:
    torch.manual_seed(0)
    model = MultiTrackUNet(cfg["model"])
    sched = training_scheduler(cfg["diffusion"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    z0, cond = torch.randn(shape), torch.randn(shape[0], *shape[2:])
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = diffusion_loss(model, z0, cond, sched, 0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def run(quick: bool = False, batch: int = 4, frames: int = 256, repeats: int = 5) -> list[dict]:
    if quick:
        frames, repeats = 64, 2
    cfg = load_config("ldm", "tiny")
    shape = (batch, len(cfg["model"]["stems"]), cfg["model"]["latent_channels"], frames, 16)
    flops = step_flops(cfg, shape)
    peak = conv3d_peak()
    rows = []
    for bf16 in (False, True):
        sec = time_steps(cfg, shape, bf16, repeats)
        rows.append({
            "name": "ldm-train-step", "config": "tiny", "shape": "x".join(map(str, shape)),
            "precision": "bf16-autocast" if bf16 else "fp32", "threads": torch.get_num_threads(),
            "ms_per_step": round(sec * 1000, 1), "gflop_per_step": round(flops / 1e9, 1),
            "gflops_per_s": round(flops / sec / 1e9, 1), "conv3d_peak_gflops_fp32": round(peak, 1),
            "fraction_of_peak": round(flops / sec / 1e9 / peak, 3),
        })
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = run(batch=args.batch, frames=args.frames, repeats=args.repeats)
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)
