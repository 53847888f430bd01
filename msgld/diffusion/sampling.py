"""The reverse process in latent space, shared by separation, generation and arrangement.

Classifier-free guidance lives here, outside the network:
    eps = eps_u + w (eps_c - eps_u),  eps_u = the network with the null (zero) condition.
At w = 0 only the unconditional pass runs, at w = 1 only the conditional one; otherwise both
go through the network as one doubled batch.

With a text condition (an embedding; zeros are the null text) the text gets its own weight
w_t, nested inside the mixture's (as InstructPix2Pix composes its two conditions):
    eps = eps(0, 0) + w (eps(c, 0) - eps(0, 0)) + w_t (eps(c, T) - eps(c, 0)),
and without a mixture (or at w = 0) eps = eps(0, 0) + w_t (eps(0, T) - eps(0, 0)). Passes whose
coefficient is 0 are skipped; the others run as one batch. Without text nothing changes.

Inpainting (arrangement, continuation): where `known_mask` is 1, the latent is replaced at
every step by the known clean latent noised to the current level (paper II-D); optional
RePaint resampling (Lugmayr et al. 2022) jumps back one step `repaint` times (DDIM only).
A network with a given-stems pathway (`has_given`) also gets the known latents clean
(`model(..., given=(known, known_mask))`) unless `given_adapter` is false. `given_guidance` g
weighs what that pathway adds, as classifier-free guidance on the given stems:
    out = out(nothing given) + g (out(given) - out(nothing given)),
the null being the pathway with nothing known (exactly what training shows items that are not
arrangements). At g = 1 (the default) only the given pass runs.
`x0_hook` rewrites the clean-latent estimate at every step (MSDM-style constraints).
Warm start (SDEdit, Meng et al. 2022; StoRM's refinement of a first estimate): given `init`, a
clean-latent estimate (e.g. the one-step x0 at t = T), it is noised to the timestep at which the
last `round(steps * strength)` steps of the schedule begin, and only those steps run.
`last_pass="skip"` (DDIM) ends on the clean estimate of the step before the last, saving the last
step's network passes: with "leading" spacing that step is at t = 1, where the latent is almost
clean (alpha_bar about 0.997) and the pass mostly hands back the estimate it was given.
`last_pass="auto"` skips exactly there: DDIM whose last of two or more steps is at t <= 1.
`precision="bf16"` runs the network under bfloat16 autocast (the sampler's arithmetic stays
in the latents' dtype); "auto" picks bf16 where the device computes it natively.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
from diffusers.utils.torch_utils import randn_tensor

from msgld.diffusion.samplers import LAST_PASSES, make_scheduler


def null_condition(cond: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(cond)


def guidance_terms(mixture: bool, w: float, text_w: float) -> list[tuple[bool, bool, float]]:
    """(with the mixture, with the text, coefficient) of each network pass of text guidance."""
    if mixture:
        terms = [(False, False, 1 - w), (True, False, w - text_w), (True, True, text_w)]
    else:
        terms = [(False, False, 1 - text_w), (False, True, text_w)]
    return [term for term in terms if term[2] != 0]


def text_guided_eps(model, z: torch.Tensor, tt: torch.Tensor, cond: torch.Tensor | None, w: float,
                    text: torch.Tensor, text_w: float) -> torch.Tensor:
    terms = guidance_terms(cond is not None and w != 0, w, text_w)
    n = len(terms)
    conds = None
    if any(c for c, _, _ in terms):
        conds = torch.cat([cond if c else null_condition(cond) for c, _, _ in terms])
    texts = torch.cat([text if x else torch.zeros_like(text) for _, x, _ in terms])
    out = model(torch.cat([z] * n), torch.cat([tt] * n), conds, text=texts).chunk(n)
    return sum(coef * o for (_, _, coef), o in zip(terms, out))


def guided_eps(model, z: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None, w: float,
               text: torch.Tensor | None = None, text_w: float = 1.0) -> torch.Tensor:
    """The network's output with classifier-free guidance weight `w` (and `text_w` for `text`)."""
    tt = t.expand(z.shape[0])
    if text is not None:
        return text_guided_eps(model, z, tt, cond, w, text.to(z.device), text_w)
    if cond is None or w == 0:
        return model(z, tt, None)
    if w == 1:
        return model(z, tt, cond)
    out = model(torch.cat([z, z]), torch.cat([tt, tt]), torch.cat([null_condition(cond), cond]))
    eps_u, eps_c = out.chunk(2)
    return eps_u + w * (eps_c - eps_u)


