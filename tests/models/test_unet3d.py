import pytest
import torch

from msgld.config import load_config
from msgld.diffusion.objective import diffusion_loss, drop_condition
from msgld.diffusion.schedule import training_scheduler
from msgld.models.unet3d import MultiTrackUNet
from tests.helpers import TINY_UNET as TINY, randomise


@pytest.mark.parametrize("stems", [["bass", "drums", "guitar", "piano"], ["vocals", "other"], ["a", "b", "c", "d", "e"]])
@pytest.mark.parametrize("frames", [16, 40])
def test_shapes_for_any_stem_count_and_length(stems, frames):
    model = MultiTrackUNet({**TINY, "stems": stems})
    x = torch.randn(2, len(stems), 8, frames, 16)
    out = model(x, torch.tensor([3, 500]), torch.randn(2, 8, frames, 16))
    assert out.shape == x.shape


def test_refuses_wrong_stem_count_and_indivisible_length():
    model = MultiTrackUNet(TINY)
    with pytest.raises(ValueError, match="expected 4 stems"):
        model(torch.randn(1, 3, 8, 16, 16), torch.tensor([1]))
    with pytest.raises(ValueError, match="divisible by 2"):
        model(torch.randn(1, 4, 8, 15, 16), torch.tensor([1]))


def test_condition_path():
    torch.manual_seed(0)
    model = MultiTrackUNet(TINY)
    randomise(model)
    x, t = torch.randn(1, 4, 8, 16, 16), torch.tensor([100])
    c1, c2 = torch.randn(1, 8, 16, 16), torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        out1, out2 = model(x, t, c1), model(x, t, c2)
        null, none = model(x, t, torch.zeros_like(c1)), model(x, t, None)
    assert (out1 - out2).abs().max() > 1e-3  # the output depends on the mixture
    torch.testing.assert_close(null, none)  # zeros are the null condition
    # every level sees the condition: perturbing only the coarsest pooled content changes the output
    c3 = c1 + 1.0  # a constant shift survives every average pooling
    with torch.no_grad():
        assert (model(x, t, c3) - out1).abs().max() > 1e-3


def test_condition_pooled_to_every_level():
    model = MultiTrackUNet({**TINY, "channel_mult": [1, 2, 2]})
    conds = model.pooled_conditions(torch.randn(2, 8, 32, 16))
    assert [tuple(c.shape) for c in conds] == [(2, 1, 8, 32, 16), (2, 1, 8, 16, 8), (2, 1, 8, 8, 4)]


def test_cfg_dropout_zeros_whole_examples():
    g = torch.Generator().manual_seed(0)
    cond = torch.ones(1000, 8, 4, 4)
    dropped = drop_condition(cond, 0.1, g)
    zero = (dropped.flatten(1).abs().sum(1) == 0).float().mean()
    assert 0.06 < zero < 0.14
    assert torch.all((dropped.flatten(1) == 1).all(1) | (dropped.flatten(1) == 0).all(1))


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_training_steps_lower_the_loss(prediction):
    torch.manual_seed(0)
    cfg = load_config("ldm", "tiny")
    sched = training_scheduler({**cfg["diffusion"], "prediction_type": prediction})
    model = MultiTrackUNet(TINY)
    z0, cond = torch.randn(2, 4, 8, 8, 8), torch.randn(2, 8, 8, 8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss():  # the same timesteps and noise every call: a fixed tiny batch
        return diffusion_loss(model, z0, cond, sched, 0.0, torch.Generator().manual_seed(0))

    with torch.no_grad():
        before = loss().item()
    for _ in range(8):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        after = loss().item()
    assert after < 0.9 * before, (before, after)


def test_schedule_is_the_papers():
    sched = training_scheduler(load_config("ldm", "tiny")["diffusion"])
    betas = torch.linspace(0.0015**0.5, 0.0195**0.5, 1000, dtype=torch.float32) ** 2
    torch.testing.assert_close(sched.betas, betas)


def test_paper_config_builds_305m_and_runs_a_short_latent():
    cfg = load_config("ldm", "paper")["model"]
    model = MultiTrackUNet(cfg)
    n = sum(p.numel() for p in model.parameters())
    assert 300e6 < n < 310e6
    with torch.no_grad():
        out = model(torch.randn(1, 4, 8, 8, 16), torch.tensor([5]), torch.randn(1, 8, 8, 16))
    assert out.shape == (1, 4, 8, 8, 16)
