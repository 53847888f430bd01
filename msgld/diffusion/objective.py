"""The training objective: one MSE in the network's output space (epsilon, v or x0), weighted
per example, with classifier-free guidance dropout and a choice of timestep distribution.

Every target is a reparametrisation of one quantity: with SNR = a / (1 - a) (a = alpha_bar_t),
    ||eps_hat - eps||^2 = SNR       * ||x0_hat - x0||^2
    ||v_hat   - v  ||^2 = (SNR + 1) * ||x0_hat - x0||^2
    ||x0_hat  - x0 ||^2 = 1         * ||x0_hat - x0||^2
so a weighting is stated once, as the weight w_x0(SNR) on the clean-latent error, and divided
by the target's own factor. `weighting`:
  - "none": the plain MSE of the target (w_x0 = SNR, SNR + 1 or 1);
  - "min_snr": Min-SNR-gamma (Hang et al. 2023), w_x0 = min(SNR, gamma);
  - "min_snr_floor": max(min(SNR, gamma), floor): published Min-SNR makes the weight vanish as
    SNR -> 0 (t near T), exactly where one-step separation reads x0_hat; the floor keeps it.
`timesteps`: "uniform" over [0, N), or "high_noise": a share `high_noise_share` of each batch is
drawn from the top `high_noise_range` of the schedule (t near T), the rest uniformly.

`given_share` (a network with the given-stems pathway, arrangement): that share of each batch
becomes arrangement items. Each gets a random non-empty proper subset of the stems given clean
(`model(..., given=(z0, mask))`), with probability `given_prefix_share` also the first frames of
every stem (continuation, as later windows of a long piece see them), loses its mixture condition,
and is scored on what is not given only. At 0 (the default) nothing is drawn for it.

The network never sees a flag for guidance: with probability `cfg_dropout` an example's
mixture condition is replaced by zeros (the null condition). A text condition (for a network
with a text pathway) is dropped to zeros on its own, with probability `text_dropout`, so text
gets its own guidance weight beside the mixture's.
"""

from __future__ import annotations

import torch
from diffusers import DDPMScheduler

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
WEIGHTINGS = ("none", "min_snr", "min_snr_floor")
TIMESTEP_SAMPLINGS = ("uniform", "high_noise")

DEFAULT_OBJECTIVE = {"cfg_dropout": 0.1, "weighting": "none", "min_snr_gamma": 5.0, "x0_weight_floor": 1.0,
                     "timesteps": "uniform", "high_noise_share": 0.25, "high_noise_range": 0.05,
                     "given_share": 0.0, "given_prefix_share": 0.3}


def objective_settings(cfg: dict | None) -> dict:
    """The objective config with defaults filled in and checked."""
    s = {**DEFAULT_OBJECTIVE, **(cfg or {})}
    unknown = set(s) - set(DEFAULT_OBJECTIVE)
    if unknown:
        raise ValueError(f"unknown objective keys {sorted(unknown)}; allowed: {sorted(DEFAULT_OBJECTIVE)}")
    if s["weighting"] not in WEIGHTINGS:
        raise ValueError(f"unknown loss weighting {s['weighting']!r}; choose one of {list(WEIGHTINGS)}")
    if s["timesteps"] not in TIMESTEP_SAMPLINGS:
        raise ValueError(f"unknown timestep sampling {s['timesteps']!r}; choose one of {list(TIMESTEP_SAMPLINGS)}")
    shares = ("cfg_dropout", "high_noise_share", "given_share", "given_prefix_share")
    if not all(0 <= s[k] <= 1 for k in shares) or not 0 < s["high_noise_range"] <= 1:
        raise ValueError(f"{', '.join(shares)} must be in [0, 1], high_noise_range in (0, 1]: {s}")
    return s


def drop_condition(cond: torch.Tensor, p: float, generator: torch.Generator | None = None,
                   always_keep: torch.Tensor | None = None) -> torch.Tensor:
    """Zero the condition of each example with probability p, except where `always_keep` [B] is true."""
    if p <= 0:
        return cond
    keep = torch.rand(cond.shape[0], generator=generator, device=cond.device) >= p
    if always_keep is not None:
        keep = keep | always_keep.to(device=cond.device, dtype=torch.bool)
    return cond * keep.view(-1, *([1] * (cond.ndim - 1))).to(cond.dtype)