def with_given(model, known: torch.Tensor, mask: torch.Tensor, weight: float = 1.0):
    """The network with (known, mask) [B, ...] as its given stems, repeated to the batch that
    guidance stacks (n passes of B items); at `weight` != 1 guided against nothing given (the
    null and the given pass run as one doubled batch)."""

    def repeat(x, n):
        return x.repeat(n, *[1] * (x.ndim - 1))

    def net(x, t, cond, **kw):
        n = x.shape[0] // known.shape[0]
        k, m = repeat(known, n), repeat(mask, n)
        if weight == 1:
            return model(x, t, cond, given=(k, m), **kw)
        kw = {key: torch.cat([v, v]) if torch.is_tensor(v) else v for key, v in kw.items()}
        out_null, out_given = model(torch.cat([x, x]), torch.cat([t, t]), None if cond is None else torch.cat([cond, cond]),
                                    given=(repeat(k, 2), torch.cat([torch.zeros_like(m), m])), **kw).chunk(2)
        return out_null + weight * (out_given - out_null)

    return net


PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: torch.device | str) -> bool:
    """Whether `device` computes bfloat16 natively (CUDA sm80+, CPUs with AVX512-BF16 or AMX):
    elsewhere bf16 autocast is emulated and slower than fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """"auto" -> "bf16" where the device has native bfloat16, else "fp32"."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def network_precision(precision: str, device: torch.device):
    """A context for the network's forward passes: fp32 as is, or bfloat16 autocast."""
    if resolve_precision(precision, device) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def to_epsilon(out: torch.Tensor, z: torch.Tensor, alpha_bar: torch.Tensor, prediction_type: str) -> torch.Tensor:
    """The network's output (epsilon, v or x0) as the epsilon the samplers step with."""
    if prediction_type == "epsilon":
        return out
    if prediction_type == "v_prediction":
        return alpha_bar.sqrt() * out + (1 - alpha_bar).sqrt() * z
    if prediction_type == "sample":
        return (z - alpha_bar.sqrt() * out) / (1 - alpha_bar).sqrt()
    raise ValueError(f"unknown prediction type {prediction_type!r}")


def last_pass_problem(last_pass: str, sampler: str, steps: int) -> str | None:
    """Why `last_pass` cannot apply to `steps` steps of `sampler` (None: it can)."""
    if last_pass not in LAST_PASSES:
        return f"unknown last_pass {last_pass!r}; choose one of {list(LAST_PASSES)}"
    if last_pass == "skip" and (sampler != "ddim" or steps < 2):
        return f"skipping the last pass needs the ddim sampler and at least 2 steps (got {sampler!r}, {steps} steps)"
    return None


def skips_last_pass(last_pass: str, sampler: str, timesteps) -> bool:
    """Whether `last_pass` drops the network pass of the last of `timesteps` ("auto": DDIM whose
    last of two or more steps is at t <= 1); "skip" where it cannot apply is an error."""
    problem = last_pass_problem(last_pass, sampler, len(timesteps))
    if problem:
        raise ValueError(problem)
    return last_pass == "skip" or (last_pass == "auto" and sampler == "ddim" and len(timesteps) >= 2
                                   and int(timesteps[-1]) <= 1)


def warm_start_timesteps(timesteps: torch.Tensor, strength: float) -> torch.Tensor:
    """The last round(len * strength) (at least one) of a schedule's timesteps."""
    if not 0 < strength <= 1:
        raise ValueError(f"warm-start strength must be in (0, 1], got {strength}")
    keep = min(len(timesteps), max(1, int(round(len(timesteps) * strength))))
    return timesteps[len(timesteps) - keep:]


