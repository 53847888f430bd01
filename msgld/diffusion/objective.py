"""The training objective: epsilon (or v) prediction MSE with classifier-free guidance dropout.

The network never sees a flag for guidance: with probability `cfg_dropout` an example's
mixture condition is replaced by zeros (the null condition), here in the training step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler


def drop_condition(cond: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero the condition of each example with probability p."""
    if p <= 0:
        return cond
    keep = torch.rand(cond.shape[0], generator=generator, device=cond.device) >= p
    return cond * keep.view(-1, *([1] * (cond.ndim - 1))).to(cond.dtype)


def diffusion_loss(
    model: torch.nn.Module,
    z0: torch.Tensor,
    cond: torch.Tensor,
    scheduler: DDPMScheduler,
    cfg_dropout: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """z0 [B, S, C, T, F] clean stem latents, cond [B, C, T, F] mixture latent -> scalar loss."""
    b = z0.shape[0]
    n = scheduler.config.num_train_timesteps
    t = torch.randint(0, n, (b,), generator=generator, device=z0.device)
    noise = torch.randn(z0.shape, generator=generator, device=z0.device, dtype=z0.dtype)
    zt = scheduler.add_noise(z0, noise, t)
    target = noise if scheduler.config.prediction_type == "epsilon" else scheduler.get_velocity(z0, noise, t)
    pred = model(zt, t, drop_condition(cond, cfg_dropout, generator))
    return F.mse_loss(pred.float(), target.float())
