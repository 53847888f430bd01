"""Shared fixtures: small multi-stem folders made on the fly (no data ships with the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.helpers import tone_stems, write_track

# One thread: tiny tensors gain nothing from more, and on a busy 2-core machine OpenMP threads
# that spin-wait for each other slow the suite down many times over.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_thread():
    """Keep one intra-op thread for every test, even after a test or library changed it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def slakh_dir(tmp_path: Path) -> Path:
    """slakh2100-style: 22.05 kHz mono, three tracks in train, one in test (guitar missing)."""
    root = tmp_path / "slakh"
    for k in range(3):
        write_track(root / "train" / f"Track{k:05d}", tone_stems(3.0 + k, 22050, k), 22050)
    stems = tone_stems(2.5, 22050, 9)
    del stems["guitar"]
    write_track(root / "test" / "Track00100", stems, 22050)
    return root


@pytest.fixture
def musdb_dir(tmp_path: Path) -> Path:
    """musdb18hq-style: 44.1 kHz stereo with a mixture.wav that must be ignored."""
    root = tmp_path / "musdb"
    names = ("bass", "drums", "other", "vocals")
    stems = tone_stems(2.0, 44100, 3, names)
    write_track(root / "test" / "Some Artist - Song", stems, 44100, stereo=True)
    mix = sum(stems.values())
    sf.write(root / "test" / "Some Artist - Song" / "mixture.wav", np.stack([mix, mix], 1), 44100)
    return root
