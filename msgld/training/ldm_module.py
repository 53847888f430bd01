"""Lightning wrapper that trains the multi-track U-Net on a latent cache.

The training step draws timesteps and noise, drops the mixture condition (zeros) with
probability `cfg_dropout` (never for remixed items: `data.augment`, msgld.data.remix) and
regresses epsilon, v or x0 with the config's loss weighting (msgld.diffusion.objective). An
exponential moving average of the weights is kept beside them; it is what validation reports as
`val/loss_ema` and what is exported for sampling.

Text (when the U-Net config has `text_dim`; msgld.text.config): items carry one of the track's
prompt embeddings (msgld.data.text_cache), which the step drops to the null text with
probability `text.dropout`, independently of the mixture. `train.init_from` may then name a
text-free model: the text pathway starts at zero, so training starts from exactly that model.

Validation draws timesteps uniformly (the recipe's own weighting, no dropout), and also reports
`val/x0_mse_T_ema`: the conditional clean-latent error of the EMA model from pure noise at
t = T - 1, which is what one-step separation decodes; it is comparable across objectives.
"""

from __future__ import annotations

import copy

import lightning as L
import torch
from torch.utils.data import DataLoader

from msgld.data.latent_cache import LatentDataset
from msgld.data.remix import AugmentedLatents, augment_settings
from msgld.diffusion.objective import diffusion_loss, objective_settings
from msgld.diffusion.sampling import to_epsilon
from msgld.diffusion.schedule import training_scheduler
from msgld.models.unet3d import GIVEN_INFIX, GIVEN_PREFIX, TEXT_PREFIX, MultiTrackUNet, new_pathways_only, without_growth
from msgld.text.config import text_settings
from msgld.training.lr_schedule import factor_from_config


