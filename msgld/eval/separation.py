"""The paper's Table II: separate every clip of a split with a registered method and score it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from msgld import SAMPLE_RATE
from msgld.data.stems_dataset import SEGMENT
from msgld.eval.clips import batches, clip_count, open_split
from msgld.eval.methods import MethodContext, get_entry
from msgld.eval.metrics import SEPARATION_METRICS, SeparationScores
from msgld.eval.report import fmt, markdown_table, run_record


def evaluate_separation(
    data: str | Path,
    method: str,
    split: str = "test",
    preset: str = "slakh2100",
    stems: list[str] | None = None,
    segment: int = SEGMENT,
    limit: int | None = None,
    batch_size: int = 4,
    seed: int = 0,
    device: str = "cpu",
    model: str | None = None,
    config: str | None = None,
    options: dict[str, str] | None = None,
    progress: bool = True,
) -> dict:
    """Run `method` on the first `limit` clips of `split`; returns the results record."""
    entry = get_entry("separation", method)
    dataset = open_split(data, split, preset, stems, segment)
    ctx = MethodContext(stems=dataset.stems, seed=seed, device=device, model=model, config=config,
                        options=dict(options or {}), dataset=dataset)
    torch.manual_seed(seed)
    np.random.seed(seed)
    separate = entry.factory(ctx)
    scores = SeparationScores(dataset.stems)
    started = time.perf_counter()
    for batch in batches(dataset, limit, batch_size, desc=f"separation/{method}", progress=progress):
        with torch.inference_mode():
            estimates = separate(batch["mixture"], batch["stems"] if entry.oracle else None)
        estimates = torch.as_tensor(estimates).float().cpu()
        if estimates.shape != batch["stems"].shape:
            raise ValueError(f"method {method!r} returned {tuple(estimates.shape)}, expected {tuple(batch['stems'].shape)}")
        scores.update(estimates, batch["stems"], batch["mixture"])
    return {
        "task": "separation",
        "method": method,
        "clips": clip_count(dataset, limit),
        "skipped": dataset.skipped,
        "per_stem": scores.per_stem(),
        "mean": scores.mean(),
        "counts": scores.counts(),
        **run_record(
            data=str(Path(data).resolve()), split=split, preset=preset, stems=dataset.stems,
            segment_seconds=segment / SAMPLE_RATE, sample_rate=SAMPLE_RATE, seed=seed, model=model, config=config,
            options=ctx.options, method_settings=getattr(separate, "settings", {}), embedding=None,
            protocol={"si_sdr_wave": "MSDM: 4 s windows, 2 s hop, windows with <= 1 active source skipped, "
                      "mean over kept windows where the stem is active (silent: mean|x| < 1.5e-5)",
                      "si_sdr_wave_clip": "whole clip, clips with a silent target skipped",
                      "mel_mse": "MSE of log-mels (msgld.audio.mel), mean over clips",
                      "log_mel_l1": "mean |difference| of log-mels, mean over clips"},
            elapsed_seconds=round(time.perf_counter() - started, 3),
        ),
    }


def separation_markdown(result: dict) -> str:
    header = ["stem", *SEPARATION_METRICS]
    rows = [[stem, *(vals[m] for m in SEPARATION_METRICS)] for stem, vals in result["per_stem"].items()]
    rows.append(["**mean**", *(result["mean"][m] for m in SEPARATION_METRICS)])
    title = (f"# Separation: {result['method']}\n\n{result['clips']} clips of {fmt(result['segment_seconds'], 2)} s, "
             f"split `{result['split']}` of `{result['data']}`; SI-SDR in dB (MSDM protocol), mel errors on log-mels.\n\n")
    return title + markdown_table(header, rows)
