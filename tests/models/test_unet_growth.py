"""Growing a trained U-Net: `extra_blocks` and a FiLM text pathway start as exact no-ops, so a
trained network loaded into the grown one computes what it did; the added weights then train."""

from __future__ import annotations

import pytest
import torch

from msgld.models.unet3d import EXTRA_INFIX, TEXT_PREFIX, MultiTrackUNet, new_pathways_only, without_growth
from tests.helpers import TINY_UNET as TINY, randomise


def inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 4, 8, 16, 16, generator=g), torch.tensor([10, 900]),
            torch.randn(2, 8, 16, 16, generator=g), torch.randn(2, 16, generator=g))


def test_ungrown_config_keeps_its_state_dict():
    assert MultiTrackUNet(TINY).state_dict().keys() == MultiTrackUNet({**TINY, "extra_blocks": [0, 0]}).state_dict().keys()
    assert not any(EXTRA_INFIX in k for k in MultiTrackUNet(TINY).state_dict())


def test_grown_network_starts_exactly_at_the_trained_one():
    trained = MultiTrackUNet({**TINY, "text_dim": 16})
    randomise(trained)
    grown = MultiTrackUNet({**TINY, "text_dim": 16, "text_film": True, "extra_blocks": [1, 2]})
    missing, unexpected = grown.load_state_dict(trained.state_dict(), strict=False)
    assert new_pathways_only(missing, unexpected) and without_growth(grown.config) == without_growth(trained.config)
    assert any(EXTRA_INFIX in k for k in missing) and f"{TEXT_PREFIX}film.weight" in missing
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

    config = {"model": {**TINY, "text_dim": 16, "text_film": True, "extra_blocks": [1, 1]},
              "diffusion": {"num_train_timesteps": 1000, "prediction_type": "v_prediction"}}
    net = build_ldm(config)
    randomise(net)
    save_model(net, tmp_path / "ldm", "ldm", config)
    loaded = load_model(tmp_path / "ldm", kind="ldm")
    x, t, c, text = inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, c, text=text), net(x, t, c, text=text), rtol=0, atol=0)
