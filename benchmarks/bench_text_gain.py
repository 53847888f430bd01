"""What the text pathway buys, in the training loss itself: the generation loss (mixture
dropped) of held-out latents with their own caption, with the null text, and with another
track's caption, at the same timesteps and noise.

    python benchmarks/bench_text_gain.py --data LATENTS --split validation --tracks 64 --draws 4 \
        --out F.json LDM_OR_RUN [LDM_OR_RUN ...]

A source is exported LDM weights (`.../ldm`, with its JSON) or a training run folder (its last
EMA weights are exported first). Each track gives its first crop of the training length with
its caption (prompt 0); "other" is the caption of the track half the list away. The loss is
the model's own training objective (its weighting) at uniform timesteps, `--draws` noise
draws per crop. If the text were ignored, all three would be equal; if only "some caption"
helped, caption and other would be equal. The gaps are paired over crops, with bootstrap
intervals (1000 resamples of the crops, seed 0). Prints one row per source, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def weights_for(source: str, work: Path) -> Path:
    from msgld.training.run import export_run

    path = Path(source)
    if (path / "checkpoints").is_dir():
        return export_run(path, "last", work / path.name, "ldm")
    return path


def crops(data: str, split: str, frames: int, tracks: int, text: Path | None):
    """(stems [N, S, C, T, F], captions [N, D], or None without `text`) of the first crop of each track."""
    from msgld.data.latent_cache import LatentDataset

    ds = LatentDataset(data, split, frames, sample=False, fixed=True, text=text)
    first = {}
    for index, (t_index, k) in enumerate(ds.items):
        if k == 0 and t_index not in first:
            first[t_index] = index
    picks = list(first.values())[:tracks]
    if len(picks) < 2:
        raise ValueError(f"{data}: split {split!r} has {len(picks)} tracks with a full crop; need at least 2")
    items = [ds[i] for i in picks]
    return torch.stack([it["stems"] for it in items]), torch.stack([it["text"] for it in items]) if text else None


def per_item_losses(net, z0, text, scheduler, objective, seed: int) -> np.ndarray:
    """[N] weighted generation losses, mixture dropped, timesteps and noise from `seed` per item."""
    from msgld.diffusion.objective import diffusion_loss

    obj = {**objective, "cfg_dropout": 1.0, "timesteps": "uniform"}
    out = []
    with torch.inference_mode():
        for i in range(z0.shape[0]):
            g = torch.Generator().manual_seed(seed * 100003 + i)  # the same t and noise for every text variant
            x = z0[i : i + 1]
            out.append(float(diffusion_loss(net, x, torch.zeros_like(x[:, 0]), scheduler, obj, g, text=text[i : i + 1])))
    return np.array(out)


def interval(values: np.ndarray) -> list[float]:
    rng = np.random.default_rng(0)
    means = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(1000)]
    return [round(float(np.percentile(means, 2.5)), 5), round(float(np.percentile(means, 97.5)), 5)]


def score(weights: Path, data: str, split: str, tracks: int, draws: int) -> dict:
    from msgld.data.text_cache import default_text_folder
    from msgld.diffusion.schedule import training_scheduler
    from msgld.weights import load_model, weight_paths

    info = json.loads(weight_paths(weights)[1].read_text())
    config = info["config"]
    net = load_model(weights, kind="ldm").float().eval()
    if not net.has_text:
        raise ValueError(f"{weights}: this LDM has no text pathway")
    frames = int(config.get("data", {}).get("latent_frames", 64))
    z0, captions = crops(data, split, frames, tracks, default_text_folder(data, net.text_info["encoder"]))
    other = captions.roll(len(captions) // 2, dims=0)
    scheduler = training_scheduler(config["diffusion"])
    objective = config.get("objective", {})
    losses = {name: np.mean([per_item_losses(net, z0, text, scheduler, objective, d) for d in range(draws)], axis=0)
              for name, text in (("caption", captions), ("null", torch.zeros_like(captions)), ("other", other))}
    null = losses["null"].mean()
    gain = (losses["null"] - losses["caption"]) / null * 100
    right = (losses["other"] - losses["caption"]) / null * 100
    return {"weights": str(weights), "steps": info.get("training", {}).get("steps"), "crops": len(captions),
            "draws": draws, **{f"loss_{k}": round(float(v.mean()), 5) for k, v in losses.items()},
            "text_gain_pct": round(float(gain.mean()), 3), "text_gain_pct_ci": interval(gain),
            "right_caption_gain_pct": round(float(right.mean()), 3), "right_caption_gain_pct_ci": interval(right)}


def run_sources(score_fn, description: str, argv: list[str] | None, tracks: int = 64) -> int:
    """The command line shared by the loss-gain benchmarks: `score_fn(weights, data, split, tracks,
    draws)` for every source, one JSON row printed each, all of them in --out."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("sources", nargs="+", help="exported LDM weights or training run folders")
    p.add_argument("--data", required=True, help="latent cache (with caption embeddings for a text model)")
    p.add_argument("--split", default="validation")
    p.add_argument("--tracks", type=int, default=tracks)
    p.add_argument("--draws", type=int, default=4, help="noise draws per crop")
    p.add_argument("--out", help="results JSON")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in args.sources:
            row = {"source": source, **score_fn(weights_for(source, Path(tmp)), args.data, args.split, args.tracks,
                                                 args.draws)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_sources(score, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
