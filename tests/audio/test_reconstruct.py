import numpy as np
import pytest
import torch

from msgld.audio.mel import MelConfig, log_mel
from msgld.audio.reconstruct import (
    HIGH_BANDS, MaskReconstructor, StftGrid, mel_ratio_masks, mel_to_linear_weights, native_oracle_log_mels,
    oracle_mel_mask,
)
from tests.helpers import tone_stems


def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    alpha = np.dot(est, ref) / np.dot(ref, ref)
    target = alpha * ref
    return 10 * np.log10(np.sum(target**2) / np.sum((est - target) ** 2))


def test_spread_weights_rows_sum_to_one():
    w = mel_to_linear_weights(MelConfig())
    assert w.shape == (513, 64)
    torch.testing.assert_close(w.sum(1), torch.ones(513))


def test_oracle_masks_of_real_stems_separate_well_and_sum_to_mixture():
    stems = torch.from_numpy(np.stack(list(tone_stems(4.0, 16000, 0).values())))
    mixture = stems.sum(0)
    est = oracle_mel_mask(stems)
    assert est.shape == stems.shape
    torch.testing.assert_close(est.sum(0), mixture, atol=1e-5, rtol=0)
    scores = [si_sdr(est[i].numpy(), stems[i].numpy()) for i in range(4)]
    # tones separate cleanly; broadband noise drums are the hard case even for a linear IRM (~10 dB)
    assert min(scores) > 4.0 and np.mean(scores) > 15.0, scores


def test_reconstructor_batched_and_length_preserving():
    stems = torch.randn(2, 3, 12345) * 0.1
    mixture = stems.sum(1)
    est = MaskReconstructor()(log_mel(stems), mixture)
    assert est.shape == (2, 3, 12345)
    torch.testing.assert_close(est.sum(1), mixture, atol=1e-5, rtol=0)


def test_uniform_estimates_split_evenly():
    mixture = torch.randn(8000) * 0.1
    est = MaskReconstructor()(torch.zeros(4, 50, 64), mixture)
    torch.testing.assert_close(est, mixture.expand(4, -1) / 4, atol=1e-5, rtol=0)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 32000, 44100, 48000, 96000])
@pytest.mark.parametrize("rule", HIGH_BANDS)
def test_native_rate_multichannel_stems_sum_to_the_input(rate, rule):
    x = torch.randn(2, int(rate * 0.7)) * 0.1
    mels = torch.randn(4, 70, 64)
    est = MaskReconstructor(high_band=rule)(mels, x, sample_rate=rate)
    assert est.shape == (2, 4, x.shape[-1])
    err = (est.sum(1) - x).pow(2).sum() / x.pow(2).sum()
    assert -10 * torch.log10(err) > 100


def test_mask_power_hardens_or_softens_the_masks_and_keeps_the_sum():
    mels = torch.log(torch.tensor([[[2.0]], [[1.0]]]))  # stem 0 twice as loud as stem 1 in one bin
    assert mel_ratio_masks(mels)[:, 0, 0].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert mel_ratio_masks(mels, power=2.0)[:, 0, 0].tolist() == pytest.approx([0.8, 0.2])
    assert mel_ratio_masks(mels, power=0.5)[:, 0, 0].tolist() == pytest.approx([2**0.5 / (1 + 2**0.5),
                                                                                1 / (1 + 2**0.5)])
    x = torch.randn(1, 9000) * 0.1
    est = MaskReconstructor(power=2.0)(torch.randn(4, 60, 64), x, sample_rate=22050)
    torch.testing.assert_close(est.sum(1), x, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="mask power"):
        MaskReconstructor(power=0.0)


def test_grid_spans_the_front_ends_time():
    for rate in (16000, 22050, 44100, 48000):
        g = StftGrid.for_rate(rate)
        assert abs(g.hop_length / rate - 0.01) < 1e-4 and abs((g.win_length or g.n_fft) / rate - 0.064) < 1e-4
    assert StftGrid.for_rate(16000).n_fft == 1024 and StftGrid.for_rate(44100).n_fft == 2880  # 2822 rounded up
    g = StftGrid.for_rate(44100)
    torch.testing.assert_close(g.frame_positions(3, offset=441), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))


def test_high_band_rules():
    """Stem 1 owns 6-8 kHz, stem 0 the top band alone: the rules split above 8 kHz accordingly."""
    cfg = MelConfig()
    mels = torch.full((3, 5, 64), -11.5)
    mels[1, :, 58:63] = 0.0  # 6-7.6 kHz: stem 1
    mels[0, :, 63] = 0.5  # the top band: stem 0
    rec = MaskReconstructor(cfg)
    grid = StftGrid.for_rate(44100)
    high = torch.from_numpy(np.fft.rfftfreq(grid.n_fft, 1 / 44100)) > 8000
    for rule, owner in (("flat", 0), ("band", 1), ("dominant", 1)):
        m = rec.linear_masks(mels, grid, 5, high_band=rule)  # [S, F, T]
        torch.testing.assert_close(m.sum(0), torch.ones_like(m[0]))
        assert torch.all(m[owner][high] > 0.5), rule
    m = rec.linear_masks(mels, grid, 5, high_band="slope")
    torch.testing.assert_close(m.sum(0), torch.ones_like(m[0]))
    with pytest.raises(ValueError, match="choose one of"):
        MaskReconstructor(high_band="nope")


def test_16k_is_the_front_ends_own_reconstruction():
    """At 16 kHz the native path is the 16 kHz one: the linear masks repeat the spread weights."""
    mels = torch.randn(4, 20, 64)
    rec = MaskReconstructor()
    grid = StftGrid.for_rate(16000)
    m = rec.linear_masks(mels, grid, 21)
    expected = (mel_ratio_masks(mels) @ mel_to_linear_weights(MelConfig()).T).transpose(-1, -2)
    torch.testing.assert_close(m[..., :20], expected)
    torch.testing.assert_close(m[..., 20], expected[..., 19])  # past the last mel frame: held


def test_native_oracle_reads_the_downmix():
    stems = torch.randn(4, 2, 44100) * 0.1
    mels = native_oracle_log_mels(stems, 44100)
    assert mels.shape == (4, 100, 64)


def test_per_channel_is_forward_on_each_channel():
    x = torch.randn(3, 22050) * 0.1
    mels = torch.randn(4, 50, 64)
    rec = MaskReconstructor()
    both = rec.per_channel(mels, x, 44100)
    assert both.shape == (4, 3, 22050)
    for c in range(3):
        torch.testing.assert_close(both[:, c], rec(mels, x[c], sample_rate=44100), atol=1e-5, rtol=0)
    torch.testing.assert_close(both.sum(0), x, atol=1e-6, rtol=0)  # the last stem is the remainder
