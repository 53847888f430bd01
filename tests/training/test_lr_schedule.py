import math

import pytest

from msgld.training.lr_schedule import factor_from_config, lr_factor


def test_warmup_then_constant_without_anneal():
    f = factor_from_config({"warmup_steps": 4})
    assert [f(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_anneal_from_start_to_floor_then_holds():
    f = factor_from_config({"warmup_steps": 1, "anneal_start": 100, "anneal_steps": 10, "anneal_floor": 0.1})
    assert f(99) == 1.0 and f(100) == 1.0
    assert f(105) == pytest.approx(0.1 + 0.9 * 0.5)
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
    values = [f(s) for s in range(100, 111)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_anneal_multiplies_warmup():
    assert lr_factor(1, warmup=4, anneal_start=0, anneal_steps=2) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi / 2)))


@pytest.mark.parametrize("optim", [{"anneal_start": 10}, {"anneal_start": -1, "anneal_steps": 5},
                                   {"anneal_start": 1, "anneal_steps": 5, "anneal_floor": 2.0}])
def test_bad_anneal_settings_are_named(optim):
    with pytest.raises(ValueError, match="optim.anneal"):
        factor_from_config(optim)
