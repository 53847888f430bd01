"""Score training runs (or model folders) on the same held-out clips at several sampler cells:
the equal-budget recipe ablation of the README.

    python benchmarks/bench_recipes.py --data D --clips 24 --out F.json \
        RUN_OR_MODEL [RUN_OR_MODEL ...] \
        --cell steps=1,spacing=trailing,guidance=1 --cell steps=3,spacing=leading,guidance=3

A training run folder (it has checkpoints/) is exported (`--which`, default last: the EMA
weights) and packed with the shipped model's VAE and vocoder; a model folder is used as is.
A source `METHOD:WEIGHTS` scores another registered separation method of `msgld evaluate`
on the same clips, e.g. the HT-Demucs peer: `demucs:RUN/weights/best/demucs` (cells are then
its options, e.g. `--cell shifts=0`). Every (model, cell) pair separates the same clips (spread
over the split, at most one per track where possible) with the same seeds. Cells that differ only
in reconstruction settings (`mask_power`, `high_band`, `reconstruct`) reuse one sampled estimate
per clip, so their `seconds_per_clip` counts the reconstruction alone after the first. Prints
one row per pair and writes JSON.

`--seen-in CACHE` scores clips the model trained on instead: `--clips` tracks spread over those
of `--split` that have latents in the latent cache CACHE (e.g. `--split train --seen-in
/work/data/latents20`), one clip each. Beside the held-out rows it tells fitting from
generalisation.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msgld.inference.bundle import DEFAULT_MODEL, model_folder  # noqa: E402


RECONSTRUCTION_KEYS = ("reconstruct", "high_band", "mask_power")  # settings applied after sampling


def parse_cell(text: str) -> dict:
    """"steps=1,spacing=trailing,guidance=1" -> {"steps": 1, "spacing": "trailing", "guidance": 1}."""
    cell = {}
    for part in text.split(","):
        if "=" not in part:
            raise ValueError(f"--cell {text!r}: expected KEY=VALUE[,KEY=VALUE...]")
        key, value = part.split("=", 1)
        cell[key.strip()] = yaml.safe_load(value)
    return cell


def model_for(source: str, work: Path, which: str = "last") -> tuple[str, dict]:
    """A model folder for a run folder (exported + packed) or a model name/folder; and facts about it."""
    from msgld.models.pack import pack_model
    from msgld.training.run import export_run
    from msgld.weights import weight_paths

    path = Path(source)
    if method_source(source):
        return source, {"method": source}
    if not (path / "checkpoints").is_dir():
        return str(model_folder(source)), {"model": source}
    shipped = model_folder(DEFAULT_MODEL)
    weights = export_run(path, which, work / path.name / "weights", "ldm")
    folder = pack_model(work / path.name / "model", shipped / "vae", weights, shipped / "vocoder")
    info = json.loads(weight_paths(weights)[1].read_text())
    return str(folder), {"run": str(path), "step": info.get("training", {}).get("steps")}


def method_source(source: str) -> tuple[str, str] | None:
    """"demucs:PATH" -> ("demucs", PATH) for a registered separation method other than msgld."""
    from msgld.eval.methods import available

    name, sep, weights = source.partition(":")
    return (name, weights) if sep and name in available("separation") and name != "msgld" else None


def separator_for(model: str, stems: list[str]):
    """-> (stems it returns, for_cell(cell) -> separate(mixture [L], seed) -> stems [S, L])."""
    method = method_source(model)
    if method is None:
        from msgld.inference.separator import SeparationEstimate, Separator

        sep, estimates = Separator(model), {}

        def for_msgld(cell):  # cells that differ only in reconstruction share one estimate per clip
            sampling = {k: v for k, v in cell.items() if k not in RECONSTRUCTION_KEYS}
            rebuild = {k: v for k, v in cell.items() if k in RECONSTRUCTION_KEYS}

            def separate(mixture, seed):
                key = (json.dumps(sampling, sort_keys=True), seed)
                if key not in estimates:
                    estimates[key] = sep.estimate(mixture, sample_rate=16000, **sampling, seed=seed)
                est = estimates[key]
                est = SeparationEstimate(est.log_mels, est.settings.replace(**rebuild)) if rebuild else est
                return torch.cat(list(sep.reconstruct(est, mixture, 16000)), dim=-1)
            return separate
        return sep.stems, for_msgld
    from msgld.eval.methods import MethodContext, get_entry

    def for_cell(cell):  # a deterministic method: built once per cell (seed 0, recorded by its options)
        ctx = MethodContext(stems=stems, seed=0, model=method[1], options={k: str(v) for k, v in cell.items()})
        run = get_entry("separation", method[0]).factory(ctx)

        def separate(mixture, seed):
            with torch.inference_mode():
                return run(mixture[None])[0]
        return separate
    return stems, for_cell


def spread(n: int, k: int) -> list[int]:
    """At most k indices spread evenly over range(n), first and last included."""
    return sorted({int(i) for i in np.linspace(0, n - 1, min(k, n))})


def score(model: str, data: str, clips: int, cells: list[dict], split: str = "test") -> list[dict]:
    from msgld.data.stems_dataset import MultiStemDataset
    from msgld.eval.metrics import SeparationScores

    ds = MultiStemDataset(data, split, mode="eval", min_active_stems=2)
    picks = spread(len(ds), clips)
    items = [ds[i] for i in picks]
    stems, for_cell = separator_for(model, ds.stems)
    rows = []
    for cell in cells:
        scores, seconds, separate = SeparationScores(stems), 0.0, for_cell(cell)
        for i, item in zip(picks, items):
            t0 = time.perf_counter()
            est = separate(item["mixture"], i)  # the dataset is 16 kHz
            seconds += time.perf_counter() - t0
            scores.update(est[None], item["stems"][None], item["mixture"][None])
        mean = scores.mean()
        per_stem = {stem: round(v["si_sdri_wave"], 2) for stem, v in scores.per_stem().items()
                    if v.get("si_sdri_wave") is not None}
        rows.append({"cell": cell, "clips": len(items), "seconds_per_clip": round(seconds / len(items), 2),
                     "si_sdri_wave": round(mean["si_sdri_wave"], 2), "mel_mse": round(mean["mel_mse"], 3),
                     "si_sdri_wave_per_stem": per_stem})
    return rows


def seen_tracks(data: str, split: str, cache: str, clips: int, work: Path) -> str:
    """A dataset folder under `work` whose `split` links `clips` tracks of data/split, spread over
    those with latents in cache/split (the tracks a run on that cache trained on)."""
    names = sorted(p.stem for p in (Path(cache) / split).glob("*.safetensors") if (Path(data) / split / p.stem).is_dir())
    if not names:
        raise SystemExit(f"{cache}/{split}: no latents of tracks in {data}/{split}")
    folder = work / "seen"
    (folder / split).mkdir(parents=True)
    for i in spread(len(names), clips):
        (folder / split / names[i]).symlink_to((Path(data) / split / names[i]).resolve(), target_is_directory=True)
    return str(folder)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sources", nargs="+", help="training run folders or model names/folders")
    p.add_argument("--data", required=True, help="dataset folder with held-out clips")
    p.add_argument("--split", default="test")
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--cell", action="append", required=True, help="separation settings KEY=VALUE,... (repeatable)")
    p.add_argument("--which", default="last", help="checkpoint of a run folder: last, best or a path")
    p.add_argument("--keep", help="folder for the exported models (default: a temporary folder)")
    p.add_argument("--seen-in", metavar="CACHE", help="score tracks with latents in this latent cache (seen in training)")
    p.add_argument("--out", help="results JSON")
    args = p.parse_args(argv)
    cells = [parse_cell(c) for c in args.cell]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        data = seen_tracks(args.data, args.split, args.seen_in, args.clips, Path(tmp)) if args.seen_in else args.data
        for source in args.sources:
            model, facts = model_for(source, work, args.which)
            for row in score(model, data, args.clips, cells, args.split):
                row = {"source": source, **facts, **row}
                results.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
