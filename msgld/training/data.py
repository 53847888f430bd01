"""Loaders over `MultiStemDataset` for the first stage, and folding stems into the batch.

Items give stems [S, L] and the mixture [L]; `fold_waves` turns a batch into single-channel
waveforms [N, L] (each stem, and the mixture as one more, since the diffusion model encodes
mixtures too) and drops silent ones except a `keep_silent` fraction.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from msgld.data.stems_dataset import SILENCE_THRESHOLD, DatasetError, MultiStemDataset


def stem_loaders(
    data: str | Path,
    segment: int,
    batch_size: int,
    num_workers: int = 0,
    seed: int = 0,
    preset: str = "slakh2100",
    stems: list[str] | None = None,
    val_segment: int | None = None,
    val_split: str = "validation",
) -> tuple[DataLoader, DataLoader | None]:
    """Train loader (random shifts, shuffled by the seed) and the validation split's loader
    (fixed segments) or None when the split is absent."""
    train = MultiStemDataset(data, "train", preset=preset, stems=stems, mode="train", segment=segment, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    common = {"num_workers": num_workers, "persistent_workers": False, "pin_memory": False}
    train_loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=len(train) > batch_size,
                              generator=generator, **common)
    try:
        val = MultiStemDataset(data, val_split, preset=preset, stems=stems, mode="eval", segment=val_segment or segment)
    except DatasetError:
        return train_loader, None
    return train_loader, DataLoader(val, batch_size=batch_size, shuffle=False, **common)


def fold_waves(
    batch: dict,
    include_mixture: bool = True,
    keep_silent: float = 0.0,
    max_count: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Batch {"stems": [B, S, L], "mixture": [B, L]} -> waves [N, L]: active stems (and mixtures),
    plus each silent one with probability `keep_silent`; at most `max_count` (a random subset).
    Never empty: if everything is silent, the first wave is kept."""
    waves = batch["stems"]
    if include_mixture:
        waves = torch.cat([waves, batch["mixture"].unsqueeze(1)], dim=1)
    waves = waves.reshape(-1, waves.shape[-1])
    draw = torch.rand(waves.shape[0], generator=generator).to(waves.device)
    keep = (waves.abs().mean(dim=-1) >= SILENCE_THRESHOLD) | (draw < keep_silent)
    if not keep.any():
        keep[0] = True
    index = torch.nonzero(keep).flatten()
    if max_count is not None and index.numel() > max_count:
        order = torch.randperm(index.numel(), generator=generator).to(index.device)
        index = index[order[:max_count]].sort().values
    return waves[index]