@torch.no_grad()
def sample_latents(
    model,
    shape: tuple[int, ...],
    cond: torch.Tensor | None = None,
    guidance: float = 1.0,
    sampler: str = "ddim",
    steps: int = 50,
    eta: float = 0.0,
    known: torch.Tensor | None = None,
    known_mask: torch.Tensor | None = None,
    repaint: int = 0,
    x0_hook: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    generator: torch.Generator | list[torch.Generator] | None = None,
    callback: Callable[[int, int], None] | None = None,
    diffusion_cfg: dict | None = None,
    precision: str = "fp32",
    spacing: str = "trailing",
    init: torch.Tensor | None = None,
    strength: float = 1.0,
    text: torch.Tensor | None = None,
    text_guidance: float = 1.0,
    last_pass: str = "run",
    given_adapter: bool = True,
    given_guidance: float = 1.0,
) -> torch.Tensor:
    """Draw latents [B, S, C, T, F] from the model (an eps- or v-predicting MultiTrackUNet).
    `text` [B, D]: a text condition for a model with a text pathway, guided by `text_guidance`.
    `generator`: one for the whole batch, or a list of B (item i then draws exactly what it
    would draw alone, so a batch of seeds reproduces the seeds one by one)."""
    cfg = dict(diffusion_cfg or model.diffusion_config)
    prediction_type = cfg.pop("prediction_type", "epsilon")
    scheduler = make_scheduler(sampler, {**cfg, "prediction_type": "epsilon"}, steps, spacing)
    if repaint and sampler != "ddim":
        raise ValueError(f"RePaint resampling needs the ddim sampler, not {sampler!r}")
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    alphas = scheduler.alphas_cumprod.to(device)
    autocast = network_precision(precision, device)

    def randn(like_shape):  # a list of generators seeds each batch item on its own
        return randn_tensor(like_shape, generator=generator, device=device, dtype=dtype)

    if known is not None:
        known = known.to(device, dtype)
        known_mask = (torch.ones_like(known) if known_mask is None else known_mask.to(device, dtype)).expand_as(known)
    net = model
    if known is not None and given_adapter and getattr(model, "has_given", False):
        net = with_given(model, known, known_mask, given_guidance)
    z = randn(shape) * scheduler.init_noise_sigma
    timesteps = scheduler.timesteps
    if init is not None:  # SDEdit: noise the estimate to the first kept step, run the rest
        if sampler == "plms":
            raise ValueError("a warm start needs the ddim or dpmsolver++ sampler, not plms")
        timesteps = warm_start_timesteps(timesteps, strength)
        if sampler == "dpmsolver++":
            scheduler.set_begin_index(len(scheduler.timesteps) - len(timesteps))
        z = scheduler.add_noise(init.to(device, dtype), z, timesteps[:1]).to(dtype)
    skip_last = skips_last_pass(last_pass, sampler, timesteps)
    if skip_last:
        timesteps = timesteps[:-1]
    step_kw = {"ddim": {"eta": eta, "generator": generator}, "dpmsolver++": {"generator": generator}}.get(sampler, {})
    for i, t in enumerate(timesteps):
        t_dev = t.to(device).reshape(1)
        for r in range(repaint + 1):
            if known is not None:
                noised = scheduler.add_noise(known, randn(shape), t.reshape(1)).to(dtype)
                z = known_mask * noised + (1 - known_mask) * z
            a = alphas[t]
            with autocast:
                out = guided_eps(net, scheduler.scale_model_input(z, t), t_dev, cond, guidance, text, text_guidance)
            eps = to_epsilon(out.to(dtype), z, a, prediction_type)
            if x0_hook is not None:
                x0 = (z - (1 - a).sqrt() * eps) / a.sqrt()
                eps = (z - a.sqrt() * x0_hook(x0, t)) / (1 - a).sqrt()
            stepped = scheduler.step(eps, t, z, **step_kw)
            z_prev = stepped.pred_original_sample if skip_last and i + 1 == len(timesteps) else stepped.prev_sample
            if r < repaint and i + 1 < len(timesteps):  # RePaint: jump back from t_prev to t
                a_prev = alphas[timesteps[i + 1]]
                z = (a / a_prev).sqrt() * z_prev + (1 - a / a_prev).sqrt() * randn(shape)
            else:
                z = z_prev
        if callback is not None:
            callback(i + 1, len(timesteps))
    if known is not None:
        z = known_mask * known + (1 - known_mask) * z
    return z
