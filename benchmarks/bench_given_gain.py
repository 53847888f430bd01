"""What the given-stems pathway buys, in the training loss itself: the arrangement loss (the
model's own weighting, scored on the stems not given, mixture dropped, null text) of held-out
latents for each of the 14 subsets of given stems, with the pathway and without it (the same
network, `given` withheld: exactly the LDM it was grown from), at the same timesteps and noise.

    python benchmarks/bench_given_gain.py --data LATENTS --split validation --tracks 20 --draws 4 \\
        --out F.json LDM_OR_RUN [LDM_OR_RUN ...]

A source is exported LDM weights with a given-stems pathway or a training run folder (its last
EMA weights are exported first). Each track gives its first crop of the training length. The
gain is (without - with) / without in %, paired over crops, with bootstrap intervals (1000
resamples of the crops, seed 0), overall and per subset (labelled by the stems generated, as
`msgld evaluate arrangement` labels them). Prints one JSON row per source.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_text_gain import crops, interval, run_sources  # noqa: E402


def subset_masks(stems: list[str], frames: int) -> tuple[list[str], torch.Tensor]:
    """(labels of the generated stems, given masks [14, S, 1, T, 1]) for every proper subset."""
    from msgld.eval.arrangement import subset_label, subsets

    labels, masks = [], []
    for generated in subsets(stems):
        labels.append(subset_label(generated, stems))
        given = torch.tensor([0.0 if s in generated else 1.0 for s in stems])
        masks.append(given.view(-1, 1, 1, 1).expand(len(stems), 1, frames, 1))
    return labels, torch.stack(masks)


def score(weights: Path, data: str, split: str, tracks: int, draws: int) -> dict:
    from msgld.data.text_cache import default_text_folder
    from msgld.diffusion.objective import diffusion_loss
    from msgld.diffusion.schedule import training_scheduler
    from msgld.weights import load_model, weight_paths

    info = json.loads(weight_paths(weights)[1].read_text())
    config = info["config"]
    net = load_model(weights, kind="ldm").float().eval()
    if not net.has_given:
        raise ValueError(f"{weights}: this LDM has no given-stems pathway")
    frames = int(config.get("data", {}).get("latent_frames", 64))
    text = default_text_folder(data, net.text_info["encoder"]) if net.has_text else None
    z0, _ = crops(data, split, frames, tracks, text)
    labels, masks = subset_masks(net.stems, frames)
    scheduler = training_scheduler(config["diffusion"])
    objective = config.get("objective", {})
    n = len(labels)
    losses = {True: np.zeros((z0.shape[0], n)), False: np.zeros((z0.shape[0], n))}
    with torch.inference_mode():
        for i in range(z0.shape[0]):
            x = z0[i : i + 1].expand(n, *z0.shape[1:])
            null_text = torch.zeros(n, net.text_dim) if net.has_text else None
            for d in range(draws):
                for pathway in (True, False):
                    g = torch.Generator().manual_seed(d * 100003 + i)  # the same t and noise with and without
                    out = diffusion_loss(net, x, torch.zeros_like(x[:, 0]), scheduler, objective, g, text=null_text,
                                         given_mask=masks, given_pathway=pathway, reduce=False)
                    losses[pathway][i] += out.numpy() / draws
    gain = (losses[False] - losses[True]) / losses[False].mean(0, keepdims=True) * 100
    per_subset = {lab: {"loss_with": round(float(losses[True][:, k].mean()), 5),
                        "loss_without": round(float(losses[False][:, k].mean()), 5),
                        "gain_pct": round(float(gain[:, k].mean()), 2), "gain_pct_ci": interval(gain[:, k])}
                  for k, lab in enumerate(labels)}
    overall = gain.mean(1)
    return {"weights": str(weights), "steps": info.get("training", {}).get("steps"), "crops": int(z0.shape[0]),
            "draws": draws, "loss_with": round(float(losses[True].mean()), 5),
            "loss_without": round(float(losses[False].mean()), 5), "gain_pct": round(float(overall.mean()), 2),
            "gain_pct_ci": interval(overall), "subsets": per_subset}


def main(argv: list[str] | None = None) -> int:
    return run_sources(score, __doc__.splitlines()[0], argv, tracks=20)


if __name__ == "__main__":
    raise SystemExit(main())
