"""Samplers: diffusers' schedulers on the training schedule, any step count.

The last step of `ddim` and `plms` lands on the clean estimate (alpha_bar = 1).
`ddim` (Song et al. 2021, eta configurable), `plms` (PNDM without Runge-Kutta warm-up,
Liu et al. 2022) and `dpmsolver++` (DPM-Solver++ multistep, 2nd order, Lu et al. 2022).

`spacing` places the steps on the 1000 training timesteps: "trailing" (Lin et al. 2024) starts
at t = T - 1, where the model was trained on (almost) pure noise, so one step is the model's
x0 estimate from pure noise: a one-step regression from the condition; "leading" (the DDIM
paper's) starts at T - T/steps + 1, which for one step is t = 1.
"""

from __future__ import annotations

from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, PNDMScheduler

from msgld.diffusion.schedule import schedule_kwargs

SAMPLERS = ("ddim", "plms", "dpmsolver++")
SPACINGS = ("trailing", "leading")
LAST_PASSES = ("run", "skip", "auto")  # sampling.sample_latents(last_pass=...)


def make_scheduler(name: str, diffusion_cfg: dict, steps: int, spacing: str = "trailing"):
    """A fresh scheduler (they hold per-run state) with `steps` timesteps set."""
    kw = schedule_kwargs(diffusion_cfg)
    if spacing not in SPACINGS:
        raise ValueError(f"unknown timestep spacing {spacing!r}; choose one of {list(SPACINGS)}")
    offset = 1 if spacing == "leading" else 0
    if name == "ddim":
        s = DDIMScheduler(**kw, clip_sample=False, set_alpha_to_one=True, timestep_spacing=spacing, steps_offset=offset)
    elif name == "plms":
        s = PNDMScheduler(**kw, skip_prk_steps=True, set_alpha_to_one=True, timestep_spacing=spacing,
                          steps_offset=offset)
    elif name == "dpmsolver++":
        s = DPMSolverMultistepScheduler(**kw, algorithm_type="dpmsolver++", solver_order=2,
                                        timestep_spacing=spacing, steps_offset=offset, lower_order_final=True)
    else:
        raise ValueError(f"unknown sampler {name!r}; choose one of {list(SAMPLERS)}")
    if steps < 1 or steps > kw.get("num_train_timesteps", 1000):
        raise ValueError(f"steps must be in [1, {kw.get('num_train_timesteps', 1000)}], got {steps}")
    s.set_timesteps(steps)
    return s
