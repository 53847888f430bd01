"""Caption embeddings beside a latent cache, so text-conditioned LDM training never runs the
text encoder (as the latent cache spares it the VAE).

```
TEXT/                              (default CACHE/text/<encoder>; any folder works)
  text.json                        encoder name and dim, variants per track, seed, data folder
  train/TrackNNNNN.safetensors     embeddings [1 + n, dim] (fp16): the track's caption, then n
  validation/...                   varied prompts (msgld.text.prompts); the prompts themselves
                                   in the file's metadata ("prompts", a JSON list)
```

A track is one whose folder holds a `metadata.yaml` (SynthSlakh writes one); others get no file
and train with the null text. A latent cache without this folder is read as before: text is an
addition next to it, never a change to its files. Files are written atomically and finished
ones skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import torch
import yaml
from safetensors import safe_open

from msgld.atomic import atomic_write_text
from msgld.data.stems_dataset import DatasetError

FORMAT = "msgld-text-cache"


def default_text_folder(cache: str | Path, encoder: str) -> Path:
    return Path(cache) / "text" / encoder


def track_folders(data: Path, split: str) -> list[Path]:
    folder = data / split
    if not folder.is_dir():
        raise DatasetError(f"{folder}: split folder not found")
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / "metadata.yaml").exists())


def encode_captions(data: str | Path, out: str | Path, encoder: str, splits: list[str] | None = None,
                    variants: int = 16, seed: int = 0, progress: Callable[[str, int, int], None] | None = None,
                    batch: int = 64, cache: str | Path | None = None) -> dict:
    """Embed every track's caption and `variants` varied prompts (with `cache`, a latent cache:
    only the tracks it holds); returns the folder's description."""
    from msgld.data.latent_cache import save_tensors
    from msgld.text.encoders import encode_texts, load_encoder
    from msgld.text.prompts import prompt_variants

    data, out = Path(data), Path(out)
    splits = splits or [s for s in ("train", "validation", "test") if (data / s).is_dir()]
    if not splits:
        raise DatasetError(f"{data}: no train, validation or test folder")
    enc = load_encoder(encoder)
    info = {"format": FORMAT, "version": 1, "encoder": enc.name, "dim": enc.dim, "variants": variants, "seed": seed,
            "data": str(data.resolve()), "splits": splits}
    saved = out / "text.json"
    if saved.exists():
        old = json.loads(saved.read_text())
        same = {k: old.get(k) for k in ("encoder", "dim", "variants", "seed")}
        if same != {k: info[k] for k in same}:
            raise DatasetError(f"{out}: holds caption embeddings made otherwise ({same}); choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(saved, json.dumps(info, indent=2) + "\n")
    for split in splits:
        folders = track_folders(data, split)
        if cache is not None:
            held = {f.stem for f in (Path(cache) / split).glob("*.safetensors") if not f.name.startswith(".")}
            folders = [f for f in folders if f.name in held]
        todo = [f for f in folders if not (out / split / f"{f.name}.safetensors").exists()]
        for start in range(0, len(todo), batch):
            group = todo[start : start + batch]
            prompts = [prompt_variants(yaml.safe_load((f / "metadata.yaml").read_text()), variants, seed, f.name)
                       for f in group]
            flat = encode_texts(enc, [p for ps in prompts for p in ps]).half()
            for i, (folder, ps) in enumerate(zip(group, prompts)):
                rows = flat[i * (variants + 1) : (i + 1) * (variants + 1)]
                save_tensors({"embeddings": rows}, out / split / f"{folder.name}.safetensors",
                             metadata={"prompts": json.dumps(ps)})
            if progress:
                progress(split, len(folders) - len(todo) + start + len(group), len(folders))
        if progress and not todo:
            progress(split, len(folders), len(folders))
    return info


class TextCache:
    """Read side: `TextCache(folder)[split, track]` -> embeddings [1 + n, dim] or None (no caption)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        path = self.folder / "text.json"
        if not path.exists():
            raise DatasetError(f"{self.folder}: no caption embeddings (no text.json); make them with "
                               f"`msgld data encode-text`")
        self.info = json.loads(path.read_text())
        if self.info.get("format") != FORMAT:
            raise DatasetError(f"{path}: not a caption-embedding folder")

    @property
    def encoder(self) -> str:
        return self.info["encoder"]

    @property
    def dim(self) -> int:
        return int(self.info["dim"])

    def get(self, split: str, track: str) -> torch.Tensor | None:
        path = self.folder / split / f"{track}.safetensors"
        if not path.exists():
            return None
        with safe_open(str(path), "pt") as f:
            return f.get_tensor("embeddings").float()

    def prompts(self, split: str, track: str) -> list[str]:
        with safe_open(str(self.folder / split / f"{track}.safetensors"), "pt") as f:
            return json.loads(f.metadata()["prompts"])
