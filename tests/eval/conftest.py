"""Shared fixtures: a small synthetic multi-track folder in the Slakh layout."""

from __future__ import annotations

import pytest
import torch

from msgld.testing import make_multitrack_folder


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MSGLD_CACHE", str(tmp_path_factory.getbasetemp() / "msgld-cache"))
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def stems_folder(tmp_path_factory):
    """train: 2 tracks, test: 3 tracks, 8 s each (6 test clips of 4 s); guitar silent in the
    second half of Track00002."""
    return make_multitrack_folder(tmp_path_factory.mktemp("synthslakh"), {"train": 2, "test": 3}, seconds=8.0)


@pytest.fixture(autouse=True)
def _restore_registries():
    """Methods a test registers do not outlive it."""
    from msgld.eval import methods

    methods.discover()
    saved = {kind: dict(entries) for kind, entries in methods._REGISTRIES.items()}
    yield
    for kind, entries in saved.items():
        methods._REGISTRIES[kind].clear()
        methods._REGISTRIES[kind].update(entries)
