"""Separation speed, memory and quality of a model (default: the shipped msgld-tiny).

    python -m benchmarks separate [--quick]           # via the common runner
    python benchmarks/bench_separate.py --data DIR --out FILE.json [--model M] [--clips N]

Rows: wall time to separate 10.24 s with the default settings (aim: < 2.5 s on 2 CPU cores);
peak memory (max RSS of a fresh `msgld separate` process) separating 3- and 10-minute files
(aim: flat, < 1.5 GB); and, with `--data` (or $MSGLD_BENCH_DATA), a sampler x steps x guidance
table of time and si_sdri_wave on test clips (`--grid` picks the cells, `--no-speed` skips the rest).
`--rate HZ --channels C` (e.g. 44100 2) times and measures inputs at that rate and channel
count (stems at the input's format) next to the 16 kHz mono rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

from msgld import SAMPLE_RATE
from msgld.inference.bundle import DEFAULT_MODEL


def clip_of(seconds: float, seed: int = 0, rate: int = 16000, channels: int = 1) -> np.ndarray:
    """A deterministic stand-in mixture (tones and noise bursts) of `seconds`: [L] for one
    channel, else [C, L] (each channel a different balance)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tones = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (110, 220, 330, 554))
    bursts = (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.standard_normal(t.size) * 0.2
    if channels == 1:
        return (tones + bursts).astype(np.float32)
    pans = np.linspace(0.3, 1.0, channels)[:, None]
    return (pans * tones + pans[::-1] * bursts).astype(np.float32)


def time_separation(model: str, settings: dict, seconds: float = 10.24, repeats: int = 3, rate: int = 16000,
                    channels: int = 1) -> float:
    from msgld.inference.separator import Separator

    sep = Separator(model)
    mix = clip_of(seconds, rate=rate, channels=channels)
    sep.separate(mix, sample_rate=rate, **settings)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sep.separate(mix, sample_rate=rate, **settings)
        times.append(time.perf_counter() - t0)
    return min(times)


def peak_memory_mb(model: str, minutes: float, steps: int, rate: int = 16000, channels: int = 1) -> float:
    """Peak RSS of a fresh process that runs `msgld separate` on a `minutes`-long file (MB), as
    that process reports it: its own VmHWM (ru_maxrss would carry the parent's peak across the
    fork and exec on Linux, so it read this benchmark's own memory, not the child's)."""
    import tempfile

    from msgld.audio.io import save_audio

    with tempfile.TemporaryDirectory() as tmp:
        song = save_audio(os.path.join(tmp, "song.wav"), clip_of(minutes * 60, rate=rate, channels=channels), rate,
                          "int16")
        code = (
            "import resource, sys; sys.path.insert(0, %r)\n"
            "from msgld.cli import main\n"
            "assert main(['separate', %r, '-o', %r, '--model', %r, '--steps', '%d', '-q']) == 0\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
            "print(int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        ) % (os.getcwd(), str(song), os.path.join(tmp, "out"), model, steps)
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def quality_table(model: str, data: str, clips: int, grid: list[tuple], precision: str = "auto") -> list[dict]:
    """si_sdri_wave and time per clip for each (sampler, steps, guidance, ensemble), on `clips` test clips
    spread evenly over the split (one clip per track where possible)."""
    from msgld.data.stems_dataset import MultiStemDataset
    from msgld.eval.metrics import SeparationScores
    from msgld.inference.separator import Separator

    ds = MultiStemDataset(data, "test", mode="eval", min_active_stems=2)
    picks = sorted({int(i) for i in np.linspace(0, len(ds) - 1, min(clips, len(ds)))})
    items = [ds[i] for i in picks]
    sep = Separator(model)
    rows = []
    for sampler, steps, guidance, ensemble in grid:
        scores = SeparationScores(sep.stems)
        t_total = 0.0
        for i, item in zip(picks, items):
            t0 = time.perf_counter()
            est = sep.separate(item["mixture"], sample_rate=SAMPLE_RATE, sampler=sampler, steps=steps,
                               guidance=guidance, seed=i, precision=precision, ensemble=ensemble)
            t_total += time.perf_counter() - t0
            scores.update(est[None], item["stems"][None], item["mixture"][None])
        mean = scores.mean()
        rows.append({"name": "separate-quality", "sampler": sampler, "steps": steps, "guidance": guidance,
                     "ensemble": ensemble, "precision": sep.settings(precision=precision)["precision"], "clips": len(items),
                     "seconds_per_clip": round(t_total / len(items), 2),
                     "si_sdri_wave": round(mean["si_sdri_wave"], 2), "mel_mse": round(mean["mel_mse"], 3)})
        print(rows[-1], flush=True)
    return rows


DEFAULT_GRID = [(s, n, w, 1) for s in ("ddim", "plms", "dpmsolver++") for n in (5, 10, 20, 50) for w in (1.0, 2.0)]


def parse_grid(text: str) -> list[tuple[str, int, float, int]]:
    """"dpmsolver++:10:1,ddim:20:2:3" -> [("dpmsolver++", 10, 1.0, 1), ("ddim", 20, 2.0, 3)]
    (sampler:steps:guidance[:ensemble])."""
    out = []
    for cell in text.split(","):
        sampler, steps, guidance, *ensemble = cell.split(":")
        out.append((sampler, int(steps), float(guidance), int(ensemble[0]) if ensemble else 1))
    return out


def run(quick: bool = False, model: str = DEFAULT_MODEL, data: str | None = None, clips: int = 8,
        grid: list[tuple] | None = None, precision: str = "auto", speed: bool = True, rate: int | None = None,
        channels: int = 1) -> list[dict]:
    torch.manual_seed(0)
    rows = []
    from msgld.inference.separator import Separator

    if speed:
        defaults = {k: Separator.defaults[k] for k in ("sampler", "steps", "guidance", "batch_size")}
        precision_used = Separator(model).settings()["precision"]
        sec = time_separation(model, {}, repeats=1 if quick else 3)
        rows.append({"name": "separate-10.24s", "model": model, **defaults, "precision": precision_used,
                     "seconds": round(sec, 3), "x_realtime": round(10.24 / sec, 2), "aim_seconds": 2.5})
        formats = [(16000, 1)] + ([(rate, channels)] if rate else [])
        if rate:
            sec_native = time_separation(model, {}, repeats=1 if quick else 3, rate=rate, channels=channels)
            rows.append({"name": f"separate-10.24s-{rate}Hz-{channels}ch", "model": model, **defaults,
                         "precision": precision_used, "seconds": round(sec_native, 3),
                         "x_realtime": round(10.24 / sec_native, 2), "vs_16k_mono": round(sec_native / sec, 2),
                         "aim_vs_16k_mono": 1.3})
        for sr, ch in formats:
            for minutes in ([3.0] if quick else [3.0, 10.0]):
                rows.append({"name": "separate-peak-memory", "model": model, "minutes": minutes, "rate": sr,
                             "channels": ch, "peak_rss_mb": round(peak_memory_mb(model, minutes, 1, sr, ch), 1),
                             "aim_mb": 1536})
    data = data or os.environ.get("MSGLD_BENCH_DATA")
    if data and not quick:
        rows += quality_table(model, data, clips, grid or DEFAULT_GRID, precision)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", help="dataset folder with a test split (for the quality table)")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--grid", help="sampler:steps:guidance[:ensemble] cells, comma-separated (default: 3 samplers x "
                        "5/10/20/50 steps x w 1/2)")
    parser.add_argument("--precision", default="auto", help="network precision for the quality table")
    parser.add_argument("--no-speed", action="store_true", help="only the quality table")
    parser.add_argument("--rate", type=int, help="also time and measure inputs at this sample rate (e.g. 44100)")
    parser.add_argument("--channels", type=int, default=2, help="channels of the --rate inputs")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())
    from benchmarks.run import format_table

    result = run(args.quick, args.model, args.data, args.clips, parse_grid(args.grid) if args.grid else None,
                 args.precision, speed=not args.no_speed, rate=args.rate, channels=args.channels)
    print(format_table(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
