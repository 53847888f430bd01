"""`msgld separate`: stems at the input's rate and channels by default, the model's format on
request, and Demucs-like output options; run.json states the sum's error."""

import json

import numpy as np
import pytest
import soundfile as sf

from msgld.cli import main

STEMS = ["bass", "drums", "guitar", "piano"]


def sep(debug_model, *args):
    return main(["separate", "--model", str(debug_model), "--steps", "1", "-q", *map(str, args)])


def write_song(path, rate, channels, seconds=1.0, peak=0.5, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = np.sin(2 * np.pi * 330 * t)[:, None] * np.linspace(0.6, 1.0, channels) + 0.1 * rng.standard_normal((t.size, channels))
    x = (peak * x / np.abs(x).max()).astype(np.float32)
    sf.write(path, x, rate, subtype="FLOAT")
    return x.T


def read_stems(folder, names, ext="wav"):
    out = []
    for n in names:
        x, sr = sf.read(folder / f"{n}.{ext}", dtype="float64", always_2d=True)
        out.append(x.T)
    return np.stack(out), sr


def snr_db(est, ref):
    return 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((est - ref) ** 2))


@pytest.mark.parametrize("rate,channels", [(44100, 2), (48000, 6), (8000, 1), (22050, 2)])
def test_default_is_the_inputs_rate_and_channels(debug_model, tmp_path, rate, channels):
    x = write_song(tmp_path / "song.wav", rate, channels)
    assert sep(debug_model, tmp_path / "song.wav", "-o", tmp_path / "o") == 0
    stems, sr = read_stems(tmp_path / "o" / "song", STEMS)
    assert sr == rate and stems.shape == (4, channels, x.shape[-1])
    assert snr_db(stems.sum(0), x) >= 80
    run = json.loads((tmp_path / "o" / "song" / "run.json").read_text())
    assert run["sample_rate"] == rate and run["channels"] == channels and run["input_sample_rate"] == rate
    assert run["output"]["sample_format"] == "float32" and run["output"]["sum_error"]["snr_db"] >= 80


def test_model_format_on_request(debug_model, tmp_path):
    x = write_song(tmp_path / "song.wav", 44100, 2)
    assert sep(debug_model, tmp_path / "song.wav", "-o", tmp_path / "o", "--sample-rate", "16000", "--mono") == 0
    stems, sr = read_stems(tmp_path / "o" / "song", STEMS)
    assert sr == 16000 and stems.shape[:2] == (4, 1) and abs(stems.shape[-1] - 16000) <= 1
    run = json.loads((tmp_path / "o" / "song" / "run.json").read_text())
    assert (run["sample_rate"], run["channels"], run["input_sample_rate"], run["input_channels"]) == (16000, 1, 44100, 2)
    assert run["output"]["sum_error"]["snr_db"] >= 80  # against the input as converted


def test_two_stems(debug_model, tmp_path):
    x = write_song(tmp_path / "song.wav", 44100, 2)
    out = tmp_path / "o"
    assert sep(debug_model, tmp_path / "song.wav", "-o", out, "--two-stems", "drums") == 0
    assert sorted(p.name for p in (out / "song").iterdir()) == ["drums.wav", "no_drums.wav", "run.json"]
    stems, _ = read_stems(out / "song", ["drums", "no_drums"])
    assert snr_db(stems.sum(0), x) >= 80
    before = (out / "song" / "drums.wav").stat().st_mtime_ns
    assert sep(debug_model, tmp_path / "song.wav", "-o", out, "--two-stems", "drums", "--skip-existing") == 0
    assert (out / "song" / "drums.wav").stat().st_mtime_ns == before
    assert sep(debug_model, tmp_path / "song.wav", "-o", out, "--two-stems", "vocals") == 2


@pytest.mark.parametrize("flag,subtype", [("--int24", "PCM_24"), ("--int16", "PCM_16"), ("--float32", "FLOAT")])
def test_sample_formats_state_their_sum_error(debug_model, tmp_path, flag, subtype):
    x = write_song(tmp_path / "song.wav", 44100, 2)
    assert sep(debug_model, tmp_path / "song.wav", "-o", tmp_path / "o", flag) == 0
    assert sf.info(tmp_path / "o" / "song" / "bass.wav").subtype == subtype
    stems, _ = read_stems(tmp_path / "o" / "song", STEMS)
    report = json.loads((tmp_path / "o" / "song" / "run.json").read_text())["output"]
    measured = snr_db(stems.sum(0), x)
    stated = report["sum_error"]["snr_db"]
    assert abs(measured - stated) < 0.5 if stated != "inf" else measured > 120
    assert measured > {"--int16": 70, "--int24": 110, "--float32": 120}[flag]
    assert report["gain"] == 1.0 and report["clamped_samples"] == 0


def test_loud_input_rescaled_or_clamped_never_wrapped(debug_model, tmp_path):
    x = write_song(tmp_path / "loud.wav", 44100, 2, peak=1.8)
    assert sep(debug_model, tmp_path / "loud.wav", "-o", tmp_path / "r", "--int16") == 0  # rescale is the default
    stems, _ = read_stems(tmp_path / "r" / "loud", STEMS)
    report = json.loads((tmp_path / "r" / "loud" / "run.json").read_text())["output"]
    assert report["clip_mode"] == "rescale" and report["gain"] < 1.0 and report["clamped_samples"] == 0
    assert snr_db(stems.sum(0), report["gain"] * x) > 60  # one gain for all stems: the balance is kept
    assert sep(debug_model, tmp_path / "loud.wav", "-o", tmp_path / "c", "--int16", "--clip-mode", "clamp") == 0
    stems, _ = read_stems(tmp_path / "c" / "loud", STEMS)
    report = json.loads((tmp_path / "c" / "loud" / "run.json").read_text())["output"]
    assert report["gain"] == 1.0 and report["clamped_samples"] > 0
    raw = np.stack([sf.read(tmp_path / "c" / "loud" / f"{s}.wav", dtype="int16", always_2d=True)[0] for s in STEMS])
    big = np.abs(x).max(0) > 1.2  # where the input is far beyond full scale, no stem wrapped to the other sign
    assert np.all(np.abs(raw.sum(0).T[:, big]) > 0)


def test_mp3_bitrate_and_refusals(debug_model, tmp_path, capsys):
    write_song(tmp_path / "song.wav", 44100, 2, seconds=2.0)
    assert sep(debug_model, tmp_path / "song.wav", "-o", tmp_path / "o", "--format", "mp3", "--mp3-bitrate", "128") == 0
    f = tmp_path / "o" / "song" / "drums.mp3"
    assert sf.info(f).format == "MP3" and abs(f.stat().st_size * 8 / 2 / 1000 - 128) < 20
    report = json.loads((tmp_path / "o" / "song" / "run.json").read_text())["output"]
    assert report["mp3_bitrate"] == 128 and "not sample-exact" in report["sum_error"]["note"]
    write_song(tmp_path / "six.wav", 48000, 6)
    assert sep(debug_model, tmp_path / "six.wav", "-o", tmp_path / "o", "--format", "mp3") == 1
    assert "at most 2 channels" in capsys.readouterr().out
    assert sep(debug_model, tmp_path / "song.wav", "-o", tmp_path / "o", "--mp3-bitrate", "128") == 2
