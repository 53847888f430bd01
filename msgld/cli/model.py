"""`msgld model summary KIND CONFIG_OR_WEIGHTS`: parameters, shapes and FLOPs as JSON."""

from __future__ import annotations

import json


def run_summary(args) -> int:
    from msgld.models.summary import summarize

    print(json.dumps(summarize(args.kind, args.model), indent=2))
    return 0


def run_pack(args) -> int:
    from msgld.models.pack import pack_model

    folder = pack_model(args.out, vae=args.vae, ldm=args.ldm, vocoder=args.vocoder, half=args.half,
                        refiner=args.refiner)
    print(folder)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("model", help="inspect models")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("summary", help="parameters, shapes and FLOPs per 10.24 s forward, as JSON")
    s.add_argument("kind", choices=("vae", "vocoder", "ldm"))
    s.add_argument("model", metavar="CONFIG_OR_WEIGHTS", help="a config name (tiny, paper), a YAML file, or a weights path")
    s.set_defaults(func=run_summary)
    k = sub.add_parser("pack", help="gather vae/ldm/vocoder/refiner weights pairs into one model folder",
                       description="Copy trained weights into a model folder that `--model FOLDER` (or, under "
                                   "msgld/pretrained/, `--model NAME`) loads; optionally store them as fp16.")
    k.add_argument("--vae", required=True, help="VAE weights pair")
    k.add_argument("--ldm", required=True, help="LDM weights pair (trained on latents of this VAE)")
    k.add_argument("--vocoder", help="vocoder weights pair")
    k.add_argument("--refiner", help="mask refiner weights pair (trained on this LDM's estimates)")
    k.add_argument("--half", nargs="*", default=[], choices=("vae", "ldm", "vocoder", "refiner"),
                   help="store these in float16 (check the cost with the evaluation first)")
    k.add_argument("--out", required=True, help="model folder to write")
    k.set_defaults(func=run_pack)
