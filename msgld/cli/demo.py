"""`msgld demo`: separate, generate and arrange with the shipped model; writes an HTML page."""

from __future__ import annotations


def run(args) -> int:
    from msgld.demo.run import run_demo

    page = run_demo(args.out, args.model, args.seed, args.seconds, args.steps, args.device)
    print(f"demo written: {page.resolve()}")
    print(f"open it in a browser, e.g. python -m http.server -d {page.parent} and visit http://localhost:8000")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="separate, generate and arrange a new song; writes an HTML page",
                              description="Compose and render a song the model never saw, separate it, generate a "
                                          "new piece, arrange the song's drums and bass; WAVs, spectrograms, HTML.")
    p.add_argument("-o", "--out", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--model", default="msgld-tiny", help="shipped model name or weights folder")
    p.add_argument("--seed", type=int, default=2026, help="song and sampling seed")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the song")
    p.add_argument("--steps", type=int, help="sampling steps (default: each task's own)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)
