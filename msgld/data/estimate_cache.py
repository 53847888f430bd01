"""A cache of the separator's own estimates, the training data of the mask refiner
(msgld.models.mask_refiner): what the LDM says each stem's log-mel is, for fixed 10.24 s
segments of a dataset's tracks.

```
estimates/
  cache.json                        model folder and weight hashes, settings, data, selection
  train/Track00003@163840.safetensors   "log_mels" [S, 1024, 64] fp16
```

Segments are `MultiStemDataset`'s evaluation segments (at least `min_active_stems` active),
optionally only of the tracks whose index in the split is in `tracks` modulo N (so the refiner can
train on songs the LDM never saw: the latent cache's `--shard K/N` picks tracks the same way).
Each segment is separated on its own, exactly as `Separator.estimate` separates a 10.24 s clip
(the model's windows, overlaps and cross-fades), with the seed `seed + its number in the
selection`, so an estimate does not depend on which process made it; `shard=(k, n)` writes
every n-th segment, so n processes share the work; a rerun skips what exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open

from msgld import SAMPLE_RATE
from msgld.audio.io import atomic_write_text
from msgld.data.latent_cache import save_tensors
from msgld.data.stems_dataset import DatasetError, MultiStemDataset, read_segment

FORMAT = "msgld-estimate-cache"


def item_name(track: str, start: int) -> str:
    return f"{track}@{start}.safetensors"


def select_items(dataset: MultiStemDataset, tracks: tuple[list[int], int] | None) -> list[tuple[int, int]]:
    """The dataset's (track index, start) segments, only tracks whose index mod N is in the list."""
    if tracks is None:
        return list(dataset.eval_items)
    keep, n = set(tracks[0]), tracks[1]
    return [(t, s) for t, s in dataset.eval_items if t % n in keep]


def write_estimates(separator, data: str | Path, out: str | Path, split: str = "train", *,
                    tracks: tuple[list[int], int] | None = None, limit: int | None = None,
                    shard: tuple[int, int] = (0, 1), min_active_stems: int = 2, seed: int = 0,
                    progress: Callable[[int, int], None] | None = None,
                    **settings) -> dict:
    """Estimate the stems' log-mels of the selected segments of `split` (the first `limit`, spread
    evenly over the selection when fewer than all) with `separator` at its defaults plus
    `settings`; returns the cache description."""
    from msgld.weights import file_hash

    k, n = shard
    if not 0 <= k < n:
        raise ValueError(f"shard {k}/{n}: expected 0 <= K < N")
    out = Path(out)
    dataset = MultiStemDataset(data, split, stems=separator.stems, mode="eval", min_active_stems=min_active_stems)
    items = select_items(dataset, tracks)
    if not items:
        raise DatasetError(f"{data}/{split}: no segments with {min_active_stems}+ active stems in the selection")
    if limit is not None and limit < len(items):
        items = [items[i * len(items) // limit] for i in range(limit)]
    s = separator.resolve(**{**settings, "mask_refiner": "none"})  # the LDM's own estimate
    b = separator.bundle
    info = {
        "format": FORMAT, "version": 1, "data": str(Path(data).resolve()), "stems": separator.stems,
        "model": str(b.folder), "ldm_hash": file_hash(b.ldm.weights_path),  # the files in use (a --checkpoint too)
        "vae_hash": file_hash(b.vae.weights_path), "settings": s.to_dict(), "seed": seed,
        "segment": dataset.segment, "splits": {},
    }
    selection = {"tracks": None if tracks is None else [sorted(tracks[0]), tracks[1]], "limit": limit,
                 "min_active_stems": min_active_stems, "items": len(items)}
    saved = out / "cache.json"
    if saved.exists():
        old = json.loads(saved.read_text())
        same = ("ldm_hash", "vae_hash", "settings", "seed", "segment", "stems")
        if {key: old.get(key) for key in same} != {key: info[key] for key in same}:
            raise DatasetError(f"{out}: holds estimates of another model, settings or seed; choose a new --out")
        if old["splits"].get(split, selection) != selection:
            raise DatasetError(f"{out}/{split}: made with another selection {old['splits'][split]}; choose a new "
                               f"--out or the same --tracks/--limit")
        info["splits"] = old["splits"]
    info["splits"][split] = selection
    atomic_write_text(saved, json.dumps(info, indent=2) + "\n")
    for number, (t, start) in enumerate(items):
        if number % n != k:
            continue
        target = out / split / item_name(dataset.tracks[t].name, start)
        if not target.exists():
            mixture = read_segment(dataset.tracks[t], dataset.stems, start, dataset.segment).sum(0)
            est = separator.estimate(mixture, sample_rate=SAMPLE_RATE, **{**s.to_dict(), "seed": seed + number})
            save_tensors({"log_mels": est.log_mels.cpu().half().contiguous()}, target)
        if progress:
            progress(number + 1, len(items))
    return info


class EstimateDataset(torch.utils.data.Dataset):
    """Items {"log_mels": [S, T, 64] float32 (the estimate), "stems": [S, L], "mixture": [L]} for
    every segment of `split` the cache holds; the audio is read from the cache's dataset folder
    (or `data`)."""

    def __init__(self, cache: str | Path, split: str = "train", data: str | Path | None = None):
        self.cache = Path(cache)
        info_path = self.cache / "cache.json"
        if not info_path.exists():
            raise DatasetError(f"{self.cache}: not an estimate cache (no cache.json); make one with "
                               f"`msgld data estimate`")
        self.info = json.loads(info_path.read_text())
        if self.info.get("format") != FORMAT:
            raise DatasetError(f"{info_path}: format {self.info.get('format')!r}, expected {FORMAT!r}")
        root = Path(data or self.info["data"])
        self.dataset = MultiStemDataset(root, split, stems=self.info["stems"], mode="eval",
                                        segment=int(self.info["segment"]))
        by_name = {t.name: t for t in self.dataset.tracks}
        self.items = []
        for path in sorted((self.cache / split).glob("*.safetensors")):
            name, start = path.stem.rsplit("@", 1)
            if name not in by_name:
                raise DatasetError(f"{path}: track {name!r} is not in {root}/{split}")
            self.items.append((path, by_name[name], int(start)))
        if not self.items:
            raise DatasetError(f"{self.cache}/{split}: no estimates")

    @property
    def stems(self) -> list[str]:
        return list(self.info["stems"])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        path, track, start = self.items[index]
        with safe_open(str(path), framework="pt") as f:
            mels = f.get_tensor("log_mels").float()
        stems = torch.from_numpy(read_segment(track, self.stems, start, int(self.info["segment"])))
        return {"log_mels": mels, "stems": stems, "mixture": stems.sum(0)}
