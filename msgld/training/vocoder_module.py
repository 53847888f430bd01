"""Lightning wrapper that trains the vocoder on short crops of stems and mixtures: HiFi-GAN or
Vocos, as the config's `model.arch` says (msgld.models.vocoder.build_vocoder).

Generator loss: `mel_weight` x L1 between log-mels (THE front-end) of output and target,
plus, from step `adversarial_start`, LSGAN and `fm_weight` x feature matching against the
discriminators the config's `discriminator:` names (multi-period and multi-scale for
HiFi-GAN; multi-period and multi-resolution for Vocos). Manual optimization: the discriminator's
optimizer is stepped directly, so `global_step` counts generator steps (one per batch).
That bypasses Lightning's gradient scaler, so fp16 mixed precision is refused (bf16 is fine).
Validation logs `val/log_mel_l1`.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
import lightning as L

from msgld.audio.mel import MelFrontEnd
from msgld.models.discriminators import build_discriminator
from msgld.models.vocoder import build_vocoder
from msgld.training.data import fold_waves, stem_loaders
from msgld.training.gan_losses import discriminator_loss, feature_matching_loss, generator_loss

# Lightning notes that manual-optimization checkpoints hold the state after the step: intended.
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")


class VocoderModule(L.LightningModule):
    kind = "vocoder"
    monitor = "val/log_mel_l1"

    def __init__(self, config: dict):
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = config
        self.automatic_optimization = False
        self.model = build_vocoder(config["model"])
        self.discriminator = build_discriminator(config.get("discriminator"))
        self.front = MelFrontEnd()

    @property
    def model_config(self) -> dict:
        return self.config["model"]

    def build_loaders(self, data, opts):
        d = self.config["data"]
        return stem_loaders(data, d["segment"], opts.batch_size, opts.num_workers,
                            opts.seed, d.get("preset", "slakh2100"), d.get("stems"), val_segment=d.get("val_segment"))

    def on_fit_start(self) -> None:
        if str(self.trainer.precision).startswith("16"):
            raise ValueError("vocoder training supports 32-true and bf16-mixed precision, not fp16")

    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=waves.device.type, enabled=False):
            return self.front(waves.float())

    def waves(self, batch: dict) -> torch.Tensor:
        """Training crops [N, L]: active stems and mixtures, at most `waves_per_batch`."""
        d = self.config["data"]
        return fold_waves(batch, d.get("include_mixture", True), d.get("keep_silent", 0.0), d.get("waves_per_batch"))

    def training_step(self, batch: dict, batch_idx: int) -> None:
        loss_cfg = self.config["loss"]
        opt_g, opt_d = self.optimizers()
        y = self.waves(batch)
        mel = self.log_mel(y)
        y = y[..., : mel.shape[-2] * self.model.hop_length].unsqueeze(1)
        fake = self.model(mel).unsqueeze(1)
        adversarial = self.global_step >= loss_cfg.get("adversarial_start", 0) and loss_cfg.get("adversarial", True)
        logs = {}
        if adversarial:
            real_s, fake_s, _, _ = self.discriminator(y, fake.detach())
            d_loss = discriminator_loss(real_s, fake_s)
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.optimizer.step()  # raw step: global_step counts generator steps only
            logs["train/d_loss"] = d_loss
        mel_loss = F.l1_loss(self.log_mel(fake.squeeze(1)), mel)
        g_loss = loss_cfg.get("mel_weight", 45.0) * mel_loss
        if adversarial:
            _, fake_s, real_f, fake_f = self.discriminator(y, fake)
            adv, fm = generator_loss(fake_s), feature_matching_loss(real_f, fake_f)
            g_loss = g_loss + adv + loss_cfg.get("fm_weight", 2.0) * fm
            logs.update({"train/g_adv": adv, "train/fm": fm})
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        logs.update({"train/g_loss": g_loss, "train/mel_l1": mel_loss})
        self.log_dict(logs, batch_size=y.shape[0])
        self.log("mel_l1", mel_loss, prog_bar=True, logger=False, batch_size=y.shape[0])

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        y = fold_waves(batch, self.config["data"].get("include_mixture", True), 0.0)
        mel = self.log_mel(y)
        fake = self.model(mel)
        self.log("val/log_mel_l1", F.l1_loss(self.log_mel(fake), mel), prog_bar=True,
                 batch_size=y.shape[0], sync_dist=True)

    def configure_optimizers(self):
        o = self.config["optim"]
        betas = tuple(o.get("betas", (0.8, 0.99)))
        opt_g = torch.optim.AdamW(self.model.parameters(), lr=o["lr"], betas=betas)
        opt_d = torch.optim.AdamW(self.discriminator.parameters(), lr=o.get("lr_d", o["lr"]), betas=betas)
        return [opt_g, opt_d]

    def prepare_export(self, train_loader) -> dict:
        return {}
