"""KL autoencoder over log-mel images: [B, 1, T, 64] -> latent [B, C, T / r, 64 / r].

The LDM / AudioLDM / MusicLDM shape: a conv encoder of res blocks with stride-2 downsampling
(r = 2 ** (levels - 1)), a mid block (res, optional attention, res), a diagonal Gaussian
posterior (mean and log-variance), and a mirrored decoder. Stems are folded into the batch by
callers. The log-mel is mapped into the network's range by a fixed affine map from the config
(`input_norm`), and the decoder's output is mapped back, so the model speaks log-mel on both
sides. `scale_factor` (1 / std of training latents) is measured after training and travels
with the weights; `to_latent` / `from_latent` apply it for the diffusion model.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from msgld.models.vae_blocks import AttnBlock, Downsample, ResBlock, Upsample, mid_block, norm

DEFAULTS = {
    "in_channels": 1,
    "channels": 128,
    "channel_mult": [1, 2, 4],
    "num_res_blocks": 2,
    "latent_channels": 8,
    "norm_groups": 32,
    "mid_attention": True,
    "attn_levels": [],
    "dropout": 0.0,
    "input_norm": {"mean": -5.0, "std": 4.0},
}


class DiagonalGaussian:
    """Posterior q(z | x) with per-element mean and log-variance [B, C, H, W]."""

    def __init__(self, moments: torch.Tensor):
        self.mean, logvar = moments.chunk(2, dim=1)
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) summed over all but the batch axis: [B]."""
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar).sum(dim=(1, 2, 3))


class Encoder(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        ch, mult, groups, drop = cfg["channels"], cfg["channel_mult"], cfg["norm_groups"], cfg["dropout"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch, 3, padding=1)
        levels, c_in = [], ch
        for i, m in enumerate(mult):
            c_out = ch * m
            blocks = []
            for _ in range(cfg["num_res_blocks"]):
                blocks.append(ResBlock(c_in, c_out, groups, drop))
                if i in cfg["attn_levels"]:
                    blocks.append(AttnBlock(c_out, groups))
                c_in = c_out
            if i < len(mult) - 1:
                blocks.append(Downsample(c_out))
            levels.append(nn.Sequential(*blocks))
        self.levels = nn.Sequential(*levels)
        self.mid = mid_block(c_in, groups, cfg["mid_attention"], drop)
        self.norm_out = norm(c_in, groups)
        self.conv_out = nn.Conv2d(c_in, 2 * cfg["latent_channels"], 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.levels(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        ch, mult, groups, drop = cfg["channels"], cfg["channel_mult"], cfg["norm_groups"], cfg["dropout"]
        c_in = ch * mult[-1]
        self.conv_in = nn.Conv2d(cfg["latent_channels"], c_in, 3, padding=1)
        self.mid = mid_block(c_in, groups, cfg["mid_attention"], drop)
        levels = []
        for i in reversed(range(len(mult))):
            c_out = ch * mult[i]
            blocks = []
            for _ in range(cfg["num_res_blocks"] + 1):
                blocks.append(ResBlock(c_in, c_out, groups, drop))
                if i in cfg["attn_levels"]:
                    blocks.append(AttnBlock(c_out, groups))
                c_in = c_out
            if i > 0:
                blocks.append(Upsample(c_out))
            levels.append(nn.Sequential(*blocks))
        self.levels = nn.Sequential(*levels)
        self.norm_out = norm(c_in, groups)
        self.conv_out = nn.Conv2d(c_in, cfg["in_channels"], 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.levels(self.mid(self.conv_in(z)))
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoencoderKL(nn.Module):
    """log-mel [B, 1, T, F] <-> latent [B, C, T / r, F / r]; T and F divisible by r."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.config = {**DEFAULTS, **cfg}
        c = self.config["latent_channels"]
        self.encoder = Encoder(self.config)
        self.decoder = Decoder(self.config)
        self.quant_conv = nn.Conv2d(2 * c, 2 * c, 1)
        self.post_quant_conv = nn.Conv2d(c, c, 1)
        self.in_mean = float(self.config["input_norm"]["mean"])
        self.in_std = float(self.config["input_norm"]["std"])
        self.scale_factor = 1.0

    @property
    def compression(self) -> int:
        return 2 ** (len(self.config["channel_mult"]) - 1)

    @property
    def latent_channels(self) -> int:
        return self.config["latent_channels"]

    def encode(self, log_mel: torch.Tensor) -> DiagonalGaussian:
        r = self.compression
        if log_mel.shape[-2] % r or log_mel.shape[-1] % r:
            raise ValueError(f"log-mel size {tuple(log_mel.shape[-2:])} must be divisible by {r}")
        x = (log_mel - self.in_mean) / self.in_std
        return DiagonalGaussian(self.quant_conv(self.encoder(x)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(z)) * self.in_std + self.in_mean

    def forward(self, log_mel: torch.Tensor, sample: bool = True, generator: torch.Generator | None = None):
        """-> (reconstructed log-mel, posterior)."""
        posterior = self.encode(log_mel)
        z = posterior.sample(generator) if sample else posterior.mode()
        return self.decode(z), posterior

    @torch.no_grad()
    def round_trip(self, log_mel: torch.Tensor) -> torch.Tensor:
        """log-mel [..., T, F] -> encode (posterior mode) -> decode -> [..., T, F], any T: the
        frames are padded (edge) to a multiple of r and cropped back."""
        lead, (t, f) = log_mel.shape[:-2], log_mel.shape[-2:]
        x = log_mel.reshape(-1, 1, t, f)
        pad = -t % self.compression
        if pad:
            x = torch.cat([x, x[..., -1:, :].expand(-1, -1, pad, -1)], dim=-2)
        return self.decode(self.encode(x).mode())[..., :t, :].reshape(*lead, t, f)

    # -- the diffusion model's view: scaled latents ------------------------------------------
    def to_latent(self, log_mel: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        posterior = self.encode(log_mel)
        z = posterior.sample(generator) if sample else posterior.mode()
        return z * self.scale_factor

    def from_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z / self.scale_factor)

    # -- travels with the weights (see msgld.weights) -----------------------------------------
    def weights_metadata(self) -> dict:
        return {"scale_factor": float(self.scale_factor)}

    def load_weights_metadata(self, meta: dict) -> None:
        self.scale_factor = float(meta.get("scale_factor", 1.0))


def build_vae(cfg: dict) -> AutoencoderKL:
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown VAE config keys: {sorted(unknown)}")
    return AutoencoderKL(cfg)