def given_masks(z0: torch.Tensor, share: float, prefix_share: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Masks [B, S, 1, T, 1] of what arrangement items are given (1 = known): a share `share` of
    the items get a random non-empty proper subset of the stems (all equally likely), and of
    those a share `prefix_share` also the first T/8 to T/2 frames of every stem; the rest nothing."""
    b, s, _, t, _ = z0.shape
    dev = z0.device
    chosen = torch.rand(b, generator=generator, device=dev) < share
    subset = torch.randint(1, 2**s - 1, (b,), generator=generator, device=dev)
    stems = ((subset[:, None] >> torch.arange(s, device=dev)) & 1).float()
    prefix = torch.randint(max(1, t // 8), max(2, t // 2 + 1), (b,), generator=generator, device=dev)
    with_prefix = torch.rand(b, generator=generator, device=dev) < prefix_share
    frames = (torch.arange(t, device=dev)[None] < prefix[:, None]) & with_prefix[:, None]
    mask = torch.maximum(stems[:, :, None], frames[:, None, :].float())  # [B, S, T]
    return (mask * chosen[:, None, None]).view(b, s, 1, t, 1).to(z0.dtype)


def snr(scheduler: DDPMScheduler, t: torch.Tensor) -> torch.Tensor:
    a = scheduler.alphas_cumprod.to(t.device)[t].double()
    return (a / (1 - a)).float()


def loss_weights(snr_t: torch.Tensor, prediction_type: str, weighting: str, gamma: float = 5.0,
                 floor: float = 1.0) -> torch.Tensor:
    """Per-example weights on the MSE of `prediction_type`'s target (see the module doc)."""
    target_factor = {"epsilon": snr_t, "v_prediction": snr_t + 1, "sample": torch.ones_like(snr_t)}
    if prediction_type not in target_factor:
        raise ValueError(f"unknown prediction type {prediction_type!r}; choose one of {list(PREDICTION_TYPES)}")
    if weighting == "none":
        return torch.ones_like(snr_t)
    w_x0 = snr_t.clamp(max=gamma)
    if weighting == "min_snr_floor":
        w_x0 = w_x0.clamp(min=floor)
    elif weighting != "min_snr":
        raise ValueError(f"unknown loss weighting {weighting!r}; choose one of {list(WEIGHTINGS)}")
    return w_x0 / target_factor[prediction_type]


def sample_timesteps(b: int, n: int, s: dict, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    t = torch.randint(0, n, (b,), generator=generator, device=device)
    if s["timesteps"] == "high_noise":
        low = n - max(1, int(round(n * s["high_noise_range"])))
        high = torch.randint(low, n, (b,), generator=generator, device=device)
        pick = torch.rand(b, generator=generator, device=device) < s["high_noise_share"]
        t = torch.where(pick, high, t)
    return t


def prediction_target(scheduler: DDPMScheduler, z0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(z0, noise, t)
    if kind == "sample":
        return z0
    raise ValueError(f"unknown prediction type {kind!r}; choose one of {list(PREDICTION_TYPES)}")


def diffusion_loss(
    model: torch.nn.Module,
    z0: torch.Tensor,
    cond: torch.Tensor,
    scheduler: DDPMScheduler,
    objective: dict | float | None = None,
    generator: torch.Generator | None = None,
    always_keep: torch.Tensor | None = None,
    text: torch.Tensor | None = None,
    text_dropout: float = 0.0,
    given_mask: torch.Tensor | None = None,
    given_pathway: bool = True,
    reduce: bool = True,
) -> torch.Tensor:
    """z0 [B, S, C, T, F] clean stem latents, cond [B, C, T, F] mixture latent -> scalar loss.
    `objective`: the config's objective section (a bare float is the CFG dropout alone);
    `always_keep` [B]: examples whose condition is never dropped (remixes, msgld.data.remix);
    `text` [B, D]: caption embeddings (a network with a text pathway), dropped with `text_dropout`;
    `given_mask` [B, S, 1, T, 1]: what arrangement items are given, instead of drawing it by
    `given_share`; `given_pathway=False` scores them without showing the network what is given
    (the network without the pathway, for comparisons); `reduce=False`: the per-example losses [B]."""
    if not isinstance(objective, dict):
        objective = {} if objective is None else {"cfg_dropout": float(objective)}
    s = objective_settings(objective)
    b = z0.shape[0]
    t = sample_timesteps(b, scheduler.config.num_train_timesteps, s, generator, z0.device)
    noise = torch.randn(z0.shape, generator=generator, device=z0.device, dtype=z0.dtype)
    zt = scheduler.add_noise(z0, noise, t)
    target = prediction_target(scheduler, z0, noise, t)
    cond = drop_condition(cond, s["cfg_dropout"], generator, always_keep)
    kw = {}
    if text is not None:  # drawn after the mixture's dropout: text-free training draws what it always drew
        kw["text"] = drop_condition(text, text_dropout, generator)
    scored = None
    if given_mask is None and s["given_share"] > 0:  # drawn last, for the same reason
        given_mask = given_masks(z0, s["given_share"], s["given_prefix_share"], generator)
    if given_mask is not None:
        arranged = given_mask.flatten(1).amax(1) > 0
        cond = cond * (~arranged).view(-1, 1, 1, 1).to(cond.dtype)  # arrangement samples without a mixture
        if given_pathway:
            kw["given"] = (z0, given_mask)
        scored = (1 - given_mask).expand_as(z0)
    pred = model(zt, t, cond, **kw)
    err = (pred.float() - target.float()).pow(2)
    if scored is None:
        per_example = err.flatten(1).mean(1)
    else:  # arrangement items: the error on what was not given
        per_example = (err * scored).flatten(1).sum(1) / scored.flatten(1).sum(1).clamp(min=1)
    w = loss_weights(snr(scheduler, t), scheduler.config.prediction_type, s["weighting"],
                     s["min_snr_gamma"], s["x0_weight_floor"])
    return (w * per_example).mean() if reduce else w * per_example
