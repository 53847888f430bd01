"""`msgld arrange --given STEM=FILE ... --generate STEM[,STEM] -o OUT` (or `--track FOLDER`)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from msgld.audio.io import AudioError, audio_info, load_audio
from msgld.audio.validate import check_duration, stats_warnings
from msgld.cli.common import (
    OutputFormat, add_model_arguments, add_output_arguments, add_seed_argument, add_setting_arguments,
    load_bundle_from_args, run_record, settings_from_args, window_progress, write_json, write_stem_files,
)
from msgld.data.stems_dataset import find_stem_file

log = logging.getLogger(__name__)


def given_stems(args, stems: list[str]) -> dict[str, Path]:
    given: dict[str, Path] = {}
    for item in args.given or []:
        if "=" not in item:
            raise ValueError(f"--given {item!r}: expected STEM=FILE with STEM one of {stems}")
        stem, file = item.split("=", 1)
        if stem not in stems:
            raise ValueError(f"--given {item!r}: unknown stem {stem!r}; this model's stems are {stems}")
        given[stem] = Path(file)
    if args.track:
        folder = Path(args.track)
        if not folder.is_dir():
            raise ValueError(f"{folder}: track folder not found")
        to_generate = set(args.generate.split(",")) if args.generate else set()
        for stem in stems:
            path = find_stem_file(folder, stem)
            if path is not None and stem not in to_generate and stem not in given:
                given[stem] = path
    if not given:
        raise ValueError("give at least one stem: --given STEM=FILE or --track FOLDER")
    return given


def load_given(given: dict[str, Path], rate: int) -> dict[str, np.ndarray]:
    """Every given stem at `rate`, or one error naming each bad file (nothing is arranged from a
    partial set); usable oddities are logged as warnings."""
    waves, errors = {}, []
    for stem, path in given.items():
        try:
            info = audio_info(path)
            wave = load_audio(path, rate)
            check_duration(path, wave.shape[-1], rate)
        except AudioError as e:
            errors.append(str(e))
            continue
        dc = abs(float(wave.mean())) if wave.size else 0.0
        for warning in stats_warnings(path, info.frames, info.samplerate, info.channels,
                                      float(np.abs(wave).max()), dc):
            log.warning("%s: %s", path, warning)
        waves[stem] = wave
    if errors:
        raise AudioError(errors[0] if len(errors) == 1 else
                         f"{len(errors)} given stems cannot be used:\n  " + "\n  ".join(errors))
    return waves


def run(args: argparse.Namespace) -> int:
    from msgld.inference.arranger import Arranger

    out_format = OutputFormat.from_args(args)
    bundle = load_bundle_from_args(args)
    arranger = Arranger(bundle)
    given = given_stems(args, bundle.stems)
    generate = args.generate.split(",") if args.generate else None
    settings = settings_from_args(arranger, args, guidance=0.0)
    rate = arranger.sample_rate
    waves = load_given(given, rate)
    started = time.perf_counter()
    with window_progress("arrange", args.quiet) as progress:
        stems = arranger.arrange(waves, generate, seed=args.seed, progress=progress, sample_rate=rate,
                                 **settings).numpy()
    elapsed = round(time.perf_counter() - started, 3)
    out = Path(args.out)
    written, report = write_stem_files(out, bundle.stems, stems, out_format, rate, extra={"mix": stems.sum(0)})
    generated = generate or [s for s in bundle.stems if s not in given]
    write_json(out / "run.json", run_record(bundle, settings, seed=args.seed, given={k: str(v) for k, v in given.items()},
                                            generated=generated, files=written, seconds=elapsed, output=report))
    if not args.quiet:
        print(f"given {sorted(given)}, generated {generated} -> {out}/ ({elapsed:.1f} s)")
    return 0


def register(subparsers) -> None:
    from msgld.inference.arranger import Arranger

    p = subparsers.add_parser("arrange", help="write the missing instruments of an arrangement",
                              description="Arrangement: given stems stay, the model writes the others.")
    p.add_argument("--given", action="append", metavar="STEM=FILE", help="a given stem (repeatable)")
    p.add_argument("--track", help="a track folder: its stem files are the given stems (minus --generate)")
    p.add_argument("--generate", metavar="STEM[,STEM]", help="stems to write (default: all not given)")
    p.add_argument("-o", "--out", default="arranged", help="output folder")
    add_setting_arguments(p, Arranger, skip=("guidance",))
    add_seed_argument(p)
    add_model_arguments(p)
    add_output_arguments(p)
    p.set_defaults(func=run)
