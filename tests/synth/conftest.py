"""Fixtures of the SynthSlakh tests: short songs, the Debian-free backend."""

from __future__ import annotations

import copy

import pytest

from msgld.config import load_config


@pytest.fixture(scope="session")
def short_config() -> dict:
    """The default synth config with 6-8 s songs."""
    cfg = copy.deepcopy(load_config("synth", "default"))
    cfg["duration_range"] = [6.0, 8.0]
    return cfg
