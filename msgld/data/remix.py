"""Training augmentation on a latent cache: cross-song remixing and per-stem gain.

Demucs trains on remixes (each stem from another song) and random stem gains. In latent
space neither can be done on the cached latents alone: the VAE is not linear, so the latent of
a new mixture must come from its audio. A remixed item therefore takes each stem's cached latent
crop from a random song and position, sums those crops' audio (read from the folder the cache was
encoded from) and encodes the new mixture with the cache's VAE on the fly. Per-stem gain changes
the stems' audio too, so it re-encodes the stems as well (four more VAE passes per item).

Remixes are musically incoherent, and the same U-Net is the unconditional prior used for
generation: a remixed item is marked (`"remixed": True`) so the training step never drops its
mixture condition, and the unconditional branch only ever learns real songs. Its text (with
caption embeddings) is the null text: no caption describes a remix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from msgld.audio.mel import MelConfig, MelFrontEnd
from msgld.data.latent_cache import LatentDataset, draw_latent, encode_signals
from msgld.data.stems_dataset import DatasetError, read_segment, scan_split


def augment_settings(cfg: dict | None) -> dict:
    """The config's `data.augment` section, checked: remix probability and gain range in dB."""
    cfg = dict(cfg or {})
    unknown = set(cfg) - {"remix", "gain_db"}
    if unknown:
        raise ValueError(f"data.augment: unknown keys {sorted(unknown)}; known: gain_db, remix")
    out = {"remix": float(cfg.get("remix", 0.0)), "gain_db": float(cfg.get("gain_db", 0.0))}
    if not 0.0 <= out["remix"] <= 1.0:
        raise ValueError(f"data.augment.remix must be a probability in [0, 1], got {out['remix']}")
    if out["gain_db"] < 0:
        raise ValueError(f"data.augment.gain_db must be >= 0, got {out['gain_db']}")
    return out


class AugmentedLatents(Dataset):
    """A `LatentDataset` whose items are remixed with probability `remix` and whose stems get a
    uniform random gain in [-gain_db, +gain_db] dB (gain 0: cached stem latents kept). Items are
    those of the base dataset plus `"remixed"` (bool); every draw comes from (seed, epoch, index)."""

    def __init__(self, base: LatentDataset, remix: float = 0.0, gain_db: float = 0.0, seed: int = 0,
                 device: str = "cpu"):
        from msgld.weights import file_hash, load_model, weight_paths

        self.base, self.seed = base, seed
        settings = augment_settings({"remix": remix, "gain_db": gain_db})
        self.remix, self.gain_db = settings["remix"], settings["gain_db"]
        info = base.info
        self.data = Path(info["data"])
        if not (self.data / base.split).is_dir():
            raise DatasetError(f"{base.cache}: augmentation reads the audio the cache was encoded from, "
                               f"but {self.data / base.split} is missing")
        by_name = {t.name: t for t in scan_split(self.data, base.split, base.stems)}
        missing = [n for n in base.names if n not in by_name]
        if missing:
            raise DatasetError(f"{self.data / base.split}: no audio for cached tracks {missing[:3]}")
        self.audio = [by_name[n] for n in base.names]
        vae_path = Path(info["vae"])
        if not vae_path.is_absolute() and not vae_path.exists():
            vae_path = Path(__file__).resolve().parents[2] / vae_path
        self.vae = load_model(vae_path, device=device, kind="vae").requires_grad_(False)
        if file_hash(weight_paths(vae_path)[0]) != info["vae_hash"]:
            raise DatasetError(f"{base.cache}: its VAE hash differs from {vae_path}'s; re-encode the cache")
        self.front = MelFrontEnd(MelConfig(**info["mel"]))
        self.samples_per_frame = int(info["compression"]) * self.front.cfg.hop_length

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def _audio(self, t_index: int, stem: int, start: int) -> np.ndarray:
        n = self.base.frames * self.samples_per_frame
        return read_segment(self.audio[t_index], [self.base.stems[stem]], start * self.samples_per_frame, n)[0]

    def __getitem__(self, index: int) -> dict:
        base = self.base
        t_index, start, g = base.locate(index)
        state = np.random.SeedSequence([self.seed, base.epoch, index, 1]).generate_state(1)[0]
        h = torch.Generator().manual_seed(int(state))  # the augmentation's own draws
        remixed = bool(torch.rand(1, generator=h) < self.remix)
        if not remixed and self.gain_db == 0:
            return {**base[index], "remixed": False}
        n_stems = len(base.stems)
        sources = [(t_index, start)] * n_stems
        if remixed:
            tracks = torch.randint(0, len(base.tracks), (n_stems,), generator=h).tolist()
            sources = [(t, int(torch.randint(0, base.tracks[t]["mix_mean"].shape[1] - base.frames + 1, (1,),
                                             generator=h))) for t in tracks]
        gains = 10 ** ((torch.rand(n_stems, generator=h) * 2 - 1) * self.gain_db / 20)
        audio = np.stack([self._audio(t, s, st) * float(gains[s]) for s, (t, st) in enumerate(sources)])
        mixture = torch.from_numpy(audio.sum(0, keepdims=True))
        text = {} if base.text is None else {"text": base.text_of(t_index, h, null=remixed)}
        if self.gain_db > 0:  # the stems' audio changed: encode stems and mixture
            mean, std = encode_signals(self.vae, self.front, torch.cat([torch.from_numpy(audio), mixture]))
            latents = draw_latent(mean, std if base.sample else None, base.scale, g)
            return {"stems": latents[:-1], "mixture": latents[-1], "remixed": remixed, **text}
        stems = torch.stack([base.read(t, "stems", st, g)[s] for s, (t, st) in enumerate(sources)])
        mean, std = encode_signals(self.vae, self.front, mixture)
        return {"stems": stems, "mixture": draw_latent(mean[0], std[0] if base.sample else None, base.scale, g),
                "remixed": remixed, **text}
