"""`msgld train vae|vocoder|export`: the command line over msgld.training.run."""

from __future__ import annotations

import argparse

from msgld.config import load_config, merge, parse_value, split_pairs
from msgld.training.trainer import add_run_arguments, fork_run, options_from_args

KINDS = ("vae", "vocoder", "ldm", "demucs", "refiner")


def parse_overrides(items: list[str]) -> dict:
    """["loss.kl_weight=1e-5", ...] -> nested dict (values parsed as YAML, numbers as numbers)."""
    out: dict = {}
    for key, value in split_pairs(items, "--set", "KEY.PATH").items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = parse_value(value)
    return out


def run_train(args: argparse.Namespace) -> int:
    from msgld.training.run import train

    overrides = parse_overrides(args.set)
    if args.preset or args.stems:
        data = overrides.setdefault("data", {})
        if args.preset:
            data["preset"] = args.preset
        if args.stems:
            data["stems"] = args.stems.split(",")
    if args.fork:
        config = merge(fork_run(args.fork, args.out, args.kind), overrides)
        args.resume = True
    else:
        config = load_config(args.kind, args.config, overrides)
    opts = options_from_args(args, config.get("train", {}))
    paths = train(args.kind, args.data, config, opts, name=args.name)
    for which, path in paths.items():
        print(f"{which}: {path}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from msgld.training.run import export_run

    path = export_run(args.run, args.which, args.to, args.name, args.data, args.batch_size)
    print(path)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the VAE or the vocoder (Lightning)",
                                   description="Train a model kind; checkpoints, logs and weights go to --out.")
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind in KINDS:
        p = sub.add_parser(kind, help=f"train the {kind}")
        p.add_argument("--data", required=True, help="dataset root ({root}/train/<track>/<stem>.wav)")
        p.add_argument("--config", default="tiny", help="config name (msgld/configs/%s/) or YAML/JSON path" % kind)
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override, e.g. loss.kl_weight=1e-5")
        p.add_argument("--preset", help="dataset preset (slakh2100, musdb18hq)")
        p.add_argument("--stems", help="comma-separated stem names (default: the preset's)")
        p.add_argument("--name", help=f"weights file name (default {kind})")
        add_run_arguments(p)
        p.set_defaults(func=run_train)
    p = sub.add_parser("export", help="export weights from a run's checkpoint (e.g. of a run still going)")
    p.add_argument("run", help="run folder")
    p.add_argument("--which", default="last", help="last, best, or a .ckpt path")
    p.add_argument("--to", help="output folder (default RUN/weights/<which>)")
    p.add_argument("--name", help="weights file name (default: the kind)")
    p.add_argument("--data", help="dataset root for the VAE's scale factor (default: the run's)")
    p.add_argument("--batch-size", type=int)
    p.set_defaults(func=run_export)
