"""The given-stems pathway of arrangement: added to a trained network it changes nothing, it is
skipped without `given`, an item with nothing known maps to exactly the plain network, and once
trained the given stems' clean latents reach the output."""

from __future__ import annotations

import pytest
import torch

from msgld.models.unet3d import GIVEN_INFIX, GIVEN_PREFIX, MultiTrackUNet, new_pathways_only, without_growth
from tests.helpers import TINY_UNET as TINY, randomise


def inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, 8, 16, 16, generator=g)
    mask = torch.zeros(2, 4, 1, 16, 1)
    mask[:, 1] = 1.0  # the drums given
    return x, torch.tensor([10, 900]), torch.randn(2, 8, 16, 16, generator=g), torch.randn_like(x), mask


def test_an_added_pathway_starts_exactly_at_the_trained_network():
    trained = MultiTrackUNet(TINY)
    randomise(trained)
    grown = MultiTrackUNet({**TINY, "given_adapter": True})
    missing, unexpected = grown.load_state_dict(trained.state_dict(), strict=False)
    assert new_pathways_only(missing, unexpected) and without_growth(grown.config) == without_growth(trained.config)
    assert any(k.startswith(GIVEN_PREFIX) for k in missing) and any(GIVEN_INFIX in k for k in missing)
    assert MultiTrackUNet(TINY).state_dict().keys() == MultiTrackUNet({**TINY, "given_adapter": False}).state_dict().keys()
    x, t, c, known, mask = inputs()
    with torch.no_grad():
        torch.testing.assert_close(grown(x, t, c, given=(known, mask)), trained(x, t, c), rtol=0, atol=0)


def test_once_trained_the_given_stems_reach_the_output_and_only_through_given():
    net = MultiTrackUNet({**TINY, "given_adapter": True})
    randomise(net)
    x, t, c, known, mask = inputs()
    with torch.no_grad():
        plain = net(x, t, c)
        with_given = net(x, t, c, given=(known, mask))
        other = net(x, t, c, given=(known + 1.0, mask))
        nothing = net(x, t, c, given=(known, torch.zeros_like(mask)))
    assert (with_given - plain).abs().max() > 1e-3 and (other - with_given).abs().max() > 1e-3
    torch.testing.assert_close(nothing, plain, rtol=0, atol=0)  # bias-free: nothing known is the plain network
    hidden = known.clone()
    hidden[:, 0] += 5.0  # a stem that is not given: the pathway never sees it
    with torch.no_grad():
        torch.testing.assert_close(net(x, t, c, given=(hidden, mask)), with_given, rtol=0, atol=0)


def test_given_needs_the_pathway_and_matching_shapes():
    x, t, c, known, mask = inputs()
    with pytest.raises(ValueError, match="no given-stems pathway"):
        MultiTrackUNet(TINY)(x, t, c, given=(known, mask))
    with pytest.raises(ValueError, match="given latents"):
        MultiTrackUNet({**TINY, "given_adapter": True})(x, t, c, given=(known[:, :, :, :8], mask))
