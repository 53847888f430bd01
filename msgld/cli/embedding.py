"""`msgld embedding train|export`: the `stemfit` FAD embedding, made here (msgld.training.stemfit).

    msgld embedding train --data data/synth --out runs/stemfit --steps 3000 --seed 0 [--resume]
    msgld embedding export runs/stemfit --to msgld/pretrained/stemfit/stemfit

`stemfit-complete` (missing stems are fakes too) was made with `--steps 4000 --pool 16384
--val-examples 512 --mute 0 --kinds real=0.5,shift=0.2,swap=0.15,mute=0.15`.
"""

from __future__ import annotations

import argparse


def run_train(args: argparse.Namespace) -> int:
    from msgld.training.stemfit import train_stemfit

    state = train_stemfit(args.data, args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          every=args.every, val_examples=args.val_examples, pool=args.pool, max_minutes=args.max_minutes,
                          mute=args.mute, kind_p=kind_weights(args.kinds), resume=args.resume, preset=args.preset)
    last = state["history"][-1] if state["history"] else {}
    print(f"step {state['step']}: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k.startswith("val")))
    return 0


def kind_weights(text: str) -> tuple[float, ...]:
    """'real=0.5,shift=0.25,...' -> weights in the order of KINDS (a kind not named gets 0)."""
    from msgld.training.stemfit_data import KINDS

    weights = dict.fromkeys(KINDS, 0.0)
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in weights:
            raise SystemExit(f"--kinds: unknown kind {name.strip()!r}; kinds are {', '.join(KINDS)}")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise SystemExit(f"--kinds: {part!r} is not KIND=WEIGHT") from None
    return tuple(weights.values())


def run_export(args: argparse.Namespace) -> int:
    from msgld.training.stemfit import export_stemfit

    print(export_stemfit(args.run, args.to))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("embedding", help="train or export the stemfit FAD embedding",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("train", help="train stemfit on a dataset's train split (validation split for its scores)")
    p.add_argument("--data", required=True, help="dataset root: DIR/{train,validation}/<track>/<stem>.wav")
    p.add_argument("--out", required=True, help="run folder (checkpoint.safetensors + checkpoint.json)")
    p.add_argument("--preset", default="slakh2100", help="data preset naming the stems")
    p.add_argument("--steps", type=int, default=1500, help="total steps (default 1500)")
    p.add_argument("--pool", type=int, default=6144, help="training examples made once and drawn from (default 6144)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and of every batch (recorded)")
    p.add_argument("--every", type=int, default=250, help="validate and checkpoint every N steps")
    p.add_argument("--val-examples", type=int, default=256, help="fixed validation examples (default 256)")
    p.add_argument("--max-minutes", type=float, help="stop after M minutes of wall time (checkpoint saved)")
    p.add_argument("--mute", type=float, default=0.2,
                   help="probability that a stem of an example is left out before it is labelled (default 0.2)")
    p.add_argument("--kinds", default="real=0.5,shift=0.25,swap=0.25",
                   help="weights of the example kinds: real, shift, swap, mute (default real=0.5,shift=0.25,swap=0.25)")
    p.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    p.set_defaults(func=run_train)
    p = sub.add_parser("export", help="write a run's checkpoint as a weights pair")
    p.add_argument("run", help="run folder")
    p.add_argument("--to", required=True, help="weights path, e.g. msgld/pretrained/stemfit/stemfit")
    p.set_defaults(func=run_export)
