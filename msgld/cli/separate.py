"""`msgld separate INPUT... -o OUT`: files or folders -> OUT/<relative path>/<stem>.<fmt>."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from msgld.audio.io import READ_EXTENSIONS, AudioError, load_audio
from msgld.cli.common import (
    add_model_arguments, add_output_arguments, add_sampler_arguments, distributed_rank, load_bundle_from_args,
    run_record, window_progress, write_json, write_stems,
)

log = logging.getLogger(__name__)


def collect_inputs(inputs: list[str], recursive: bool, extensions: list[str]) -> list[tuple[Path, Path]]:
    """-> [(file, output path relative to OUT without extension)]; refuses colliding outputs."""
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            files = sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() in exts)
            if not files:
                log.warning("%s: no audio files with extensions %s%s", path, sorted(exts),
                            "" if recursive else " (use --recursive for subfolders)")
            found += [(f, f.relative_to(path).with_suffix("")) for f in files]
        else:
            found.append((path, Path(path.stem)))
    seen: dict[Path, Path] = {}
    for f, rel in found:
        if rel in seen and seen[rel] != f:
            raise ValueError(f"{f} and {seen[rel]} would both be written to {rel}/; separate them in two runs "
                             "or pass their folder with --recursive")
        seen[rel] = f
    return found


def is_complete(folder: Path, stems: list[str], fmt: str) -> bool:
    return (folder / "run.json").exists() and all((folder / f"{s}.{fmt}").exists() for s in stems)


def run(args: argparse.Namespace) -> int:
    from msgld.inference.separator import Separator

    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    bundle = load_bundle_from_args(args)
    separator = Separator(bundle)
    settings = separator.settings(guidance=args.guidance, sampler=args.sampler, steps=args.steps, eta=args.eta,
                                  overlap=args.overlap, batch_size=args.batch_size, seed=args.seed,
                                  reconstruct=args.reconstruct, method=args.method,
                                  precision=args.precision, ensemble=args.ensemble, spacing=args.spacing,
                                  refine=args.refine, refine_strength=args.refine_strength)
    files = collect_inputs(args.inputs, args.recursive, args.extensions.split(","))
    rank, world = distributed_rank()
    files = files[rank::world]
    out = Path(args.out)
    failures, timings = [], {}
    for path, rel in files:
        target = out / rel
        if args.skip_existing and is_complete(target, bundle.stems, args.format):
            log.info("%s: complete, skipped", target)
            continue
        started = time.perf_counter()
        try:
            mixture = load_audio(path)
        except AudioError as e:
            log.error("%s", e)
            failures.append(f"{e}")
            continue
        with window_progress(str(rel), args.quiet) as progress:
            stems = separator.separate(mixture, progress=progress, **settings).numpy()
        elapsed = time.perf_counter() - started
        written = write_stems(target, bundle.stems, stems, args.format)
        timings[str(rel)] = round(elapsed, 3)
        write_json(target / "run.json", run_record(bundle, settings, input=str(path), files=written,
                                                  seconds=round(elapsed, 3),
                                                  audio_seconds=round(len(mixture) / 16000, 3)))
        if not args.quiet:
            print(f"{path} -> {target}/ ({elapsed:.1f} s)")
    name = "run.json" if world == 1 else f"run.rank{rank}.json"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / name, run_record(bundle, settings, inputs=args.inputs, timings=timings, failures=failures,
                                      rank=rank, world_size=world))
    if failures:
        print(f"msgld separate: {len(failures)} file(s) failed:", *failures, sep="\n  ")
        return 1
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("separate", help="separate mixtures into stems",
                              description="Separate audio files (or folders of them) into stems.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders")
    p.add_argument("-o", "--out", default="separated", help="output folder (default: separated)")
    p.add_argument("--recursive", action="store_true", help="find files in subfolders and mirror them in OUT")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose outputs are complete")
    p.add_argument("--extensions", default=",".join(e[1:] for e in READ_EXTENSIONS),
                   help="comma-separated extensions to take from folders")
    p.add_argument("--batch-size", type=int, help="windows per network call")
    p.add_argument("--ensemble", type=int, help="samples per window, averaged (mean mel power; k times slower)")
    p.add_argument("--reconstruct", choices=("mask", "vocoder"),
                   help="mask: mixture-phase (stems sum to the input, default); vocoder: HiFi-GAN")
    p.add_argument("--method", choices=("msgld", "dirac", "gaussian"),
                   help="msgld (conditional, default) or MSDM-style latent separation on the unconditional model")
    add_sampler_arguments(p, guidance=True)
    p.add_argument("--refine", type=int, metavar="K",
                   help="warm-start refinement: noise the estimate again to --refine-strength and run K more steps")
    p.add_argument("--refine-strength", type=float, metavar="S", help="where refinement starts, t0 = S * T (0 < S <= 1)")
    add_model_arguments(p)
    add_output_arguments(p)
    p.set_defaults(func=run)
