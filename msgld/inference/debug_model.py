"""A tiny random-weight model (VAE, LDM, vocoder) for tests and CLI checks: the whole
inference path runs in seconds on CPU (demucs and audiocraft test their CLIs the same way).
Its output is noise-like, not music."""

from __future__ import annotations

from pathlib import Path

import torch

from msgld.config import load_config
from msgld.models.unet3d import build_ldm
from msgld.models.unet3d_blocks import ResBlock3d
from msgld.models.vae import build_vae
from msgld.models.vocoder import build_vocoder
from msgld.weights import save_model

VAE = {"channels": 8, "channel_mult": [1, 2, 4], "num_res_blocks": 1, "norm_groups": 4, "mid_attention": False}
LDM = {"channels": 8, "channel_mult": [1, 2, 2], "num_res_blocks": 1, "attention_levels": [], "head_dim": 8,
       "norm_groups": 4}
VOCODER = {"upsample_initial_channel": 32, "resblock": "2", "resblock_kernel_sizes": [3],
           "resblock_dilation_sizes": [[1, 3]]}


def make_debug_model(folder: str | Path, stems: list[str] | None = None, latent_frames: int = 32,
                     seed: int = 0, vocoder: bool = True, text_encoder: str | None = None) -> Path:
    """Write vae/ldm/vocoder weights pairs with random weights into `folder`; windows of
    `latent_frames` latent frames (32 = 1.28 s) keep everything fast. `text_encoder` (e.g.
    "keywords", the weight-free one) gives the LDM a text pathway for that encoder."""
    folder = Path(folder)
    torch.manual_seed(seed)
    vae = build_vae(VAE)
    save_model(vae, folder / "vae", "vae", vae.config)
    cfg = load_config("ldm", "tiny")
    model_cfg = {**cfg["model"], **LDM, "stems": list(stems or cfg["model"]["stems"])}
    ldm_cfg = {"model": model_cfg, "diffusion": cfg["diffusion"],
               "latent": {"scale_factor": 1.0, "latent_frames": latent_frames, "compression": 4,
                          "stems": model_cfg["stems"]}}
    if text_encoder:
        from msgld.text.encoders import load_encoder

        dim = load_encoder(text_encoder).dim
        model_cfg["text_dim"] = dim
        ldm_cfg["text"] = {"encoder": text_encoder, "dim": dim, "dropout": 0.3}
    net = build_ldm(ldm_cfg)
    with torch.no_grad():  # the zero-initialised output layer would make every estimate 0
        net.conv_out.weight.normal_(0, 0.05)
        if net.text_embed is not None:  # likewise the text pathway's and the blocks' (where the timestep
            net.text_embed.fc2.weight.normal_(0, 0.5)  # embedding, and so the text, acts): prompts must tell
            for m in net.modules():
                if isinstance(m, ResBlock3d):
                    m.conv2.weight.normal_(0, 0.05)
    save_model(net, folder / "ldm", "ldm", ldm_cfg)
    if vocoder:
        voc_cfg = {**load_config("vocoder", "tiny")["model"], **VOCODER}
        voc = build_vocoder(voc_cfg)
        save_model(voc, folder / "vocoder", "vocoder", voc_cfg)
    return folder
