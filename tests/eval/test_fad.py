import math

import numpy as np
import pytest
import torch

from msgld.eval.embeddings import available_embeddings, get_embedding
from msgld.eval.embeddings.crepe import CrepeEmbedding, bin_to_hz, frames, load_crepe
from msgld.eval.fad import GaussianStats, embed_stats, fad, fad_from_frames, frechet_distance

SR = 16000


def test_closed_form_diagonal():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1 + 0 + 4 + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
    assert frechet_distance(mu_a, np.diag(var_a), mu_b, np.diag(var_b)) == pytest.approx(expected, rel=1e-9)


def test_closed_form_scaled_full_covariance():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((5, 5))
    sigma = m @ m.T + np.eye(5)
    delta = rng.standard_normal(5)
    # (S * c^2 S)^(1/2) = c S  ->  FD = |d|^2 + (1 - c)^2 tr(S)
    expected = delta @ delta + (1 - 3.0) ** 2 * np.trace(sigma)
    assert frechet_distance(np.zeros(5), sigma, delta, 9.0 * sigma) == pytest.approx(expected, rel=1e-8)


def test_identical_and_singular_statistics():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 8))
    assert fad_from_frames(x, x) == pytest.approx(0.0, abs=1e-6)
    few = rng.standard_normal((4, 8))  # rank-deficient covariances: still a finite, non-negative number
    value = fad_from_frames(few, few + 0.1)
    assert math.isfinite(value) and value >= 0


def test_sampled_gaussians_match_closed_form():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40000, 3)) * [1.0, 2.0, 0.5]
    b = rng.standard_normal((40000, 3)) * [2.0, 2.0, 0.5] + [1.0, 0.0, 0.0]
    expected = 1.0 + (1 - 2) ** 2  # |d|^2 + sum (s_a - s_b)^2 for diagonal covariances
    assert fad_from_frames(a, b) == pytest.approx(expected, abs=0.1)


def test_streaming_stats_match_numpy_and_merge():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 4)) * 3 + 100  # large mean: the pairwise update stays accurate
    parts = [GaussianStats(4).add(x[:10]), GaussianStats(4).add(x[10:200]), GaussianStats(4).add(torch.from_numpy(x[200:]))]
    merged = parts[2].copy().merge(parts[0]).merge(parts[1])
    assert merged.count == 300
    np.testing.assert_allclose(merged.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(merged.cov, np.cov(x, rowvar=False), rtol=1e-9)
    with pytest.raises(ValueError):
        _ = GaussianStats(4).add(x[:1]).cov


def test_registry_names():
    assert {"crepe-tiny", "crepe-full", "vggish", "logmel"} <= set(available_embeddings())
    with pytest.raises(ValueError, match="unknown embedding"):
        get_embedding("nope")


def sine(f0, seconds=1.0, amp=0.3):
    t = torch.arange(int(seconds * SR)) / SR
    return amp * torch.sin(2 * math.pi * f0 * t)


def test_crepe_tiny_weights_detect_pitch():
    """The shipped weights loaded into our module: the classifier finds the pitch of sines."""
    model = load_crepe("tiny")
    for f0 in (110.0, 440.0):
        with torch.no_grad():
            probs = model(frames(sine(f0)[None], 1600)[0])
        found = bin_to_hz(probs[2:-2].argmax(-1))
        assert torch.all((found / f0).log2().abs() * 1200 < 30), found  # within 30 cents


def test_crepe_embedding_fad_separates_sets():
    emb = CrepeEmbedding("tiny")
    out = emb(torch.stack([sine(220.0), sine(330.0)]))
    assert out.shape == (2, 1 + SR // 800, 256) and emb.name == "crepe-tiny"
    freqs = (200, 300, 400)
    tones = embed_stats(emb, [sine(f) for f in freqs])
    # CREPE normalises every frame: the same tones 16x quieter embed (almost) identically
    quiet = embed_stats(emb, [sine(f, amp=0.3 / 16) for f in freqs])
    noise = embed_stats(emb, [0.1 * torch.randn(SR, generator=torch.Generator().manual_seed(i)) for i in range(3)])
    assert fad(tones, tones) == pytest.approx(0.0, abs=1e-6)
    assert fad(tones, quiet) < 1e-3 * fad(tones, noise)


def test_logmel_embedding():
    emb = get_embedding("logmel")
    assert emb(torch.zeros(2, SR)).shape == (2, 100, 64)
