"""The mask refiner starts as the identity and checks its inputs."""

import pytest
import torch

from msgld.models.mask_refiner import MaskRefiner
from tests.helpers import randomise


def test_untrained_refiner_returns_the_estimate():
    est, mix = torch.randn(2, 4, 40, 64), torch.randn(2, 40, 64)
    torch.testing.assert_close(MaskRefiner()(est, mix), est, rtol=0, atol=0)


def test_trained_refiner_changes_it_and_any_length_works():
    m = MaskRefiner({"channels": 8, "groups": 4, "dilations": [[1, 1], [2, 2]]})
    randomise(m)
    est = torch.randn(1, 4, 37, 64)
    out = m(est, torch.randn(1, 37, 64))
    assert out.shape == est.shape and not torch.allclose(out, est)


def test_bad_shapes_are_named():
    m = MaskRefiner()
    with pytest.raises(ValueError, match="expected stem log-mels"):
        m(torch.randn(1, 3, 10, 64), torch.randn(1, 10, 64))
    with pytest.raises(ValueError, match="does not match"):
        m(torch.randn(1, 4, 10, 64), torch.randn(1, 12, 64))


def test_non_residual_refiner_starts_at_equal_masks():
    est, mix = torch.randn(1, 4, 20, 64), torch.randn(1, 20, 64)
    out = MaskRefiner({"residual": False})(est, mix)
    torch.testing.assert_close(out, torch.zeros_like(est), rtol=0, atol=0)
