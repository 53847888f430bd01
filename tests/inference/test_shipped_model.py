"""The shipped default model (msgld/pretrained/msgld-tiny) loads with no model argument and
separates, generates and arranges a short clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from msgld.inference import Arranger, Generator, Separator
from msgld.inference.bundle import DEFAULT_MODEL, PRETRAINED, load_bundle

SR = 16000


@pytest.fixture(scope="module")
def shipped():
    folder = PRETRAINED / DEFAULT_MODEL
    for part in ("vae", "ldm", "vocoder", "refiner"):
        assert (folder / f"{part}.safetensors").exists() and (folder / f"{part}.json").exists(), part
    return load_bundle()


def clip(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    bass = 0.3 * np.sin(2 * np.pi * 55 * t)
    hats = (np.sin(2 * np.pi * 4 * t) > 0.9) * np.random.default_rng(0).standard_normal(t.size) * 0.1
    return (bass + hats).astype(np.float32)


def test_shipped_model_separates_a_short_clip(shipped):
    mix = clip(1.5)
    stems = Separator(shipped).separate(mix, steps=3, seed=0, sample_rate=SR)
    assert stems.shape == (4, mix.size) and torch.isfinite(stems).all()
    torch.testing.assert_close(stems.sum(0), torch.from_numpy(mix), atol=1e-4, rtol=0)  # mixture-phase masks
    energy = stems.pow(2).mean(-1)
    assert (energy > 0).sum() >= 2  # the masks share the mixture out, not all to one stem
    assert shipped.refiner is not None
    raw = Separator(shipped).separate(mix, sample_rate=SR, mask_refiner="none")
    torch.testing.assert_close(raw.sum(0), torch.from_numpy(mix), atol=1e-4, rtol=0)
    assert not torch.allclose(raw, stems, atol=1e-3)  # the refiner changed the masks


def test_shipped_model_generates_and_arranges(shipped):
    piece = Generator(shipped).generate(duration=1.0, steps=2, seed=0)
    assert piece.shape == (4, SR) and torch.isfinite(piece).all() and piece.abs().max() > 0
    drums = clip(1.0)
    out = Arranger(shipped).arrange({"drums": drums}, steps=2, seed=0, sample_rate=SR)
    torch.testing.assert_close(out[1], torch.from_numpy(drums))
    assert torch.isfinite(out).all() and out[0].abs().max() > 0
