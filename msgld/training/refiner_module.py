"""Lightning wrapper that trains the mask refiner (msgld.models.mask_refiner) on an estimate
cache (msgld.data.estimate_cache: the LDM's stem log-mels of fixed segments, with the audio).

A training item is a random crop of `data.crop_frames` mel frames (seeded by (seed, epoch,
index)); the mixture's log-mel comes from its crop of audio. The refined log-mels become ratio
masks on the mixture's STFT exactly as separation makes them (`MaskReconstructor`), and the loss
is the negative SI-SDR of the masked stems against the true ones, over the stems active in the
crop (MSDM's silence threshold). Validation, on whole segments of the cache's `validation` split,
logs `val/si_sdr` (the mean over active stems, refined; `val/loss` is its negative, monitored)
and `val/si_sdr_input` (the same for the LDM's estimate as it is), so the gain reads directly.

`data.blind: true` is the ablation that tells what the LDM's estimate is worth: the estimate is
replaced by zeros (equal masks), so the same network separates from the mixture's log-mel alone.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from msgld.audio.mel import MelFrontEnd
from msgld.audio.reconstruct import MaskReconstructor
from msgld.data.estimate_cache import EstimateDataset
from msgld.data.stems_dataset import DatasetError
from msgld.eval.metrics import is_silent, si_sdr
from msgld.models.mask_refiner import KIND, MaskRefiner


class RandomCrops(Dataset):
    """Crops of `frames` mel frames (and their audio) of an EstimateDataset's items."""

    def __init__(self, items: EstimateDataset, frames: int, hop: int, seed: int):
        self.items, self.frames, self.hop, self.seed, self.epoch = items, frames, hop, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        total = item["log_mels"].shape[-2]
        start = int(np.random.default_rng([self.seed, self.epoch, index]).integers(0, max(1, total - self.frames + 1)))
        a, b = start * self.hop, (start + self.frames) * self.hop
        return {"log_mels": item["log_mels"][:, start : start + self.frames], "stems": item["stems"][:, a:b],
                "mixture": item["mixture"][a:b]}


def masked_si_sdr(stems: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Mean SI-SDR (dB) over the active reference stems of [B, S, L] (0 when none is active)."""
    active = ~is_silent(references)
    if not active.any():
        return stems.sum() * 0.0
    return si_sdr(stems, references)[active].mean()


class RefinerModule(L.LightningModule):
    kind = KIND
    monitor = "val/loss"

    def __init__(self, config: dict):
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = config
        self.front = MelFrontEnd()
        self.masker = MaskReconstructor(self.front.cfg)
        self.refiner = MaskRefiner(config.get("model"))
        self.blind = bool(config.get("data", {}).get("blind", False))

    @property
    def model(self) -> MaskRefiner:
        return self.refiner

    @property
    def model_config(self) -> dict:
        return self.refiner.config

    # -- data -------------------------------------------------------------------------------
    def build_loaders(self, data, opts):
        train = EstimateDataset(data, "train")
        if list(self.refiner.stems) != train.stems:
            raise DatasetError(f"{data}: estimates of stems {train.stems}, but the refiner's are {self.refiner.stems} "
                               f"(set model.stems)")
        crops = RandomCrops(train, int(self.config.get("data", {}).get("crop_frames", 256)), self.front.cfg.hop_length,
                            opts.seed)
        generator = torch.Generator().manual_seed(opts.seed)
        loader = DataLoader(crops, batch_size=opts.batch_size, shuffle=True, drop_last=len(crops) > opts.batch_size,
                            generator=generator, num_workers=opts.num_workers)
        try:
            val = EstimateDataset(data, "validation")
        except DatasetError:
            return loader, None
        return loader, DataLoader(val, batch_size=4, shuffle=False, num_workers=opts.num_workers)

    # -- steps ------------------------------------------------------------------------------
    def separate(self, log_mels: torch.Tensor, mixture: torch.Tensor, refine: bool = True) -> torch.Tensor:
        """Estimated log-mels [B, S, T, F] and the mixture [B, L] -> masked stems [B, S, L]."""
        if self.blind:
            log_mels = torch.zeros_like(log_mels)
        if refine:
            log_mels = self.refiner(log_mels, self.front(mixture)[..., : log_mels.shape[-2], :])
        return self.masker(log_mels, mixture)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        score = masked_si_sdr(self.separate(batch["log_mels"], batch["mixture"]), batch["stems"])
        loss = -score.float()
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["mixture"].shape[0])
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        n = batch["mixture"].shape[0]
        score = masked_si_sdr(self.separate(batch["log_mels"], batch["mixture"]), batch["stems"]).float()
        self.log("val/si_sdr", score, prog_bar=True, batch_size=n, sync_dist=True)
        self.log("val/loss", -score, batch_size=n, sync_dist=True)
        self.log("val/si_sdr_input", masked_si_sdr(self.separate(batch["log_mels"], batch["mixture"], refine=False),
                                                   batch["stems"]).float(), batch_size=n, sync_dist=True)

    def configure_optimizers(self):
        o = self.config["optim"]
        return torch.optim.AdamW(self.refiner.parameters(), lr=o["lr"], weight_decay=o.get("weight_decay", 0.0))

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        clip = self.config["optim"].get("grad_clip")
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    # -- export -----------------------------------------------------------------------------
    def prepare_export(self, train_loader) -> dict:
        info = train_loader.dataset.items.info
        return {"estimates": {k: info[k] for k in ("model", "ldm_hash", "vae_hash", "settings", "seed", "splits")},
                "blind": self.blind}
