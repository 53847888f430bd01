"""`msgld generate -n N --duration SEC -o OUT`: OUT/sample_NNN/<stem>.<fmt> + mix + run.json."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from msgld.cli.common import (
    OutputFormat, add_model_arguments, add_output_arguments, add_seed_argument, add_setting_arguments,
    load_bundle_from_args, run_record, settings_from_args, window_progress, write_json, write_stem_files,
)


def run(args: argparse.Namespace) -> int:
    from msgld.inference.generator import Generator

    if args.n < 1:
        raise ValueError(f"-n must be at least 1, got {args.n}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    out_format = OutputFormat.from_args(args)
    bundle = load_bundle_from_args(args)
    gen = Generator(bundle)
    settings = settings_from_args(gen, args, guidance=0.0)
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
            written, report = write_stem_files(folder, bundle.stems, stems, out_format, gen.sample_rate,
                                               extra={"mix": stems.sum(0)})
            write_json(folder / "run.json", run_record(bundle, settings, seed=seed, duration=args.duration,
                                                      files=written, seconds_per_piece=elapsed, batch=len(indices),
                                                      output=report))
            timings[folder.name] = elapsed
            if not args.quiet:
                print(f"{folder}/ ({elapsed:.1f} s)")
    write_json(out / "run.json", run_record(bundle, settings, seed=args.seed, n=args.n, duration=args.duration,
                                            timings=timings))
    return 0


def register(subparsers) -> None:
    from msgld.inference.generator import Generator

    p = subparsers.add_parser("generate", help="generate new multi-track music (all stems together)",
                              description="Total generation: the model writes every stem from nothing (w = 0).")
    p.add_argument("-n", type=int, default=1, help="number of pieces")
    p.add_argument("--duration", type=float, default=10.24, help="seconds per piece (longer by continuation)")
    p.add_argument("-o", "--out", default="generated", help="output folder")
    p.add_argument("--batch-size", type=int, default=4, help="pieces sampled together (faster; more memory)")
    add_setting_arguments(p, Generator, skip=("guidance",))
    add_seed_argument(p)
    add_model_arguments(p)
    add_output_arguments(p)
    p.set_defaults(func=run)
