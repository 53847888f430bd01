"""`msgld data ...`: make and check datasets. Each subcommand is one `add_*` function below;
the logic lives in msgld.synth (synth) and msgld.data.check (check)."""

from __future__ import annotations

import argparse
import os


def synth(args: argparse.Namespace) -> int:
    from msgld.synth.writer import synthesize

    summary = synthesize(
        args.out, tracks=args.tracks, hours=args.hours, seed=args.seed, workers=args.workers,
        backend=args.backend, config=args.config, soundfonts=args.soundfont or None,
        duration_range=tuple(args.duration_range) if args.duration_range else None,
        progress=not args.quiet,
    )
    print(f"{summary.out}: {summary.tracks} tracks ({summary.made} made, {summary.skipped} already there); "
          f"{summary.seconds / 3600:.3f} h of audio in {summary.elapsed:.1f} s "
          f"({summary.x_realtime:.0f}x real time, {summary.backend})")
    return 0


def check(args: argparse.Namespace) -> int:
    from msgld.data.check import check_dataset, format_report

    report = check_dataset(args.dir, preset=args.preset, sample_rate=args.sample_rate,
                           audio=not args.no_audio, progress=not args.quiet)
    print(format_report(report))
    return 0 if report.ok(strict=args.strict) else 1


def add_synth(sub) -> None:
    p = sub.add_parser("synth", help="make a Slakh2100-style multi-track dataset from composed MIDI",
                       description="Compose multi-track songs, render each stem with General MIDI soundfonts "
                                   "and write {out}/{train,validation,test}/TrackNNNNN/{stem}.wav. "
                                   "Rerunning completes a partial folder; finished tracks are never rewritten.")
    p.add_argument("--out", required=True, help="dataset folder")
    amount = p.add_mutually_exclusive_group(required=True)
    amount.add_argument("--tracks", type=int, help="number of tracks")
    amount.add_argument("--hours", type=float, help="hours of music (tracks are added until reached)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (same seed: byte-identical files)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    p.add_argument("--backend", choices=["auto", "fluidsynth", "tinysoundfont"], default="auto",
                   help="auto: fluidsynth with the Debian soundfonts if present, else tinysoundfont")
    p.add_argument("--soundfont", action="append", metavar="SF2",
                   help="use these soundfonts instead of the backend's list (repeatable; "
                        "'pretty_midi' names the TimGM6mb.sf2 inside pretty_midi)")
    p.add_argument("--duration-range", type=float, nargs=2, metavar=("MIN", "MAX"),
                   help="seconds of music per song (default from the config: 30 60)")
    p.add_argument("--config", default="default", help="synth config name or YAML file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=synth)


def add_check(sub) -> None:
    p = sub.add_parser("check", help="verify a dataset folder (Slakh2100 or MUSDB18-HQ layout)",
                       description="Check layout, stem lengths, sample rates, silent stems and clipping; "
                                   "print a summary. Exit status 1 when errors are found.")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--preset", choices=["slakh2100", "musdb18hq"], help="layout (default: detected)")
    p.add_argument("--sample-rate", type=int, help="require this sample rate for every file")
    p.add_argument("--strict", action="store_true", help="warnings count as errors")
    p.add_argument("--no-audio", action="store_true", help="headers only: skip reading samples")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=check)


