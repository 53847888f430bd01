import numpy as np
import torch

from msgld.audio.mel import log_mel
from msgld.audio.reconstruct import MaskReconstructor, mel_to_linear_weights, oracle_mel_mask
from msgld.audio.mel import MelConfig
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
