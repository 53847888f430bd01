"""`msgld model summary KIND CONFIG_OR_WEIGHTS`: parameters, shapes and FLOPs as JSON."""

from __future__ import annotations

import json


def run_summary(args) -> int:
    from msgld.models.summary import summarize

    print(json.dumps(summarize(args.kind, args.model), indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("model", help="inspect models")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("summary", help="parameters, shapes and FLOPs per 10.24 s forward, as JSON")
    s.add_argument("kind", choices=("vae", "vocoder", "ldm"))
    s.add_argument("model", metavar="CONFIG_OR_WEIGHTS", help="a config name (tiny, paper), a YAML file, or a weights path")
    s.set_defaults(func=run_summary)