def encode(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from msgld.data.latent_cache import encode_dataset

    bars: dict[str, tqdm] = {}

    def progress(split: str, done: int, total: int) -> None:
        if args.quiet:
            return
        bar = bars.setdefault(split, tqdm(total=total, desc=f"encode {split}", unit="track"))
        bar.n = done
        bar.refresh()
        if done == total:
            bar.close()

    info = encode_dataset(args.data, args.vae, args.out, splits=args.splits.split(",") if args.splits else None,
                          preset=args.preset, stems=args.stems.split(",") if args.stems else None,
                          device=args.device, progress=progress, shard=parse_shard(args.shard))
    print(f"{args.out}: latents of {', '.join(info['splits'])} (scale factor {info['scale_factor']:.4f})")
    return 0


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected K/N, e.g. 0/2") from None
    return k, n


def add_encode(sub) -> None:
    p = sub.add_parser("encode", help="store every track's stem and mixture VAE latents (for LDM training)",
                       description="Encode each track's stems and mixture with the VAE once, so that LDM training "
                                   "never runs the VAE. Rerunning skips finished tracks.")
    p.add_argument("--data", required=True, help="dataset folder ({split}/<track>/<stem>.wav)")
    p.add_argument("--vae", default=None, help="VAE weights (default: the shipped model's)")
    p.add_argument("--out", required=True, help="latent cache folder")
    p.add_argument("--splits", help="comma-separated splits (default: all present)")
    p.add_argument("--preset", default="slakh2100", help="stem preset (slakh2100, musdb18hq)")
    p.add_argument("--stems", help="comma-separated stems overriding the preset's")
    p.add_argument("--device", default="cpu")
    p.add_argument("--shard", default="0/1", metavar="K/N",
                   help="encode only tracks K, K+N, K+2N, ... of each split (run N processes to share the work)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=encode)


def encode_text(args: argparse.Namespace) -> int:
    from msgld.data.text_cache import default_text_folder, encode_captions

    if not args.out and not args.cache:
        raise ValueError("give --out TEXT_FOLDER or --cache LATENT_CACHE (then CACHE/text/ENCODER)")
    out = args.out or default_text_folder(args.cache, args.encoder)

    def progress(split: str, done: int, total: int) -> None:
        if not args.quiet and (done == total or done % 256 == 0):
            print(f"encode-text {split}: {done}/{total}")

    info = encode_captions(args.data, out, args.encoder, splits=args.splits.split(",") if args.splits else None,
                           variants=args.variants, seed=args.seed, progress=progress, cache=args.cache)
    print(f"{out}: {info['encoder']} embeddings ({info['dim']} dims) of each caption and {info['variants']} "
          f"varied prompts, {', '.join(info['splits'])}")
    return 0


def add_encode_text(sub) -> None:
    from msgld.text.encoders import DEFAULT_ENCODER, ENCODERS

    p = sub.add_parser("encode-text", help="store caption embeddings for text-conditioned LDM training",
                       description="Embed each track's caption (metadata.yaml) and seeded varied prompts with a "
                                   "text encoder, once, beside a latent cache. Rerunning skips finished tracks.")
    p.add_argument("--data", required=True, help="dataset folder ({split}/<track>/metadata.yaml)")
    p.add_argument("--cache", help="latent cache: embed the tracks it holds (default: every track of DATA) and "
                                   "write CACHE/text/ENCODER unless --out says otherwise (where training looks)")
    p.add_argument("--out", help="the folder to write instead (set data.text_cache=OUT when training)")
    p.add_argument("--encoder", default=DEFAULT_ENCODER, choices=sorted(ENCODERS), help="text encoder")
    p.add_argument("--variants", type=int, default=16, help="varied prompts per track, beside its caption")
    p.add_argument("--seed", type=int, default=0, help="seed of the prompts' wording")
    p.add_argument("--splits", help="comma-separated splits (default: all present)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=encode_text)


def parse_tracks(text: str | None) -> tuple[list[int], int] | None:
    """"2,3,4,5,6,7/8" -> ([2, 3, 4, 5, 6, 7], 8)."""
    if not text:
        return None
    try:
        keep, n = text.split("/")
        out = ([int(x) for x in keep.split(",")], int(n))
    except ValueError:
        raise ValueError(f"--tracks {text!r}: expected K1,K2,.../N, e.g. 2,3,4,5,6,7/8") from None
    if out[1] < 1 or any(not 0 <= k < out[1] for k in out[0]):
        raise ValueError(f"--tracks {text!r}: every K must be in [0, N)")
    return out


def estimate(args: argparse.Namespace) -> int:
    from msgld.cli.common import load_bundle_from_args
    from msgld.data.estimate_cache import write_estimates
    from msgld.inference import Separator

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % 16 == 0):
            print(f"estimate {args.split}: {done}/{total}", flush=True)

    sep = Separator(load_bundle_from_args(args))
    info = write_estimates(sep, args.data, args.out, args.split, tracks=parse_tracks(args.tracks), limit=args.limit,
                           shard=parse_shard(args.shard), seed=args.seed, progress=progress)
    print(f"{args.out}: estimates of {info['splits'][args.split]['items']} segments of {args.split} by {info['model']}")
    return 0


def add_estimate(sub) -> None:
    from msgld.cli.common import add_model_arguments

    p = sub.add_parser("estimate", help="store the separator's stem estimates of dataset segments (for the mask "
                                        "refiner)",
                       description="Separate fixed 10.24 s segments of a split with a model at its separation "
                                   "defaults and store the stems' estimated log-mels: the training data of "
                                   "`msgld train refiner`. Rerunning skips finished segments.")
    p.add_argument("--data", required=True, help="dataset folder ({split}/<track>/<stem>.wav)")
    p.add_argument("--out", required=True, help="estimate cache folder")
    add_model_arguments(p)
    p.add_argument("--split", default="train")
    p.add_argument("--tracks", metavar="K1,K2,.../N",
                   help="only tracks whose index in the split mod N is one of the K (e.g. songs the LDM never saw)")
    p.add_argument("--limit", type=int, help="at most this many segments, spread over the selection")
    p.add_argument("--shard", default="0/1", metavar="K/N", help="write every N-th segment from the K-th")
    p.add_argument("--seed", type=int, default=0, help="segment i is separated with seed SEED + i")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=estimate)


SUBCOMMANDS = [add_synth, add_check, add_encode, add_encode_text, add_estimate]


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="make and check datasets")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
