"""`msgld evaluate separation|generation|arrangement`: the paper's three tables;
`msgld evaluate text`: how well prompts control a text-conditioned model (`text-probe` trains
the style and instrument probe it listens with).

Each writes FILE.json (numbers and everything needed to reproduce them) and FILE.md (a table).
Methods come from the registries in `msgld.eval.methods`; `--list` shows them.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from msgld import SAMPLE_RATE
from msgld.config import split_pairs
from msgld.eval.embeddings import DEFAULT_EMBEDDING, available_embeddings

log = logging.getLogger("msgld.evaluate")


def parse_options(pairs: list[str] | None) -> dict[str, str]:
    """--option KEY=VALUE pairs (values as text; each method parses its own with
    `msgld.config.parse_value`, so `eta=5e-4` is a number everywhere)."""
    return split_pairs(pairs, "--option")


def common(args: argparse.Namespace) -> dict:
    segment = int(round(args.segment_seconds * SAMPLE_RATE))
    if segment <= 0:
        raise ValueError(f"--segment-seconds must be positive, got {args.segment_seconds}")
    return dict(
        data=args.data, split=args.split, preset=args.preset,
        stems=args.stems.split(",") if args.stems else None, segment=segment, limit=args.limit,
        batch_size=args.batch_size, seed=args.seed, device=args.device, model=args.model, config=args.config,
        options=parse_options(args.option), progress=not args.no_progress,
    )


def write(args: argparse.Namespace, result: dict, markdown: str) -> int:
    from msgld.eval.report import write_results

    json_path, md_path = write_results(args.out, result, markdown)
    print(markdown)
    log.info("wrote %s and %s", json_path, md_path)
    if result.get("skipped"):
        print(f"msgld evaluate: {len(result['skipped'])} track(s) skipped (bad files):", *result["skipped"], sep="\n  ")
        return 1
    return 0


def list_methods(kind: str) -> int:
    from msgld.eval.methods import available

    names = available(kind)
    print(f"{kind} methods:" if names else f"{kind} methods: none registered yet")
    for name, desc in names.items():
        print(f"  {name:18s} {desc}")
    if kind != "separation":
        print("embeddings:")
        for name, desc in available_embeddings().items():
            print(f"  {name:18s} {desc}")
    return 0


def run_separation(args: argparse.Namespace) -> int:
    if args.list:
        return list_methods("separation")
    need(args, "data", "method", "out")
    from msgld.eval.separation import evaluate_separation, separation_markdown

    result = evaluate_separation(method=args.method, **common(args))
    return write(args, result, separation_markdown(result))


def run_generation(args: argparse.Namespace) -> int:
    if args.list:
        return list_methods("generation")
    need(args, "data", "samples", "out")
    from msgld.eval.generation import DEFAULT_REFERENCES, evaluate_generation, generation_markdown

    result = evaluate_generation(
        samples=args.samples, reference_split=args.reference_split, num_samples=args.num_samples,
        embedding=args.embedding, embedding_weights=args.embedding_weights, save_samples=args.save_samples,
        references=names_list(args.references, DEFAULT_REFERENCES), evaluated=args.evaluated,
        bootstrap=args.bootstrap, **common(args),
    )
    return write(args, result, generation_markdown(result))


def run_arrangement(args: argparse.Namespace) -> int:
    if args.list:
        return list_methods("arrangement")
    need(args, "data", "method", "out")
    from msgld.eval.arrangement import DEFAULT_REFERENCES, arrangement_markdown, evaluate_arrangement

    result = evaluate_arrangement(
        method=args.method, embedding=args.embedding, embedding_weights=args.embedding_weights,
        only_subsets=args.subsets.split(",") if args.subsets else None,
        references=names_list(args.references, DEFAULT_REFERENCES), evaluated=args.evaluated,
        bootstrap=args.bootstrap, **common(args),
    )
    return write(args, result, arrangement_markdown(result))


def run_text(args: argparse.Namespace) -> int:
    from msgld.eval.text_control import INSTRUMENT_TEMPLATES, STYLE_TEMPLATES, TEMPO_TEMPLATES, evaluate_text, text_markdown

    if args.list:
        for name, templates in (("tempo", TEMPO_TEMPLATES), ("style", STYLE_TEMPLATES),
                                ("instrument", INSTRUMENT_TEMPLATES)):
            print(f"{name} prompts:", *(f"  {form:7s} {t}" for form, t in templates), sep="\n")
        return 0
    need(args, "out")
    tempi = [float(t) for t in args.tempi.split(",")]
    if len(tempi) != 2:
        raise ValueError(f"--tempi takes two tempi, SLOW,FAST; got {args.tempi!r}")
    result = evaluate_text(
        checkpoint=args.checkpoint, num_pairs=args.num_pairs, num_style=args.num_style,
        num_instrument=args.num_instrument, tempi=tuple(tempi), probe=args.probe, save_samples=args.save_samples,
        first_stage=not args.no_first_stage, bootstrap=args.bootstrap, **common(args),
    )
    return write(args, result, text_markdown(result))


def run_text_probe(args: argparse.Namespace) -> int:
    from msgld.training.attribute_probe import probe_markdown, train_probe

    held_out = []
    for item in args.held_out or ["validation", "test"]:
        root, _, split = item.rpartition(":")
        held_out.append((root or args.data, split))
    out = args.out
    if not out.endswith(".json"):
        raise ValueError(f"{out}: the results file must end in .json")
    weights = args.weights or str(Path(out).with_suffix("")) + "-weights/attribute-probe"
    cache = args.cache or str(Path(out).with_suffix("")) + "-features"
    _, record = train_probe(args.data, held_out, weights, cache, tracks=args.tracks, clips=args.clips, steps=args.steps,
                            seed=args.seed, through=args.through_model, device=args.device, progress=not args.no_progress)
    from msgld.eval.report import run_record

    result = {"task": "text-probe", "skipped": [], **record, **run_record(seed=args.seed, cache=str(Path(cache).resolve()))}
    return write(args, result, probe_markdown(result))


def names_list(text: str | None, default: tuple[str, ...]) -> list[str]:
    """--references: a comma-separated list, `none`, or the default when not given."""
    if text is None:
        return list(default)
    return [] if text.strip() == "none" else [n.strip() for n in text.split(",") if n.strip()]


def need(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is None]
    if missing:
        raise ValueError(f"missing required option(s): {', '.join(missing)}")


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="dataset folder: DIR/{split}/<track>/<stem>.wav")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument("--preset", default="slakh2100", help="data preset naming the stems (default: slakh2100)")
    p.add_argument("--stems", help="comma-separated stem list overriding the preset's")
    p.add_argument("--out", help="results file FILE.json (FILE.md is written next to it)")
    p.add_argument("--limit", type=int,
                   help="use only the first N clips (generation, arrangement: sets A and B are drawn from them)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (recorded; default 0)")
    p.add_argument("--segment-seconds", type=float, default=10.24, help="clip length (default 10.24 s)")
    p.add_argument("--batch-size", type=int, default=4, help="clips per batch (default 4)")
    p.add_argument("--device", default="cpu", help="torch device for models and embeddings (default cpu)")
    p.add_argument("--model", help="model weights for the method (recorded)")
    p.add_argument("--config", help="model/sampler config for the method (recorded)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="method option (repeatable; recorded)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="list the registered methods and exit")


def add_embedding(p: argparse.ArgumentParser, references: str) -> None:
    p.add_argument("--embedding", default=DEFAULT_EMBEDDING,
                   help=f"FAD embedding(s), comma-separated: {', '.join(available_embeddings())} (default {DEFAULT_EMBEDDING})")
    p.add_argument("--embedding-weights", help="weights file for the embedding (vggish; stemfit other than the shipped)")
    p.add_argument("--references", help=f"reference rows, comma-separated, or none (default: {references})")
    p.add_argument("--evaluated", type=int,
                   help="clips in set A (evaluated / arranged; the rest is set B, the real reference); default half")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap draws over clips for the intervals (default 200)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score separation, generation or arrangement (JSON + Markdown)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)

    sep = tasks.add_parser("separation", help="SI-SDR(i) and mel errors per stem (Table II)")
    add_common(sep)
    sep.add_argument("--method", help="separation method (see --list)")
    sep.set_defaults(func=run_separation)

    gen = tasks.add_parser("generation", help="total-generation FAD against real mixtures (Table III)")
    add_common(gen)
    add_embedding(gen, "vocoder,vae,time-shifted,random-pairing")
    gen.add_argument("--samples", metavar="DIR_OR_METHOD",
                     help="folder of generated pieces (<piece>/<stem>.wav or <piece>.wav) or a generator name "
                          "(a registered name wins over a folder of that name: write ./NAME for the folder)")
    gen.add_argument("--num-samples", type=int, help="pieces to generate or read (default: as many as set A's clips / all)")
    gen.add_argument("--reference-split", default="train", help="split of the real-vs-real reference row (default train)")
    gen.add_argument("--save-samples", help="with a generator: also write its pieces to this folder")
    gen.set_defaults(func=run_generation)

    arr = tasks.add_parser("arrangement", help="FAD per subset of generated stems (Table I)")
    add_common(arr)
    add_embedding(arr, "given-only,random-pairing,time-shifted,vocoder-ceiling,vae-ceiling")
    arr.add_argument("--method", help="arranger (see --list)")
    arr.add_argument("--subsets", help="comma-separated labels of generated stems, e.g. B,DG (default: all)")
    arr.set_defaults(func=run_arrangement)

    txt = tasks.add_parser("text", help="prompt control of a text model: tempo, style, instruments vs controls")
    add_common(txt)
    txt.add_argument("--checkpoint", help="an ldm weights pair that replaces the model's (e.g. runs/X/weights/best/ldm)")
    txt.add_argument("--num-pairs", type=int, default=20, help="tempo pairs: same seed, prompts differing in tempo (20)")
    txt.add_argument("--num-style", type=int, default=20, help="pieces prompted with a style (default 20)")
    txt.add_argument("--num-instrument", type=int, default=0, help="pieces prompted with one instrument (default 0)")
    txt.add_argument("--tempi", default="70,140", help="the slow and the fast tempo of each pair (default 70,140)")
    txt.add_argument("--probe", help="attribute-probe weights (default: the shipped msgld/pretrained/attribute-probe)")
    txt.add_argument("--save-samples", help="also write every generated piece's stems to this folder")
    txt.add_argument("--no-first-stage", action="store_true",
                     help="skip the real clips through the model's VAE and vocoder")
    txt.add_argument("--bootstrap", type=int, default=1000, help="bootstrap draws for the intervals (default 1000)")
    txt.set_defaults(func=run_text)

    prb = tasks.add_parser("text-probe", help="train the style/instrument probe of `evaluate text` and score it held out")
    prb.add_argument("--data", required=True, help="SynthSlakh folder: DIR/{train,validation,test}/<track>/ + metadata.yaml")
    prb.add_argument("--out", required=True, help="results file FILE.json (FILE.md is written next to it)")
    prb.add_argument("--weights", help="where the weights pair goes (default FILE-weights/attribute-probe), e.g. "
                                       "msgld/pretrained/attribute-probe/attribute-probe")
    prb.add_argument("--cache", help="feature cache folder (default FILE-features/)")
    prb.add_argument("--held-out", action="append", metavar="[DIR:]SPLIT",
                     help="held-out split to score, repeatable (default: validation and test of --data)")
    prb.add_argument("--tracks", type=int, default=300, help="train tracks used (default 300)")
    prb.add_argument("--clips", type=int, default=2, help="10.24 s clips per train track (default 2)")
    prb.add_argument("--steps", type=int, default=400, help="full-batch Adam steps (default 400)")
    prb.add_argument("--seed", type=int, default=0, help="seed of the track and clip choice and the weights (recorded)")
    prb.add_argument("--through-model", metavar="MODEL",
                     help="pass every clip through this model's VAE and vocoder first (a probe for generated audio)")
    prb.add_argument("--device", default="cpu", help="torch device of --through-model (default cpu)")
    prb.add_argument("--no-progress", action="store_true", help="no progress bar")
    prb.set_defaults(func=run_text_probe)
