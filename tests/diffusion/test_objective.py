import pytest
import torch

from msgld.config import load_config
from msgld.diffusion.objective import (diffusion_loss, loss_weights, objective_settings, prediction_target,
                                       sample_timesteps, snr)
from msgld.diffusion.sampling import to_epsilon
from msgld.diffusion.schedule import training_scheduler

DIFF = load_config("ldm", "tiny")["diffusion"]


def scheduler(prediction):
    return training_scheduler({**DIFF, "prediction_type": prediction})


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_weighted_losses_are_one_x0_error(prediction):
    """Each target's MSE times its weight is w_x0 * ||x0_hat - x0||^2, whatever the target."""
    sched, g = scheduler(prediction), torch.Generator().manual_seed(0)
    z0, noise = torch.randn(6, 4, 8, 4, 4, generator=g), torch.randn(6, 4, 8, 4, 4, generator=g)
    t = torch.tensor([0, 10, 200, 500, 900, 999])
    zt = sched.add_noise(z0, noise, t)
    target = prediction_target(sched, z0, noise, t)
    pred = target + 0.01 * torch.randn(target.shape, generator=g)  # a near-miss of the target
    a = sched.alphas_cumprod[t].view(-1, 1, 1, 1, 1)
    x0_hat = (zt - (1 - a).sqrt() * to_epsilon(pred, zt, a, prediction)) / a.sqrt()
    x0_err = (x0_hat - z0).pow(2).flatten(1).mean(1)
    own_err = (pred - target).pow(2).flatten(1).mean(1)
    s = snr(sched, t)
    w = loss_weights(s, prediction, "min_snr_floor", gamma=5.0, floor=1.0)
    torch.testing.assert_close(w * own_err, s.clamp(1.0, 5.0) * x0_err, rtol=2e-3, atol=1e-7)
    plain = loss_weights(s, prediction, "none")
    assert torch.equal(plain, torch.ones(6))


def test_min_snr_vanishes_at_high_noise_and_the_floor_keeps_it():
    s = snr(scheduler("v_prediction"), torch.tensor([999]))
    assert s.item() < 1e-3
    assert loss_weights(s, "v_prediction", "min_snr").item() < 1e-3
    assert loss_weights(s, "v_prediction", "min_snr_floor", floor=1.0).item() > 0.99


def test_high_noise_timesteps():
    s = objective_settings({"timesteps": "high_noise", "high_noise_share": 0.5, "high_noise_range": 0.05})
    t = sample_timesteps(4000, 1000, s, torch.Generator().manual_seed(0))
    top = (t >= 950).float().mean().item()
    assert 0.5 < top < 0.56  # half drawn from the top 5%, plus the uniform half's own 2.5%
    u = sample_timesteps(4000, 1000, objective_settings({}), torch.Generator().manual_seed(0))
    assert 0.03 < (u >= 950).float().mean().item() < 0.07


def test_bad_objective_keys_are_refused():
    with pytest.raises(ValueError, match="unknown objective keys"):
        objective_settings({"weightng": "none"})
    with pytest.raises(ValueError, match="loss weighting"):
        objective_settings({"weighting": "snr"})


def test_loss_is_deterministic_and_finite_for_every_recipe():
    z0, cond = torch.randn(2, 4, 8, 8, 8), torch.randn(2, 8, 8, 8)
    net = lambda z, t, c: 0.5 * z  # noqa: E731
    for prediction in ("epsilon", "v_prediction", "sample"):
        for weighting in ("none", "min_snr", "min_snr_floor"):
            obj = {"weighting": weighting, "timesteps": "high_noise", "cfg_dropout": 0.5}
            a = diffusion_loss(net, z0, cond, scheduler(prediction), obj, torch.Generator().manual_seed(1))
            b = diffusion_loss(net, z0, cond, scheduler(prediction), obj, torch.Generator().manual_seed(1))
            assert torch.isfinite(a) and a.item() == b.item()
