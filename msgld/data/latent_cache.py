"""Pre-encoded VAE latents, so LDM training never runs the VAE (MGE-LDM pre-extracts the same way).

```
CACHE/
  cache.json                      VAE weights hash and config, scale_factor, stems, mel settings
  train/TrackNNNNN.safetensors    stems_mean, stems_std [S, C, T/r, F/r]; mix_mean, mix_std [C, T/r, F/r]
  validation/...                  (fp16; unscaled: the scale factor is applied when read)
```

Each track is encoded whole (the VAE is convolutional) and written atomically; rerunning
skips finished tracks, so an interrupted `msgld data encode` resumes.

Caption embeddings for text-conditioned training live in their own folder (by default
CACHE/text/<encoder>, `msgld data encode-text`; msgld.data.text_cache): a cache without them
reads exactly as before, and making them never touches the latent files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset

from msgld.atomic import atomic_output, atomic_write_text, write_error
from msgld.audio.mel import MelFrontEnd
from msgld.data.stems_dataset import DatasetError, read_segment, scan_split
from msgld.weights import file_hash


def save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    try:
        with atomic_output(path) as tmp:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    except Exception as e:  # safetensors reports a full disk as SafetensorError
        raise write_error(path, e) from e


@torch.no_grad()
def encode_signals(vae, front: MelFrontEnd, waves: torch.Tensor, chunk_frames: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, L] waveforms -> fp16 posterior means and stds [N, C, T/r, F/r] (on the CPU)."""
    device = next(vae.parameters()).device
    mels = front.to(device)(waves.to(device))  # [N, T, 64]
    r = vae.compression
    frames = mels.shape[1] - mels.shape[1] % r
    means, stds = [], []
    for s in range(0, frames, chunk_frames):  # bounded memory for long tracks
        posterior = vae.encode(mels[:, s : min(frames, s + chunk_frames)].unsqueeze(1))
        means.append(posterior.mean)
        stds.append(posterior.std)
    return torch.cat(means, dim=2).cpu().half(), torch.cat(stds, dim=2).cpu().half()


def encode_track_audio(vae, front: MelFrontEnd, stems: np.ndarray, chunk_frames: int = 4096) -> dict[str, torch.Tensor]:
    """[S, L] stems -> posterior means and stds of the stems and of their mixture."""
    waves = torch.from_numpy(np.concatenate([stems, stems.sum(0, keepdims=True)]))
    mean, std = encode_signals(vae, front, waves, chunk_frames)
    return {"stems_mean": mean[:-1], "stems_std": std[:-1], "mix_mean": mean[-1], "mix_std": std[-1]}


def draw_latent(mean: torch.Tensor, std: torch.Tensor | None, scale: float, g: torch.Generator | None) -> torch.Tensor:
    """A latent from a stored posterior (its mean when `std` is None), times the scale factor."""
    mean = mean.float()
    if std is not None:
        mean = mean + std.float() * torch.randn(mean.shape, generator=g)
    return mean * scale


