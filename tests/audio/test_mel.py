import librosa
import numpy as np
import torch

from msgld.audio.mel import MelConfig, MelFrontEnd, log_mel


def librosa_log_mel(x: np.ndarray) -> np.ndarray:
    """An independent computation straight from design.md with librosa."""
    spec = np.abs(librosa.stft(x, n_fft=1024, hop_length=160, win_length=1024, window="hann",
                               center=True, pad_mode="reflect"))
    mel = librosa.feature.melspectrogram(S=spec, sr=16000, n_fft=1024, n_mels=64, fmin=0.0,
                                         fmax=8000.0, htk=False, norm="slaney", power=1.0)
    return np.log(np.maximum(mel, 1e-5)).T[: len(x) // 160]


def test_segment_gives_1024_frames_of_64_bands():
    out = log_mel(torch.zeros(163840))
    assert out.shape == (1024, 64)
    assert torch.all(out == np.log(1e-5).astype(np.float32))


def test_matches_librosa():
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    ours = log_mel(torch.from_numpy(x)).numpy()
    ref = librosa_log_mel(x)
    assert ours.shape == ref.shape == (200, 64)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_batched_over_leading_dims():
    x = torch.randn(2, 3, 8000) * 0.1
    out = log_mel(x)
    assert out.shape == (2, 3, 50, 64)
    torch.testing.assert_close(out[1, 2], log_mel(x[1, 2]), atol=1e-5, rtol=0)


def test_module_has_no_state_dict_and_follows_device():
    front = MelFrontEnd(MelConfig())
    assert front.state_dict() == {}
    assert front.cfg.frames(163840) == 1024
    if torch.cuda.is_available():  # pragma: no cover - GPU machines only
        x = torch.randn(4, 16000, device="cuda")
        assert front.cuda()(x).device.type == "cuda"
