import math

import numpy as np
import pytest
import torch

from msgld.eval.metrics import (
    EPS, SeparationScores, is_silent, mel_errors, si_sdr, window_bounds, windowed_si_sdr,
)

SR = 16000


def noise(*shape, seed=0, scale=0.1):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape) * scale)


def orthogonal_noise(ref, snr_db, seed=1):
    """Noise exactly orthogonal to `ref` with ||ref||^2 / ||n||^2 = 10^(snr/10)."""
    n = noise(*ref.shape, seed=seed)
    n = n - (n * ref).sum(-1, keepdim=True) / (ref * ref).sum(-1, keepdim=True) * ref
    return n * torch.sqrt((ref * ref).sum(-1, keepdim=True) / (n * n).sum(-1, keepdim=True) / 10 ** (snr_db / 10))


def test_identical_signals_give_large_finite_value():
    r = noise(SR * 4)
    value = float(si_sdr(r, r))
    energy = float((r * r).sum())
    assert math.isfinite(value)
    assert value == pytest.approx(10 * math.log10(energy / EPS), abs=0.1)  # ~105 dB here
    assert value > 100


def test_known_noise_level_and_scale_invariance():
    r = noise(3, SR, seed=3)
    for snr in (-5.0, 0.0, 10.0, 30.0):
        e = r + orthogonal_noise(r, snr)
        assert si_sdr(e, r).numpy() == pytest.approx([snr] * 3, abs=1e-6)
        # scaling changes only the eps terms (1e-8 against energies of ~1e-2 to 1e2)
        assert si_sdr(0.25 * e, r).numpy() == pytest.approx([snr] * 3, abs=1e-4)
        assert si_sdr(e, 7 * r).numpy() == pytest.approx([snr] * 3, abs=1e-4)


def test_silent_estimate_is_zero_db_and_numpy_input():
    r = noise(SR).numpy()
    assert float(si_sdr(np.zeros_like(r), r)) == pytest.approx(0.0, abs=1e-6)


def test_window_bounds_follow_msdm():
    assert window_bounds(163840, 64000, 32000) == [(0, 64000), (32000, 96000), (64000, 128000), (96000, 160000), (128000, 163840)]
    assert window_bounds(64000, 64000, 32000) == [(0, 64000)]
    assert window_bounds(100, 64000, 32000) == [(0, 100)]


def test_silence_threshold():
    assert bool(is_silent(torch.full((100,), 1.4e-5)))
    assert not bool(is_silent(torch.full((100,), 1.6e-5)))


def three_stems():
    """8 s: A active throughout, B only in the first 2 s, C silent -> windows (0-4, 2-6, 4-8 s):
    only the first has two active sources."""
    L = 8 * SR
    a = noise(L, seed=10)
    b = torch.zeros(L, dtype=torch.float64)
    b[: 2 * SR] = noise(2 * SR, seed=11)
    c = torch.zeros(L, dtype=torch.float64)
    return torch.stack([a, b, c])


def test_windows_with_one_active_source_are_skipped():
    ref = three_stems()
    w = windowed_si_sdr(ref, ref)
    assert w["kept"].tolist() == [True, False, False]
    assert w["active"][0].tolist() == [True, True, False]


def test_scores_average_only_active_stems_in_kept_windows():
    ref = three_stems()
    a_est = ref[0] + orthogonal_noise(ref[0], 12.0)
    est = torch.stack([a_est, ref.sum(0), ref.sum(0)])
    scores = SeparationScores(["a", "b", "c"])
    scores.update(est[None], ref[None])
    table, counts = scores.per_stem(), scores.counts()
    assert counts == {"a": {"windows": 1, "active_clips": 1}, "b": {"windows": 1, "active_clips": 1},
                      "c": {"windows": 0, "active_clips": 0}}
    win = slice(0, 4 * SR)
    assert table["a"]["si_sdr_wave"] == pytest.approx(float(si_sdr(a_est[win], ref[0, win])), abs=1e-9)
    assert table["a"]["si_sdr_wave_clip"] == pytest.approx(12.0, abs=1e-6)
    mix = ref.sum(0)
    assert table["b"]["si_sdri_wave"] == pytest.approx(0.0, abs=1e-9)  # the mixture as estimate
    assert table["b"]["si_sdr_wave"] == pytest.approx(float(si_sdr(mix[win], ref[1, win])), abs=1e-9)
    assert table["c"]["si_sdr_wave"] is None and table["c"]["si_sdr_wave_clip"] is None
    assert table["c"]["mel_mse"] is not None  # mel errors are defined for every clip
    assert scores.mean()["si_sdr_wave"] == pytest.approx((table["a"]["si_sdr_wave"] + table["b"]["si_sdr_wave"]) / 2)


def test_accumulation_pools_windows_across_clips():
    refs = noise(2, 2, 6 * SR, seed=20)  # two clips, two stems, all active: 2 windows each
    ests = refs + noise(2, 2, 6 * SR, seed=21, scale=0.05)
    ests[1] = refs[1] + noise(2, 6 * SR, seed=22, scale=0.2)  # clip 2 much worse
    scores = SeparationScores(["x", "y"])
    scores.update(ests[:1], refs[:1])
    scores.update(ests[1:], refs[1:])
    pooled = torch.cat([windowed_si_sdr(ests[i], refs[i])["si_sdr"] for i in range(2)])
    assert scores.counts()["x"]["windows"] == 4
    assert scores.per_stem()["x"]["si_sdr_wave"] == pytest.approx(float(pooled[:, 0].mean()), abs=1e-9)
    assert scores.clips == 2


def test_mel_errors_identical_and_scaled():
    ref = noise(2, SR, seed=30).float()
    same = mel_errors(ref, ref)
    assert same["mel_mse"].tolist() == [0.0, 0.0] and same["log_mel_l1"].tolist() == [0.0, 0.0]
    doubled = mel_errors(2 * ref, ref)  # mel magnitude is linear: every log-mel moves by ln 2
    assert doubled["mel_mse"].numpy() == pytest.approx([math.log(2) ** 2] * 2, rel=1e-4)
    assert doubled["log_mel_l1"].numpy() == pytest.approx([math.log(2)] * 2, rel=1e-4)


def test_shape_errors():
    scores = SeparationScores(["a", "b"])
    with pytest.raises(ValueError):
        scores.update(torch.zeros(1, 3, SR), torch.zeros(1, 3, SR))
