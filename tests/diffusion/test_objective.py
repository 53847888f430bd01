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


def test_given_masks_give_proper_stem_subsets_and_prefixes():
    from msgld.diffusion.objective import given_masks

    z0 = torch.zeros(400, 4, 8, 32, 4)
    m = given_masks(z0, 0.5, 0.3, torch.Generator().manual_seed(0))
    assert m.shape == (400, 4, 1, 32, 1)
    chosen = m.flatten(1).amax(1) > 0
    assert 150 < int(chosen.sum()) < 250 and torch.all(m[~chosen] == 0)
    stems = m[chosen, :, 0, -1, 0]  # the last frame: never in a prefix (at most half the frames)
    assert torch.all((stems.sum(1) >= 1) & (stems.sum(1) <= 3))  # never none, never all four
    assert len({tuple(r.tolist()) for r in stems}) == 14  # every proper subset occurs
    prefixed = (m[chosen, :, 0, 0, 0].sum(1) == 4)
    assert 0.15 < prefixed.float().mean() < 0.45
    assert torch.equal(given_masks(z0, 0.0, 0.3)[:1], torch.zeros(1, 4, 1, 32, 1))


def test_arrangement_items_are_scored_on_what_is_not_given_only():
    """A network that is exact on the given stems and wrong elsewhere: the loss sees only the
    error where nothing was given; without given_share the same draws are scored everywhere."""
    sched = scheduler("v_prediction")
    z0, cond = torch.randn(4, 4, 8, 8, 4), torch.randn(4, 8, 8, 4)
    seen = {}

    class Net(torch.nn.Module):
        def forward(self, zt, t, cond, given=None):
            seen["cond"], seen["given"] = cond, given
            return torch.zeros_like(zt) if given is None else 1.0 - given[1].expand_as(zt)  # wrong where unknown

    s = {"given_share": 1.0, "given_prefix_share": 0.0}
    loss = diffusion_loss(Net(), z0, cond, sched, s, torch.Generator().manual_seed(0))
    known, mask = seen["given"]
    assert torch.equal(known, z0) and torch.all(seen["cond"] == 0)  # arrangement samples without a mixture
    # the target is v; the prediction 1 where not given: the loss is the mean of (1 - v)^2 there
    g = torch.Generator().manual_seed(0)
    t = sample_timesteps(4, 1000, objective_settings(s), g)
    noise = torch.randn(z0.shape, generator=g)
    v = prediction_target(sched, z0, noise, t)
    scored = (1 - mask).expand_as(z0)
    per = ((1 - v).pow(2) * scored).flatten(1).sum(1) / scored.flatten(1).sum(1)
    torch.testing.assert_close(loss, per.mean())
    with pytest.raises(ValueError, match="given_share"):
        objective_settings({"given_share": 1.5})


def test_a_fixed_given_mask_can_be_scored_with_and_without_the_pathway():
    sched = scheduler("v_prediction")
    z0, cond = torch.randn(3, 4, 8, 8, 4), torch.randn(3, 8, 8, 4)
    mask = torch.zeros(3, 4, 1, 8, 1)
    mask[:, 0] = 1.0
    seen = []

    class Net(torch.nn.Module):
        def forward(self, zt, t, cond, given=None):
            seen.append(given)
            return torch.zeros_like(zt)

    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with_ = diffusion_loss(Net(), z0, cond, sched, {}, g(), given_mask=mask, reduce=False)
    without = diffusion_loss(Net(), z0, cond, sched, {}, g(), given_mask=mask, given_pathway=False, reduce=False)
    assert with_.shape == (3,) and torch.equal(seen[0][1], mask) and seen[1] is None
    torch.testing.assert_close(with_, without)  # the network ignored it: the same scored loss
