"""The clips an evaluation runs over: fixed, non-overlapping segments of one split, in batches."""

from __future__ import annotations

from typing import Iterator

import torch
from tqdm import tqdm

from msgld.data.stems_dataset import SEGMENT, MultiStemDataset


def open_split(data, split: str = "test", preset: str = "slakh2100", stems: list[str] | None = None,
               segment: int = SEGMENT, min_active_stems: int = 0) -> MultiStemDataset:
    """Tracks with a bad file are left out, their errors in `dataset.skipped` (the results
    record them and `msgld evaluate` exits with status 1)."""
    return MultiStemDataset(data, split=split, preset=preset, stems=stems, mode="eval", segment=segment,
                            min_active_stems=min_active_stems, skip_bad=True)


def clip_count(dataset: MultiStemDataset, limit: int | None) -> int:
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")
    return len(dataset) if limit is None else min(limit, len(dataset))


def batches(dataset: MultiStemDataset, limit: int | None = None, batch_size: int = 4,
            desc: str = "clips", progress: bool = True, indices: list[int] | None = None) -> Iterator[dict]:
    """Batches of the first `limit` clips (or of the clips `indices`, in that order): {"stems"
    [B, S, L], "mixture" [B, L], "track", "start", "index"} with a progress bar counting clips."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    order = list(range(clip_count(dataset, limit))) if indices is None else [int(i) for i in indices]
    total = len(order)
    with tqdm(total=total, desc=desc, unit="clip", disable=not progress, leave=False) as bar:
        for first in range(0, total, batch_size):
            indices = order[first : first + batch_size]
            items = [dataset[i] for i in indices]
            yield {
                "stems": torch.stack([it["stems"] for it in items]),
                "mixture": torch.stack([it["mixture"] for it in items]),
                "track": [it["track"] for it in items],
                "start": [it["start"] for it in items],
                "index": indices,
            }
            bar.update(len(indices))
