"""`msgld train --set`: overrides parsed as YAML values."""

from __future__ import annotations

import pytest

from msgld.cli.train import parse_overrides


def test_overrides_nest_and_parse_numbers():
    got = parse_overrides(["optim.lr=5e-4", "train.freeze_encoder=true", "data.stems=[bass, drums]", "name=x"])
    assert got == {"optim": {"lr": 5e-4}, "train": {"freeze_encoder": True},
                   "data": {"stems": ["bass", "drums"]}, "name": "x"}


def test_override_without_value_is_refused():
    with pytest.raises(ValueError, match="KEY.PATH=VALUE"):
        parse_overrides(["optim.lr"])