def encode_dataset(
    data: str | Path,
    vae_path: str | Path,
    out: str | Path,
    splits: list[str] | None = None,
    preset: str = "slakh2100",
    stems: list[str] | None = None,
    device: str = "cpu",
    progress: Callable[[str, int, int], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> dict:
    """Encode every track of `splits` under `data` into `out`; returns the cache description.
    `shard=(k, n)` encodes only the tracks whose index in their split is k mod n, so n
    processes can share the work (each writes its own files; the result is the same)."""
    k, n = shard
    if not 0 <= k < n:
        raise ValueError(f"shard {k}/{n}: expected 0 <= K < N")
    from msgld.config import load_config
    from msgld.weights import load_model, weight_paths

    if vae_path is None:
        from msgld.inference.bundle import DEFAULT_MODEL, model_folder

        vae_path = model_folder(DEFAULT_MODEL) / "vae"
    data, out = Path(data), Path(out)
    preset_cfg = load_config("data", preset)
    stems = list(stems or preset_cfg["stems"])
    splits = splits or [s for s in preset_cfg["splits"] if (data / s).is_dir()]
    if not splits:
        raise DatasetError(f"{data}: none of the splits {preset_cfg['splits']} exist")
    vae = load_model(vae_path, device=device, kind="vae")
    front = MelFrontEnd()
    info = {
        "format": "msgld-latent-cache", "version": 1, "data": str(data.resolve()), "stems": stems,
        "splits": splits, "vae": str(vae_path), "vae_hash": file_hash(weight_paths(vae_path)[0]),
        "vae_config": vae.config, "scale_factor": float(vae.scale_factor), "compression": vae.compression,
        "mel": front.cfg.to_dict(),
    }
    saved = out / "cache.json"
    if saved.exists():
        old = json.loads(saved.read_text())
        if old.get("vae_hash") != info["vae_hash"] or old.get("stems") != stems:
            raise DatasetError(f"{out}: holds latents of another VAE or stem list; choose a new --out")
    atomic_write_text(saved, json.dumps(info, indent=2) + "\n")
    for split in splits:
        tracks = scan_split(data, split, stems)
        for i, track in enumerate(tracks):
            if i % n != k:
                continue
            target = out / split / f"{track.name}.safetensors"
            if not target.exists():
                audio = read_segment(track, stems, 0, track.length)
                save_tensors(encode_track_audio(vae, front, audio), target)
            if progress:
                progress(split, i + 1, len(tracks))
    return info


class LatentDataset(Dataset):
    """Random crops of `frames` latent frames from a latent cache, held in memory.

    Items: {"stems": [S, C, frames, F], "mixture": [C, frames, F]}, scaled by the VAE's
    scale_factor; with `sample=True` latents are drawn from the stored posteriors. The crop
    and the draw come from (seed, epoch, index), so runs are repeatable. Tracks shorter than
    one crop are skipped.

    With `text` (a caption-embedding folder, msgld.data.text_cache), items also hold "text"
    [dim]: one of the track's prompts, drawn from the same generator after the latents (so the
    latents are what they are without text), or with `fixed` always its caption; zeros (the
    null text) for a track without one.
    """

    def __init__(self, cache: str | Path, split: str = "train", frames: int = 256, sample: bool = True,
                 seed: int = 0, fixed: bool = False, text: str | Path | None = None):
        self.cache = Path(cache)
        info_path = self.cache / "cache.json"
        if not info_path.exists():
            raise DatasetError(f"{self.cache}: not a latent cache (no cache.json); make one with `msgld data encode`")
        self.info = json.loads(info_path.read_text())
        self.scale = float(self.info["scale_factor"])
        self.frames, self.sample, self.seed, self.fixed = frames, sample, seed, fixed
        # hidden names are a killed writer's temporary files, never tracks
        files = sorted(f for f in (self.cache / split).glob("*.safetensors") if not f.name.startswith("."))
        tracks = [(f.stem, load_file(str(f))) for f in files]
        tracks = [(name, t) for name, t in tracks if t["mix_mean"].shape[1] >= frames]
        self.split = split
        self.names = [name for name, _ in tracks]
        self.tracks = [t for _, t in tracks]
        self.text = self.texts = None
        if text is not None:
            from msgld.data.text_cache import TextCache

            self.text = TextCache(text)
            null = torch.zeros(1, self.text.dim)
            self.texts = [self.text.get(split, name) for name in self.names]
            self.texts = [null if emb is None else emb for emb in self.texts]
        if not self.tracks:
            raise DatasetError(f"{self.cache / split}: no encoded tracks of at least {frames} latent frames")
        self.items = [(i, k) for i, t in enumerate(self.tracks) for k in range(t["mix_mean"].shape[1] // frames)]
        self.epoch = 0

    @property
    def stems(self) -> list[str]:
        return self.info["stems"]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def locate(self, index: int) -> tuple[int, int, torch.Generator]:
        """Item `index` -> (track index, first latent frame of its crop, the item's generator)."""
        t_index, k = self.items[index]
        state = np.random.SeedSequence([self.seed, 0 if self.fixed else self.epoch, index]).generate_state(1)[0]
        g = torch.Generator().manual_seed(int(state))
        length = self.tracks[t_index]["mix_mean"].shape[1]
        if self.fixed:
            return t_index, k * self.frames, g
        return t_index, int(torch.randint(0, length - self.frames + 1, (1,), generator=g)), g

    def read(self, t_index: int, key: str, start: int, g: torch.Generator) -> torch.Tensor:
        """Scaled latent crop of "stems" [S, C, frames, F] or "mix" [C, frames, F]."""
        track, crop = self.tracks[t_index], slice(start, start + self.frames)
        std = track[f"{key}_std"][..., crop, :] if self.sample and not self.fixed else None
        return draw_latent(track[f"{key}_mean"][..., crop, :], std, self.scale, g)

    def text_of(self, t_index: int, g: torch.Generator, null: bool = False) -> torch.Tensor:
        """One of the track's prompt embeddings [dim] (with `fixed`: its caption; `null`: zeros)."""
        prompts = self.texts[t_index]
        if null:
            return torch.zeros(prompts.shape[-1])
        return prompts[0 if self.fixed else int(torch.randint(0, prompts.shape[0], (1,), generator=g))]

    def __getitem__(self, index: int) -> dict:
        t_index, start, g = self.locate(index)
        item = {"stems": self.read(t_index, "stems", start, g), "mixture": self.read(t_index, "mix", start, g)}
        if self.text is not None:
            item["text"] = self.text_of(t_index, g)
        return item
