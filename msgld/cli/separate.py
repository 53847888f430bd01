"""`msgld separate INPUT... -o OUT`: files or folders -> OUT/<relative path>/<stem>.<fmt>."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from msgld.audio.io import READ_EXTENSIONS, AudioError, check_output, load_audio_native, resample
from msgld.audio.validate import check_duration, file_warnings
from msgld.cli.common import (
    OutputFormat, StemFiles, add_model_arguments, add_output_arguments, add_setting_arguments, distributed_rank,
    load_bundle_from_args, run_record, settings_from_args, window_progress, write_json,
)
from msgld.inference.separator import two_stem_names, two_stems

log = logging.getLogger(__name__)


def collect_inputs(inputs: list[str], recursive: bool, extensions: list[str]) -> list[tuple[Path, Path]]:
    """-> [(file, output path relative to OUT without extension)]; refuses colliding outputs."""
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            # folders and broken links with audio names too: they fail loudly, never silently
            files = sorted(p for p in path.glob(pattern) if p.suffix.lower() in exts)
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


def is_complete(folder: Path, names: list[str], fmt: str) -> bool:
    return (folder / "run.json").exists() and all((folder / f"{s}.{fmt}").exists() for s in names)


def prepare(path: Path, rate: int | None, mono: bool) -> tuple[np.ndarray, int, dict]:
    """The input as the stems will be: [C, L] at `rate` (default: the file's), downmixed if `mono`."""
    wave, sr = load_audio_native(path)
    source = {"input_sample_rate": sr, "input_channels": wave.shape[0]}
    if mono and wave.shape[0] > 1:
        wave = wave.mean(axis=0, keepdims=True)
    if rate and rate != sr:
        wave = resample(wave, sr, rate)
    return np.ascontiguousarray(wave, dtype=np.float32), rate or sr, source


def output_blocks(separator, estimate, wave: np.ndarray, rate: int, two: str | None):
    """(the stems' blocks [K, C, n] in order, each with its input block [C, n])."""
    done = 0
    for block in separator.reconstruct(estimate, wave, rate):
        if two:
            block = two_stems(block, separator.stems, two)[1]
        n = block.shape[-1]
        yield block.numpy(), wave[:, done : done + n]
        done += n


def write_outputs(target: Path, names: list[str], separator, estimate, wave: np.ndarray, rate: int,
                  out: OutputFormat, two: str | None) -> tuple[list[str], dict]:
    """Stream the stems into their files (a first pass finds the peak when it may need rescaling)."""
    gain = 1.0
    if out.full_scale is not None and out.clip_mode == "rescale":
        peak = max(float(np.abs(b).max()) for b, _ in output_blocks(separator, estimate, wave, rate, two))
        gain = out.gain_for(peak)
    files = StemFiles(target, names, rate, wave.shape[0], out, gain)
    try:
        for block, reference in output_blocks(separator, estimate, wave, rate, two):
            files.write(block, reference)
    except BaseException:
        files.abort()
        raise
    return files.close(), files.report()


def run(args: argparse.Namespace) -> int:
    from msgld.inference.separator import Separator

    if args.sample_rate is not None and args.sample_rate <= 0:
        raise ValueError(f"--sample-rate must be positive, got {args.sample_rate}")
    out_format = OutputFormat.from_args(args)
    bundle = load_bundle_from_args(args)
    separator = Separator(bundle)
    settings = settings_from_args(separator, args)
    if args.two_stems is not None and args.two_stems not in bundle.stems:
        raise ValueError(f"--two-stems {args.two_stems!r}: choose one of this model's stems {bundle.stems}")
    names = two_stem_names(bundle.stems, args.two_stems) if args.two_stems else bundle.stems
    files = collect_inputs(args.inputs, args.recursive, args.extensions.split(","))
    rank, world = distributed_rank()
    files = files[rank::world]
    out = Path(args.out)
    failures, timings = [], {}
    for path, rel in files:
        target = out / rel
        if args.skip_existing and is_complete(target, names, args.format):
            log.info("%s: complete, skipped", target)
            continue
        started = time.perf_counter()
        try:
            wave, rate, source = prepare(path, args.sample_rate, args.mono)
            check_duration(path, wave.shape[-1], rate)
            for warning in file_warnings(path, wave, rate):
                log.warning("%s: %s", path, warning)
            check_output(target / f"{names[0]}.{args.format}", rate, wave.shape[0], args.sample_format,
                         args.mp3_bitrate)
        except AudioError as e:
            log.error("%s", e)
            failures.append(f"{e}")
            continue
        with window_progress(str(rel), args.quiet) as progress:
            estimate = separator.estimate(wave, progress, sample_rate=rate, **settings)
        (target / "run.json").unlink(missing_ok=True)  # a folder holds a finished set only while its run.json exists
        written, report = write_outputs(target, names, separator, estimate, wave, rate, out_format, args.two_stems)
        elapsed = time.perf_counter() - started
        timings[str(rel)] = round(elapsed, 3)
        write_json(target / "run.json", run_record(bundle, settings, input=str(path), files=written,
                                                  seconds=round(elapsed, 3), sample_rate=rate,
                                                  channels=wave.shape[0], **source, output=report,
                                                  audio_seconds=round(wave.shape[-1] / rate, 3)))
        if not args.quiet:
            print(f"{path} -> {target}/ ({elapsed:.1f} s)")
    name = "run.json" if world == 1 else f"run.rank{rank}.json"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / name, run_record(bundle, settings, inputs=args.inputs, timings=timings, failures=failures,
                                      rank=rank, world_size=world, sample_rate=args.sample_rate or "each input's",
                                      output=out_format.describe()))
    if failures:
        print(f"msgld separate: {len(failures)} file(s) failed:", *failures, sep="\n  ")
        return 1
    return 0


def register(subparsers) -> None:
    from msgld.inference.separator import Separator

    p = subparsers.add_parser("separate", help="separate mixtures into stems",
                              description="Separate audio files (or folders of them) into stems at each file's "
                                          "own sample rate and channels; the stems sum to the file.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders")
    p.add_argument("-o", "--out", default="separated", help="output folder (default: separated)")
    p.add_argument("--recursive", action="store_true", help="find files in subfolders and mirror them in OUT")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose outputs are complete")
    p.add_argument("--extensions", default=",".join(e[1:] for e in READ_EXTENSIONS),
                   help="comma-separated extensions to take from folders")
    p.add_argument("--sample-rate", type=int, metavar="HZ",
                   help="stems at this rate (default: each input's own; 16000 with --mono is the model's format)")
    p.add_argument("--mono", action="store_true", help="downmix the input to one channel first")
    p.add_argument("--two-stems", metavar="STEM", help="write STEM and no_STEM (the sum of the others) only")
    add_setting_arguments(p, Separator)
    add_model_arguments(p)
    add_output_arguments(p)
    p.set_defaults(func=run)
