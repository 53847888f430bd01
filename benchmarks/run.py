"""The common benchmark runner: discover `benchmarks/bench_*.py`, run, print a table, write JSON."""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import pkgutil
import platform
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(PACKAGE)]) if m.name.startswith("bench_"))


def machine() -> dict:
    import torch

    from msgld.eval.report import git_state

    return {
        "python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **git_state(),
    }


def format_table(rows: list[dict]) -> str:
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(available())}")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, skip the slowest rows")
    parser.add_argument("--out", help="write the rows and machine details to this JSON file")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(available()))
        return 0
    unknown = sorted(set(args.names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available()}")
    rows = []
    for name in args.names or available():
        print(f"running {name} ...", file=sys.stderr)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        rows += [{"benchmark": name, **r} for r in module.run(quick=args.quick)]
    print(format_table(rows))
    if args.out:
        from msgld.audio.io import atomic_write_text

        atomic_write_text(args.out, json.dumps({"machine": machine(), "quick": args.quick, "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
