"""Growing a trained U-Net: `extra_blocks`, a FiLM text pathway and mixture projections start as
exact no-ops, so a trained network loaded into the grown one computes what it did; the added
weights then train."""

from __future__ import annotations

import pytest
import torch

from msgld.models.unet3d import EXTRA_INFIX, MIX_INFIX, TEXT_PREFIX, MultiTrackUNet, new_pathways_only, without_growth
from tests.helpers import TINY_UNET as TINY, randomise


def inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 4, 8, 16, 16, generator=g), torch.tensor([10, 900]),
            torch.randn(2, 8, 16, 16, generator=g), torch.randn(2, 16, generator=g))


def test_ungrown_config_keeps_its_state_dict():
    assert MultiTrackUNet(TINY).state_dict().keys() == MultiTrackUNet({**TINY, "extra_blocks": [0, 0]}).state_dict().keys()
    assert not any(EXTRA_INFIX in k for k in MultiTrackUNet(TINY).state_dict())
    assert MultiTrackUNet(TINY).state_dict().keys() == MultiTrackUNet({**TINY, "mixture_proj": False}).state_dict().keys()


def test_grown_network_starts_exactly_at_the_trained_one():
    trained = MultiTrackUNet({**TINY, "text_dim": 16})
    randomise(trained)
    grown = MultiTrackUNet({**TINY, "text_dim": 16, "text_film": True, "extra_blocks": [1, 2], "mixture_proj": True})
    missing, unexpected = grown.load_state_dict(trained.state_dict(), strict=False)
    assert new_pathways_only(missing, unexpected) and without_growth(grown.config) == without_growth(trained.config)
    assert any(EXTRA_INFIX in k for k in missing) and f"{TEXT_PREFIX}film.weight" in missing
    assert sum(MIX_INFIX in k for k in missing) == sum(1 for m in grown.modules() if hasattr(m, "mix"))
    x, t, c, text = inputs()
    with torch.no_grad():
        for cond, prompt in ((c, None), (c, text), (None, text), (None, torch.zeros_like(text))):
            torch.testing.assert_close(grown(x, t, cond, text=prompt), trained(x, t, cond, text=prompt), rtol=0, atol=0)


def test_extra_blocks_and_film_change_the_output_once_trained():
    grown = MultiTrackUNet({**TINY, "text_dim": 16, "text_film": True, "extra_blocks": [0, 1]})
    randomise(grown)
    x, t, c, text = inputs()
    with torch.no_grad():
        base = grown(x, t, c, text=text)
        for res in grown.mid[0].extra:  # the extra block's second conv is what starts at zero
            res.conv2.weight.zero_()
            res.conv2.bias.zero_()
        assert (grown(x, t, c, text=text) - base).abs().max() > 1e-4
        before = grown(x, t, c, text=text)
        grown.text_embed.film.weight.zero_()
        after = grown(x, t, c, text=text)
        assert (after - before).abs().max() > 1e-4  # FiLM reached the features
        torch.testing.assert_close(grown(x, t, c, text=torch.zeros_like(text)), grown(x, t, c), rtol=0, atol=0)


def test_mixture_projection_reads_every_latent_channel_once_trained():
    net = MultiTrackUNet({**TINY, "mixture_proj": True})
    randomise(net)
    x, t, c, _ = inputs()
    with torch.no_grad():
        base = net(x, t, c)
        torch.testing.assert_close(net(x, t, torch.zeros_like(c)), net(x, t, None), rtol=0, atol=0)  # null stays null
        for m in net.modules():
            if hasattr(m, "mix"):
                m.mix.conv.weight.zero_()
        plain = net(x, t, c)
    assert (base - plain).abs().max() > 1e-4
    # one projection: a change in the last latent channel of the mixture reaches the first depth
    proj = net.down[0][0].mix
    randomise(proj)
    cond = torch.zeros(1, 1, 8, 4, 4)
    moved = cond.clone()
    moved[0, 0, -1] = 1.0
    with torch.no_grad():
        assert (proj(moved) - proj(cond))[:, :, 0].abs().max() > 1e-4
    assert proj(cond).shape == (1, net.down[0][0].res.conv1.in_channels, 8, 4, 4)


def test_every_res_block_gets_its_own_film_columns():
    net = MultiTrackUNet({**TINY, "text_dim": 16, "text_film": True, "extra_blocks": [1, 0]})
    slices = [m.film_slice for m in net.modules() if getattr(m, "film_slice", None) is not None]
    widths = [b - a for a, b in slices]
    assert sorted(slices) == sorted(set(slices)) and sum(widths) == net.text_embed.film.out_features
    assert all(w > 0 and w % 2 == 0 for w in widths)


def test_bad_growth_settings_are_refused():
    with pytest.raises(ValueError, match="extra_blocks"):
        MultiTrackUNet({**TINY, "extra_blocks": [1]})
    with pytest.raises(ValueError, match="text_film needs a text pathway"):
        MultiTrackUNet({**TINY, "text_film": True})


def test_a_grown_network_saves_and_loads_with_its_config(tmp_path):
    from msgld.models.unet3d import build_ldm
    from msgld.weights import load_model, save_model

    config = {"model": {**TINY, "text_dim": 16, "text_film": True, "extra_blocks": [1, 1], "mixture_proj": True},
              "diffusion": {"num_train_timesteps": 1000, "prediction_type": "v_prediction"}}
    net = build_ldm(config)
    randomise(net)
    save_model(net, tmp_path / "ldm", "ldm", config)
    loaded = load_model(tmp_path / "ldm", kind="ldm")
    x, t, c, text = inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, c, text=text), net(x, t, c, text=text), rtol=0, atol=0)
