"""Samplers: diffusers' schedulers on the training schedule, any step count.

The last step of `ddim` and `plms` lands on the clean estimate (alpha_bar = 1).
`ddim` (Song et al. 2021, eta configurable), `plms` (PNDM without Runge-Kutta warm-up,
Liu et al. 2022) and `dpmsolver++` (DPM-Solver++ multistep, 2nd order, Lu et al. 2022).
"""

from __future__ import annotations

from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, PNDMScheduler

from msgld.diffusion.schedule import schedule_kwargs

SAMPLERS = ("ddim", "plms", "dpmsolver++")


def make_scheduler(name: str, diffusion_cfg: dict, steps: int):
    """A fresh scheduler (they hold per-run state) with `steps` timesteps set."""
    kw = schedule_kwargs(diffusion_cfg)
    if name == "ddim":
        s = DDIMScheduler(**kw, clip_sample=False, set_alpha_to_one=True, timestep_spacing="leading", steps_offset=1)
    elif name == "plms":
        s = PNDMScheduler(**kw, skip_prk_steps=True, set_alpha_to_one=True, timestep_spacing="leading", steps_offset=1)
    elif name == "dpmsolver++":
        s = DPMSolverMultistepScheduler(**kw, algorithm_type="dpmsolver++", solver_order=2,
                                        timestep_spacing="trailing", lower_order_final=True)
    else:
        raise ValueError(f"unknown sampler {name!r}; choose one of {list(SAMPLERS)}")
    if steps < 1 or steps > kw.get("num_train_timesteps", 1000):
        raise ValueError(f"steps must be in [1, {kw.get('num_train_timesteps', 1000)}], got {steps}")
    s.set_timesteps(steps)
    return s
