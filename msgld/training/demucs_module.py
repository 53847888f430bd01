"""Lightning wrapper that trains HT-Demucs (the peer separator) on waveform crops of the stems.

Items come from `MultiStemDataset` through `stem_loaders` (random seeded crops in train, fixed
segments in validation). The mixture is the sum of the stems, after the optional augmentations
(`augment.enabled`: Demucs's own `demucs.augment` modules on the batch [B, S, 1, L] - a random
shift per stem cut from crops `shift_seconds` longer, a random sign and gain per stem, and
cross-song remixing within groups of items). The loss is L1 (or MSE) between the estimated and
true stem waveforms, as Demucs trains. Validation logs `val/l1` (monitored) and `val/nsdr`,
Demucs's SDR (10 log10 of reference over error energy, per stem, then the mean).

Exported: the HTDemucs module itself, kind `demucs`, its keyword arguments as the config.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from demucs import augment as demucs_augment
from torch import nn

from msgld import SAMPLE_RATE
from msgld.config import load_config
from msgld.models.htdemucs import KIND, build_htdemucs, segment_samples
from msgld.training.data import stem_loaders


def resolved_model_config(config: dict) -> dict:
    """The HTDemucs arguments, `sources` taken from `data.stems`, else the preset's when the
    model does not name them."""
    model = dict(config["model"])
    data = config.get("data", {})
    if data.get("stems"):
        model["sources"] = list(data["stems"])
    elif not model.get("sources"):
        model["sources"] = list(load_config("data", data.get("preset", "slakh2100"))["stems"])
    return model


def build_augment(cfg: dict | None) -> tuple[nn.Module | None, int]:
    """Demucs's augmentation chain from the `augment` section, and the extra crop length it needs."""
    cfg = cfg or {}
    if not cfg.get("enabled", False):
        return None, 0
    shift = int(round(float(cfg.get("shift_seconds", 0.0)) * SAMPLE_RATE))
    chain: list[nn.Module] = []
    if shift:
        chain.append(demucs_augment.Shift(shift=shift, same=bool(cfg.get("shift_same", False))))
    if cfg.get("flip_sign", True):
        chain.append(demucs_augment.FlipSign())
    scale = cfg.get("scale") or {}
    if float(scale.get("proba", 0.0)) > 0:
        chain.append(demucs_augment.Scale(proba=float(scale["proba"]), min=float(scale.get("min", 0.25)),
                                          max=float(scale.get("max", 1.25))))
    remix = cfg.get("remix") or {}
    if float(remix.get("proba", 0.0)) > 0:
        chain.append(GroupRemix(float(remix["proba"]), int(remix.get("group_size", 4))))
    return nn.Sequential(*chain), shift


class GroupRemix(demucs_augment.Remix):
    """Demucs's Remix; a batch that its group size does not divide (the last, short one) is
    remixed as one group."""

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        size = self.group_size
        if size and wav.shape[0] % size:
            self.group_size = wav.shape[0]
        try:
            return super().forward(wav)
        finally:
            self.group_size = size


def nsdr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Demucs's validation SDR: [B, S, ..., L] -> mean over stems of 10 log10(|ref|^2 / |ref - est|^2),
    energies summed over the batch (as Demucs sums over a track)."""
    dims = [0, *range(2, reference.dim())]
    num = reference.pow(2).sum(dims) + eps
    den = (reference - estimate).pow(2).sum(dims) + eps
    return (10 * torch.log10(num / den)).mean()


class DemucsModule(L.LightningModule):
    kind = KIND
    monitor = "val/l1"

    def __init__(self, config: dict):
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = config
        self._model_config = resolved_model_config(config)
        if int(self._model_config.get("audio_channels", 2)) != 1:
            raise ValueError("msgld's datasets are mono: set model.audio_channels to 1")
        self.model = build_htdemucs(self._model_config)
        self.segment = segment_samples(self._model_config)
        self.augment, self.shift = build_augment(config.get("augment"))

    @property
    def model_config(self) -> dict:
        return self._model_config

    # -- data -------------------------------------------------------------------------------
    def build_loaders(self, data, opts):
        d = self.config.get("data", {})
        return stem_loaders(data, self.segment + self.shift, opts.batch_size, opts.num_workers, opts.seed,
                            d.get("preset", "slakh2100"), self._model_config["sources"], val_segment=self.segment)

    # -- steps ------------------------------------------------------------------------------
    def loss(self, estimate: torch.Tensor, stems: torch.Tensor) -> torch.Tensor:
        kind = self.config.get("loss", "l1")
        if kind == "l1":
            return F.l1_loss(estimate.float(), stems)
        if kind == "mse":
            return F.mse_loss(estimate.float(), stems)
        raise ValueError(f"loss must be l1 or mse, got {kind!r}")

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        stems = batch["stems"].float().unsqueeze(2)  # [B, S, 1, L + shift]
        if self.augment is not None:
            stems = self.augment(stems)
        stems = stems[..., : self.segment]
        estimate = self.model(stems.sum(dim=1))
        loss = self.loss(estimate, stems)
        self.log("train/loss", loss, prog_bar=True, batch_size=stems.shape[0])
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        stems = batch["stems"].float().unsqueeze(2)
        estimate = self.model(stems.sum(dim=1)).float()
        n = stems.shape[0]
        self.log("val/l1", F.l1_loss(estimate, stems), prog_bar=True, batch_size=n, sync_dist=True)
        self.log("val/nsdr", nsdr(estimate, stems), batch_size=n, sync_dist=True)

    def configure_optimizers(self):
        o = self.config["optim"]
        return torch.optim.Adam(self.model.parameters(), lr=o["lr"], betas=tuple(o.get("betas", (0.9, 0.999))),
                                weight_decay=o.get("weight_decay", 0.0))

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        clip = self.config["optim"].get("grad_clip")
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    # -- export -----------------------------------------------------------------------------
    def prepare_export(self, train_loader) -> dict:
        return {"augment": bool((self.config.get("augment") or {}).get("enabled", False)),
                "loss": self.config.get("loss", "l1")}