class LDMModule(L.LightningModule):
    kind = "ldm"
    monitor = "val/loss_ema"

    def __init__(self, config: dict):
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = config
        self.net = MultiTrackUNet(config["model"])
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.scheduler = training_scheduler(config["diffusion"])
        self.objective = objective_settings(config.get("objective"))
        self.text = text_settings(config)
        self.source_hash: str | None = None  # of train.init_from's weights file (kept in checkpoints)
        init_from = config.get("train", {}).get("init_from")
        if init_from:
            self.init_from(init_from)
        if config.get("optim", {}).get("freeze_base"):
            self.freeze_base()
        self.latent_info: dict = dict(config.get("latent", {}))

    def init_from(self, path: str) -> None:
        """Start from exported LDM weights of the same architecture (net and EMA alike), e.g. the
        shipped model; the objective may differ (an epsilon model fine-tuned as a v model). The
        run's U-Net may add what starts as a no-op (a text pathway, FiLM, `extra_blocks`): then
        step 0 computes exactly what the source did, and training grows from there."""
        from msgld.weights import file_hash, load_model

        path = resolve_init_path(path)
        source = load_model(path, kind="ldm")
        # a source that itself trained one pathway alone equals, without the pathways, that run's source,
        # and so does this run: what was made from that model (a mask refiner) still fits both
        frozen_from = source.weights_info.get("training", {}).get("frozen_from")
        self.source_hash = frozen_from if self.frozen_pathway and frozen_from else file_hash(source.weights_path)
        if without_growth(source.config) != without_growth(self.net.config):
            raise ValueError(f"{path}: its U-Net config differs from the run's; cannot initialise from it")
        state = {k: v.float() for k, v in source.state_dict().items()}
        if not self.net.has_text:  # a text model's null-text behaviour: its text pathway adds nothing then
            state = {k: v for k, v in state.items() if not k.startswith(TEXT_PREFIX)}
        missing, unexpected = self.net.load_state_dict(state, strict=False)
        if not new_pathways_only(missing, unexpected):  # only what starts as a no-op may be missing
            raise ValueError(f"{path}: its weights do not fit the run's U-Net (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})")
        self.ema.load_state_dict(self.net.state_dict())

    def freeze_base(self) -> None:
        """`optim.freeze_base`: train one added pathway alone, `true` or "text" the text pathway,
        "given" the given-stems pathway of arrangement. Every other weight stays as loaded (and so
        does its EMA), so whatever does not use the pathway (separation, for both) is exactly the
        model the run started from."""
        which = self.frozen_pathway
        if which not in ("text", "given"):
            raise ValueError(f"optim.freeze_base: {self.config['optim']['freeze_base']!r}; choose true (or "
                             f"'text') or 'given'")
        if not (self.net.has_text if which == "text" else self.net.has_given):
            raise ValueError(f"optim.freeze_base trains the {which} pathway alone, but the run's U-Net has none "
                             f"(set model.{'text_dim' if which == 'text' else 'given_adapter'})")
        for name, p in self.net.named_parameters():
            p.requires_grad_(in_pathway(name, which))

    @property
    def frozen_pathway(self) -> str | None:
        """The one pathway `optim.freeze_base` trains ("text" or "given"), None: all weights."""
        which = self.config.get("optim", {}).get("freeze_base")
        return "text" if which is True else (which or None)

    @property
    def model(self) -> MultiTrackUNet:
        """What is exported and sampled from: the EMA weights."""
        return self.ema

    @property
    def model_config(self) -> dict:
        out = {"model": self.config["model"], "diffusion": self.config["diffusion"], "latent": self.latent_info,
               "objective": self.objective}
        if self.text is not None:
            out["text"] = {"encoder": self.text["encoder"], "dim": self.net.text_dim, "dropout": self.text["dropout"]}
        return out

    def text_folder(self, data):
        """The caption embeddings the run reads (None: a text-free model)."""
        if self.text is None:
            return None
        from msgld.data.text_cache import default_text_folder

        return self.text["cache"] or default_text_folder(data, self.text["encoder"])

    def check_text(self, dataset: LatentDataset) -> None:
        if self.text is None:
            return
        info = dataset.text.info
        if info["encoder"] != self.text["encoder"] or int(info["dim"]) != self.net.text_dim:
            raise ValueError(f"{dataset.text.folder}: caption embeddings of {info['encoder']} ({info['dim']} dims), "
                             f"but the run's text is {self.text['encoder']} into text_dim {self.net.text_dim}")

    # -- data -------------------------------------------------------------------------------
    def build_loaders(self, data, opts):
        frames = self.config["data"]["latent_frames"]
        text = self.text_folder(data)
        train = LatentDataset(data, "train", frames, sample=True, seed=opts.seed, text=text)
        self.check_text(train)
        if train.stems != list(self.config["model"]["stems"]):
            raise ValueError(f"{data}: cache stems {train.stems} differ from the model's {self.config['model']['stems']}")
        self.latent_info = {**{k: train.info[k] for k in ("scale_factor", "vae_hash", "compression", "stems")},
                            "latent_frames": frames}
        augment = augment_settings(self.config["data"].get("augment"))
        if augment["remix"] > 0 or augment["gain_db"] > 0:
            train = AugmentedLatents(train, **augment, seed=opts.seed)
        loader = DataLoader(train, batch_size=opts.batch_size, shuffle=True, num_workers=opts.num_workers,
                            drop_last=len(train) >= opts.batch_size,
                            generator=torch.Generator().manual_seed(opts.seed))
        val_loader = None
        try:
            val = LatentDataset(data, "validation", frames, sample=False, seed=opts.seed, fixed=True, text=text)
            val_loader = DataLoader(val, batch_size=opts.batch_size, shuffle=False, num_workers=0)
        except ValueError:  # no validation split in the cache
            pass
        return loader, val_loader

    # -- steps ------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = diffusion_loss(self.net, batch["stems"], batch["mixture"], self.scheduler, self.objective,
                              always_keep=batch.get("remixed"), text=batch.get("text"),
                              text_dropout=self.text["dropout"] if self.text else 0.0)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["stems"].shape[0])
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        decay = self.config["optim"]["ema_decay"]
        decay = min(decay, (1 + self.global_step) / (10 + self.global_step))  # warm-up of the average
        with torch.no_grad():
            ema, net = list(self.ema.parameters()), list(self.net.parameters())
            torch._foreach_lerp_(ema, net, 1.0 - decay)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        # a fixed generator per batch: the validation loss is comparable across checkpoints
        z0, cond = batch["stems"], batch["mixture"]
        g = torch.Generator(device=z0.device).manual_seed(1000 + batch_idx)
        val_objective = {**self.objective, "cfg_dropout": 0.0, "timesteps": "uniform"}
        for name, net in (("val/loss", self.net), ("val/loss_ema", self.ema)):
            g.manual_seed(1000 + batch_idx)
            loss = diffusion_loss(net, z0, cond, self.scheduler, val_objective, g, text=batch.get("text"))
            self.log(name, loss, prog_bar=name.endswith("ema"), batch_size=z0.shape[0], sync_dist=True)
        self.log("val/x0_mse_T_ema", self.x0_error_at_T(z0, cond, g, batch.get("text")), batch_size=z0.shape[0],
                 sync_dist=True)

    def x0_error_at_T(self, z0: torch.Tensor, cond: torch.Tensor, g: torch.Generator,
                      text: torch.Tensor | None = None) -> torch.Tensor:
        t_last = self.scheduler.config.num_train_timesteps - 1
        t = torch.full((z0.shape[0],), t_last, device=z0.device, dtype=torch.long)
        noise = torch.randn(z0.shape, generator=g, device=z0.device, dtype=z0.dtype)
        zt = self.scheduler.add_noise(z0, noise, t)
        a = self.scheduler.alphas_cumprod.to(z0.device)[t_last].to(z0.dtype)
        out = self.ema(zt, t, cond) if text is None else self.ema(zt, t, cond, text=text)
        eps = to_epsilon(out.to(z0.dtype), zt, a, self.scheduler.config.prediction_type)
        x0 = (zt - (1 - a).sqrt() * eps) / a.sqrt()
        return torch.nn.functional.mse_loss(x0.float(), z0.float())

    def param_groups(self) -> list[dict]:
        """One AdamW group; with `optim.text_lr_scale` != 1 a second one holds the text pathway
        at lr x that scale (it starts at zero and is small beside the rest, so at the network's
        learning rate it grows too slowly to steer anything)."""
        t = self.config["optim"]
        scale = float(t.get("text_lr_scale", 1.0))
        named = [(n, p) for n, p in self.net.named_parameters() if p.requires_grad]
        if self.frozen_pathway:  # one pathway alone (the text pathway at its own rate)
            return [{"params": [p for _, p in named], "lr": t["lr"] * (scale if self.frozen_pathway == "text" else 1.0)}]
        if scale == 1.0 or not self.net.has_text:
            return [{"params": [p for _, p in named], "lr": t["lr"]}]
        return [{"params": [p for n, p in named if not n.startswith(TEXT_PREFIX)], "lr": t["lr"]},
                {"params": [p for n, p in named if n.startswith(TEXT_PREFIX)], "lr": t["lr"] * scale}]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["msgld_source_hash"] = self.source_hash

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """The source model's hash back (a resumed run builds without `train.init_from`). And a
        run saved with one optimizer group and now split in two (`text_lr_scale` set by `--fork ...
        --set`): move the text pathway's Adam moments into the second group, so the continued run
        keeps every moment and the new learning rates apply."""
        self.source_hash = checkpoint.get("msgld_source_hash", self.source_hash)
        groups = self.param_groups()
        states = checkpoint.get("optimizer_states") or []
        if len(groups) != 2 or not states or len(states[0]["param_groups"]) != 1:
            return
        names = [n for n, _ in self.net.named_parameters()]
        text = [i for i, n in enumerate(names) if n.startswith(TEXT_PREFIX)]
        order = [i for i, n in enumerate(names) if not n.startswith(TEXT_PREFIX)] + text
        old = states[0]
        saved = old["param_groups"][0]
        if len(saved["params"]) != len(names):
            raise ValueError(f"checkpoint optimizer holds {len(saved['params'])} parameters, the network {len(names)}")
        state = {new: old["state"][saved["params"][i]] for new, i in enumerate(order) if saved["params"][i] in old["state"]}
        scale = groups[1]["lr"] / groups[0]["lr"]
        first = {**saved, "params": list(range(len(order) - len(text)))}
        second = {**saved, "params": list(range(len(order) - len(text), len(order)))}
        second.update({k: saved[k] * scale for k in ("lr", "initial_lr") if k in saved})
        states[0] = {"state": state, "param_groups": [first, second]}
        for sched in checkpoint.get("lr_schedulers") or []:
            for key in ("base_lrs", "_last_lr"):
                if len(sched.get(key) or []) == 1:
                    sched[key] = [sched[key][0], sched[key][0] * scale]

    def configure_optimizers(self):
        t = self.config["optim"]
        opt = torch.optim.AdamW(self.param_groups(), lr=t["lr"], weight_decay=t.get("weight_decay", 0.0))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor_from_config(t))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        clip = self.config["optim"].get("grad_clip")
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    def prepare_export(self, train_loader) -> dict:
        out = {"ema_decay": self.config["optim"]["ema_decay"],
               "augment": augment_settings(self.config["data"].get("augment"))}
        if self.frozen_pathway and self.source_hash:
            # without the pathway it computes exactly what init_from does, so what was made from that
            # model's separation (a mask refiner) fits it: msgld.models.pack.hashes_of
            out["frozen_from"] = self.source_hash
        return out


def resolve_init_path(path: str) -> str:
    """`train.init_from` as given, or (a relative path that is not there) inside the package's repo."""
    from pathlib import Path

    from msgld.weights import weight_paths

    if not weight_paths(path)[1].exists() and not Path(path).is_absolute():
        return str(Path(__file__).resolve().parents[2] / path)
    return path


def in_pathway(name: str, which: str) -> bool:
    """Whether parameter `name` belongs to the added pathway `which` ("text" or "given")."""
    if which == "text":
        return name.startswith(TEXT_PREFIX)
    return name.startswith(GIVEN_PREFIX) or GIVEN_INFIX in name

