"""The `msgld` command: a thin layer over the Python API.

Each module in this package that defines `register(subparsers)` adds one subcommand; the
subcommand's parser sets `func(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from msgld import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msgld",
        description="Multi-track latent diffusion: separate, generate and arrange music stems.",
    )
    parser.add_argument("--version", action="version", version=f"msgld {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as e:  # user errors: one clear line, no traceback
        print(f"msgld: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full or read-only disk, a permission: one line naming the file
        where = f"{e.filename}: " if e.filename else ""
        print(f"msgld: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
