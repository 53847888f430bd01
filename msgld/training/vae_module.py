"""Lightning wrapper that trains the KL autoencoder on log-mels of stems and mixtures.

Loss (LDM convention): reconstruction (L1 or L2) averaged over log-mel pixels, plus
`kl_weight` times the KL summed over latent elements and divided by the pixel count.
Optional adversarial term (`loss.adversarial.weight` > 0; off in tiny): a PatchGAN with hinge
loss from step `loss.adversarial.start`, its generator term scaled by LDM's adaptive weight
(gradient-norm ratio at the decoder's last layer). Then the optimization is manual and the
discriminator's optimizer is stepped directly, so `global_step` counts autoencoder steps.
Validation logs `val/mel_mse` (the paper's metric, posterior mode) and `val/l1`.

Fine-tuning: `train.init_from` starts from exported VAE weights; `train.freeze_encoder` trains
only the decoder side, so latents (and a diffusion model trained on them, and its latent
cache) stay valid, and the exported scale factor is the initial one, not re-measured.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import lightning as L

from msgld.audio.mel import MelFrontEnd
from msgld.models.patchgan import PatchGAN, hinge_d_loss
from msgld.models.vae import build_vae
from msgld.training.data import fold_waves, stem_loaders
from msgld.training.scale_factor import images_from_loader, measure_scale_factor
from msgld.weights import load_model


def encoder_origin(init_from: str | None) -> dict:
    """A decoder-only fine-tune keeps its encoder: record the hash of the weights it came from
    (their own `encoder_hash` if they were a fine-tune too), so LDMs trained on that encoder's
    latents still load with this VAE."""
    if not init_from:
        return {}
    from msgld.weights import file_hash, read_info, weight_paths

    info = read_info(init_from)
    return {"encoder_hash": info.get("training", {}).get("encoder_hash") or file_hash(weight_paths(init_from)[0])}


class VAEModule(L.LightningModule):
    kind = "vae"
    monitor = "val/mel_mse"

    def __init__(self, config: dict):
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = config
        self.model = build_vae(config["model"])
        train = config.get("train", {})
        if train.get("init_from"):
            self.init_from(train["init_from"])
        self.freeze_encoder = bool(train.get("freeze_encoder", False))
        if self.freeze_encoder:
            for p in self.encoder_side():
                p.requires_grad_(False)
        self.front = MelFrontEnd()
        self.adversarial = dict(config["loss"].get("adversarial") or {})
        if float(self.adversarial.get("weight", 0.0)) > 0:
            self.automatic_optimization = False
            self.discriminator = PatchGAN(self.adversarial)

    def init_from(self, path: str) -> None:
        """Copy weights and scale factor from an exported VAE of the same config."""
        source = load_model(path, kind="vae")
        if source.config != self.model.config:
            raise ValueError(f"{path}: VAE config differs from the run's config; cannot initialise from it")
        self.model.load_state_dict(source.state_dict())
        self.model.scale_factor = source.scale_factor

    def encoder_side(self) -> list[torch.nn.Parameter]:
        return [*self.model.encoder.parameters(), *self.model.quant_conv.parameters()]

    @property
    def model_config(self) -> dict:
        return self.config["model"]

    # -- data -------------------------------------------------------------------------------
    def build_loaders(self, data, opts):
        d = self.config["data"]
        return stem_loaders(data, d["segment"], opts.batch_size, opts.num_workers, opts.seed,
                            d.get("preset", "slakh2100"), d.get("stems"), val_segment=d.get("val_segment"))

    def log_mels(self, waves: torch.Tensor) -> torch.Tensor:
        """Waves [N, L] -> log-mel images [N, 1, T, 64] with T cropped to a multiple of r (fp32)."""
        with torch.autocast(device_type=waves.device.type, enabled=False):
            mel = self.front(waves.float())
        r = self.model.compression
        return mel[..., : mel.shape[-2] // r * r, :].unsqueeze(1)

    def images(self, batch: dict, train: bool = True) -> torch.Tensor:
        d = self.config["data"]
        waves = fold_waves(batch, d.get("include_mixture", True), d.get("keep_silent", 0.0) if train else 0.0,
                           d.get("max_images") if train else None)
        return self.log_mels(waves)

    # -- steps ------------------------------------------------------------------------------
    def reconstruction(self, rec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        kind = self.config["loss"].get("reconstruction", "l1")
        return F.l1_loss(rec.float(), x) if kind == "l1" else F.mse_loss(rec.float(), x)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        x = self.images(batch)
        rec, posterior = self.model(x)
        rec_loss = self.reconstruction(rec, x)
        kl = posterior.kl().float().mean() / x[0].numel()
        loss = rec_loss + self.config["loss"]["kl_weight"] * kl
        logs = {"train/rec": rec_loss, "train/kl": kl, "train/images": float(x.shape[0])}
        if not self.automatic_optimization:
            loss = self.adversarial_step(x, rec, rec_loss, loss, logs)
        logs["train/loss"] = loss
        self.log_dict(logs, batch_size=x.shape[0])
        self.log("loss", rec_loss, prog_bar=True, logger=False, batch_size=x.shape[0])
        return loss

    def adversarial_step(self, x, rec, rec_loss, loss, logs) -> torch.Tensor:
        """Manual optimization: autoencoder step (with the generator term once active), then
        the discriminator's step on normalised images."""
        opt_vae, opt_d = self.optimizers()
        norm = lambda m: (m - self.model.in_mean) / self.model.in_std  # noqa: E731
        active = self.global_step >= int(self.adversarial.get("start", 0))
        if active:
            g_loss = -self.discriminator(norm(rec)).float().mean()
            last = self.model.decoder.conv_out.weight
            g_rec = torch.autograd.grad(rec_loss, last, retain_graph=True)[0]
            g_adv = torch.autograd.grad(g_loss, last, retain_graph=True)[0]
            weight = (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0, 1e4).detach()
            loss = loss + float(self.adversarial["weight"]) * weight * g_loss
            logs.update({"train/g_adv": g_loss, "train/adv_weight": weight})
        opt_vae.zero_grad()
        self.manual_backward(loss)
        opt_vae.step()
        if active:
            d_loss = hinge_d_loss(self.discriminator(norm(x)), self.discriminator(norm(rec.detach())))
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.optimizer.step()  # raw step: global_step counts autoencoder steps only
            logs["train/d_loss"] = d_loss
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        x = self.images(batch, train=False)
        rec, _ = self.model(x, sample=False)
        self.log_dict({"val/mel_mse": F.mse_loss(rec.float(), x), "val/l1": F.l1_loss(rec.float(), x)},
                      prog_bar=True, batch_size=x.shape[0], sync_dist=True)

    def configure_optimizers(self):
        o = self.config["optim"]
        betas = tuple(o.get("betas", (0.9, 0.999)))
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=o["lr"], betas=betas, weight_decay=o.get("weight_decay", 0.0))
        if self.automatic_optimization:
            return opt
        return [opt, torch.optim.Adam(self.discriminator.parameters(), lr=o.get("lr_d", o["lr"]), betas=betas)]

    # -- export -----------------------------------------------------------------------------
    def prepare_export(self, train_loader) -> dict:
        """Measure and set the scale factor on training images; returns info for the JSON.
        A frozen encoder keeps its initial scale factor (its latents did not change)."""
        if self.freeze_encoder:
            return {"scale_factor_from": self.config["train"].get("init_from", "frozen encoder"),
                    **encoder_origin(self.config["train"].get("init_from"))}
        s = self.config.get("scale_factor", {})
        was_training = self.model.training
        self.model.eval()
        images = images_from_loader(train_loader, lambda b: self.images(b, train=False))
        self.model.scale_factor = measure_scale_factor(self.model, images, s.get("batches", 32), seed=s.get("seed", 0))
        self.model.train(was_training)
        return {"scale_factor_batches": s.get("batches", 32)}
