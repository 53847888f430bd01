"""Evaluation speeds: separation metrics, Frechet distance, FAD embeddings (x real time)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.timing import best_of, row
from msgld import SAMPLE_RATE
from msgld.audio.reconstruct import oracle_mel_mask
from msgld.eval.embeddings import get_embedding
from msgld.eval.fad import frechet_distance
from msgld.eval.metrics import SeparationScores, mel_errors, si_sdr

SEGMENT = 163840  # 10.24 s


def metric_rows(quick: bool) -> list[dict]:
    batch = 2 if quick else 4
    gen = torch.Generator().manual_seed(0)
    ref = 0.1 * torch.randn(batch, 4, SEGMENT, generator=gen)
    est = ref + 0.05 * torch.randn(batch, 4, SEGMENT, generator=gen)
    audio = batch * SEGMENT / SAMPLE_RATE  # seconds of mixture audio
    shape = f"[{batch}, 4, {SEGMENT}]"

    def scores():
        SeparationScores(["bass", "drums", "guitar", "piano"]).update(est, ref)

    return [
        row("si_sdr (whole clip)", best_of(lambda: si_sdr(est, ref)), audio, input=shape),
        row("mel_mse + log_mel_l1", best_of(lambda: mel_errors(est, ref)), audio, input=shape),
        row("SeparationScores.update (all metrics)", best_of(scores), audio, input=shape),
        row("oracle_mel_mask (method)", best_of(lambda: oracle_mel_mask(ref)), audio, input=shape),
    ]


def frechet_rows(quick: bool) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for dim in (64, 128, 256) + (() if quick else (2048,)):
        a, b = rng.standard_normal((2 * dim, dim)), rng.standard_normal((2 * dim, dim))
        sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        seconds = best_of(lambda: frechet_distance(a.mean(0), sa, b.mean(0), sb), repeat=1 if dim > 1000 else 3)
        rows.append(row(f"frechet_distance dim {dim}", seconds, input=f"{dim}x{dim}"))
    return rows


def embedding_rows(quick: bool) -> list[dict]:
    names = ["logmel", "crepe-tiny", "vggish"] + ([] if quick else ["crepe-full"])
    wave = 0.1 * torch.randn(2, SEGMENT, generator=torch.Generator().manual_seed(1))
    audio = 2 * SEGMENT / SAMPLE_RATE
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = None
        if "vggish" in names:  # speed does not depend on the weights: random ones
            from msgld.eval.embeddings.vggish import VGGish

            weights = Path(tmp) / "vggish-random.pth"
            torch.save(VGGish().state_dict(), weights)
        for name in names:
            emb = get_embedding(name, weights=str(weights) if name == "vggish" else None)
            repeat = 1 if name == "crepe-full" else 3
            seconds = best_of(lambda: emb(wave), repeat=repeat, warmup=1)
            frames = emb(wave[:1, : SAMPLE_RATE * 2]).shape[1]
            rows.append(row(f"embedding {name}", seconds, audio, input=f"[2, {SEGMENT}]", dim=emb.dim,
                            frames_per_2s=frames))
    return rows


def run(quick: bool = False) -> list[dict]:
    return metric_rows(quick) + frechet_rows(quick) + embedding_rows(quick)
