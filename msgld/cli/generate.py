"""`msgld generate -n N --duration SEC -o OUT`: OUT/sample_NNN/<stem>.<fmt> + mix + run.json."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from msgld.cli.common import (
    add_model_arguments, add_output_arguments, add_sampler_arguments, load_bundle_from_args, run_record,
    window_progress, write_json, write_stems,
)


def run(args: argparse.Namespace) -> int:
    from msgld.inference.generator import Generator

    if args.n < 1:
        raise ValueError(f"-n must be at least 1, got {args.n}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    bundle = load_bundle_from_args(args)
    gen = Generator(bundle)
    settings = gen.settings(sampler=args.sampler, steps=args.steps, eta=args.eta, overlap=args.overlap,
                            repaint=args.repaint, guidance=0.0, precision=args.precision, spacing=args.spacing)
    out = Path(args.out)
    timings = {}
    for first in range(0, args.n, args.batch_size):
        indices = list(range(first, min(args.n, first + args.batch_size)))
        seeds = [args.seed + i for i in indices]
        started = time.perf_counter()
        label = f"sample_{indices[0]:03d}" + (f"..{indices[-1]:03d}" if len(indices) > 1 else "")
        with window_progress(label, args.quiet) as progress:
            pieces = gen.generate_batch(seeds, args.duration, progress=progress, **settings).numpy()
        elapsed = round((time.perf_counter() - started) / len(indices), 3)
        for i, seed, stems in zip(indices, seeds, pieces):
            folder = out / f"sample_{i:03d}"
            written = write_stems(folder, bundle.stems, stems, args.format, extra={"mix": stems.sum(0)})
            write_json(folder / "run.json", run_record(bundle, settings, seed=seed, duration=args.duration,
                                                      files=written, seconds_per_piece=elapsed, batch=len(indices)))
            timings[folder.name] = elapsed
            if not args.quiet:
                print(f"{folder}/ ({elapsed:.1f} s)")
    write_json(out / "run.json", run_record(bundle, settings, seed=args.seed, n=args.n, duration=args.duration,
                                            timings=timings))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="generate new multi-track music (all stems together)",
                              description="Total generation: the model writes every stem from nothing (w = 0).")
    p.add_argument("-n", type=int, default=1, help="number of pieces")
    p.add_argument("--duration", type=float, default=10.24, help="seconds per piece (longer by continuation)")
    p.add_argument("-o", "--out", default="generated", help="output folder")
    p.add_argument("--batch-size", type=int, default=4, help="pieces sampled together (faster; more memory)")
    p.add_argument("--repaint", type=int, help="RePaint resampling per step when continuing (ddim only)")
    add_sampler_arguments(p)
    add_model_arguments(p)
    add_output_arguments(p)
    p.set_defaults(func=run)
