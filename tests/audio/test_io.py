import numpy as np
import pytest
import soundfile as sf

from msgld.audio.io import (
    AudioError, AudioWriter, check_output, from_pcm, load_audio, load_audio_native, resample, save_audio, to_pcm,
)


def test_load_resamples_and_folds_to_mono(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    left = np.sin(2 * np.pi * 440 * t).astype(np.float32) * 0.5
    sf.write(tmp_path / "a.wav", np.stack([left, 0 * left], 1), sr)
    wave = load_audio(tmp_path / "a.wav")
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(wave.shape[0] - 16000) <= 1
    # the mean of the channels: amplitude halves
    assert np.abs(wave[1000:-1000]).max() == pytest.approx(0.25, rel=0.02)


@pytest.mark.parametrize("ext", [".flac", ".ogg", ".mp3"])
def test_load_other_formats(tmp_path, ext):
    t = np.arange(16000) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    path = save_audio(tmp_path / f"x{ext}", wave, 16000, subtype="int16")
    back = load_audio(path)
    assert back.dtype == np.float32
    assert abs(back.shape[0] - 16000) < 2000  # mp3 adds encoder padding
    assert np.abs(back).max() > 0.2


@pytest.mark.parametrize("subtype,tol", [("int16", 1e-4), ("int24", 1e-6), ("float32", 0.0)])
def test_save_round_trip(tmp_path, subtype, tol):
    wave = np.random.default_rng(0).uniform(-0.9, 0.9, 4000).astype(np.float32)
    path = save_audio(tmp_path / "out.wav", wave, 16000, subtype=subtype)
    assert np.abs(load_audio(path) - wave).max() <= tol
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # no temp files left


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.wav"
    save_audio(path, np.zeros(100, np.float32))
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sf.SoundFile, "write", boom)
    with pytest.raises(RuntimeError):
        save_audio(path, np.ones(100, np.float32))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_save_refuses_nan(tmp_path):
    with pytest.raises(AudioError, match="NaN"):
        save_audio(tmp_path / "x.wav", np.array([0.0, np.nan], np.float32))
    assert not list(tmp_path.iterdir())


def test_errors_name_the_file(tmp_path):
    with pytest.raises(AudioError, match="missing.wav: file not found"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav: empty file"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioError, match="junk.wav: unreadable"):
        load_audio(tmp_path / "junk.wav")
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="zero.wav: zero-length"):
        load_audio(tmp_path / "zero.wav")
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.inf, 0.1], np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: contains NaN or Inf"):
        load_audio(tmp_path / "nan.wav")


def test_resample_multichannel_matches_per_channel():
    x = np.random.default_rng(1).standard_normal((2, 3, 2205)).astype(np.float32)
    y = resample(x, 22050, 16000)
    assert y.shape[:2] == (2, 3)
    np.testing.assert_allclose(y[1, 2], resample(x[1, 2], 22050, 16000), atol=1e-5)


def test_integers_clamp_never_wrap(tmp_path):
    wave = np.array([0.5, 1.2, -1.3, 0.99999, -1.0], np.float32)
    np.testing.assert_array_equal(to_pcm(wave, "int16"), [16384, 32767, -32768, 32767, -32768])
    np.testing.assert_allclose(from_pcm(to_pcm(wave, "int24"), "int24")[[0, 4]], [0.5, -1.0])
    path = save_audio(tmp_path / "x.wav", wave, 16000, "int24")
    back, _ = sf.read(path, dtype="float32")
    assert back[1] > 0.99 and back[2] == -1.0  # clamped at full scale, not wrapped to the other sign


def test_writer_appends_blocks_atomically(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 3000)).astype(np.float32)
    w = AudioWriter(tmp_path / "s.flac", 44100, 2, "float32")
    stored = [w.write(x[:, :1000]), w.write(x[:, 1000:])]
    assert [p.name for p in tmp_path.iterdir()] != ["s.flac"]  # a temporary name until closed
    w.close()
    back, sr = sf.read(tmp_path / "s.flac", dtype="float64", always_2d=True)
    assert sr == 44100 and back.shape == (3000, 2)
    np.testing.assert_array_equal(back.T, np.concatenate(stored, axis=1))  # what write() said is what is stored
    assert np.abs(back.T - x).max() < 2 ** -22  # FLAC float32 -> 24 bit


@pytest.mark.parametrize("kbps", [64, 128, 320])
def test_mp3_bitrate(tmp_path, kbps):
    x = 0.1 * np.random.default_rng(0).standard_normal((2, 44100 * 4)).astype(np.float32)
    path = save_audio(tmp_path / "x.mp3", x, 44100, mp3_bitrate=kbps)
    assert abs(path.stat().st_size * 8 / 4 / 1000 - kbps) < 0.1 * kbps


def test_output_checks_say_what_to_do(tmp_path):
    with pytest.raises(AudioError, match="--sample-rate"):
        check_output(tmp_path / "x.mp3", 96000, 2, "float32")
    with pytest.raises(AudioError, match="at most 2 channels"):
        check_output(tmp_path / "x.mp3", 44100, 6, "float32")
    with pytest.raises(AudioError, match="kbps"):
        check_output(tmp_path / "x.mp3", 16000, 1, "float32", 320)


def test_load_native_keeps_rate_and_channels(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (6000, 6)).astype(np.float32)
    sf.write(tmp_path / "six.wav", x, 48000, subtype="FLOAT")
    wave, sr = load_audio_native(tmp_path / "six.wav")
    assert sr == 48000 and wave.shape == (6, 6000)
    np.testing.assert_array_equal(wave, x.T)
