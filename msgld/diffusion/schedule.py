"""The noise schedule of design.md: N = 1000, betas = linspace(sqrt(0.0015), sqrt(0.0195), N)^2
(diffusers' "scaled_linear"), shared by training and every sampler."""

from __future__ import annotations

from diffusers import DDPMScheduler

SCHEDULE_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "prediction_type")


def schedule_kwargs(diffusion_cfg: dict) -> dict:
    return {k: diffusion_cfg[k] for k in SCHEDULE_KEYS if k in diffusion_cfg}


def training_scheduler(diffusion_cfg: dict) -> DDPMScheduler:
    """The forward process q(z_n | z_0) used by training (`add_noise`, `get_velocity`)."""
    return DDPMScheduler(**schedule_kwargs(diffusion_cfg), clip_sample=False)
