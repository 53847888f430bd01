"""Separation at the input's own rate and channel count; the engine's settings, geometry,
callbacks and load-time checks."""

import json
import shutil

import numpy as np
import pytest
import torch

from msgld.inference import Arranger, Generator, Separator, load_bundle
from msgld.inference.separator import two_stems
from msgld.inference.settings import SeparationSettings, SettingError


def song(rate: int, channels: int | None, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    base = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    if channels is None:
        return base.astype(np.float32)
    gains = np.linspace(0.5, 1.0, channels)[:, None]
    return (gains * base + 0.02 * rng.standard_normal((channels, t.size))).astype(np.float32)


def snr_db(estimate: torch.Tensor, reference: np.ndarray) -> float:
    ref = torch.from_numpy(reference).double()
    return float(10 * torch.log10(ref.pow(2).sum() / (estimate.double() - ref).pow(2).sum()))


@pytest.mark.parametrize("rate,channels", [(44100, 2), (48000, 2), (22050, 2), (8000, 1), (16000, None),
                                           (44100, None), (48000, 6)])
def test_stems_at_the_inputs_rate_and_channels_sum_to_it(bundle, rate, channels):
    x = song(rate, channels)
    stems = Separator(bundle).separate(x, sample_rate=rate, steps=1)
    assert stems.shape == (4, *x.shape)
    assert snr_db(stems.sum(0), x) >= 80  # float output: the sum is the input to float precision


def test_unstated_rate_is_refused(bundle):
    with pytest.raises(ValueError, match="sample_rate="):
        Separator(bundle).separate(song(16000, None), steps=1)
    with pytest.raises(ValueError, match="sample_rate="):
        Arranger(bundle).arrange({"drums": song(16000, None)}, steps=1)


def test_native_downmix_is_the_16k_path(bundle):
    """The model hears the 16 kHz mono downmix either way: the native stems' downmix is the
    16 kHz path's stems (up to the resampler and the high band)."""
    from msgld.audio.io import resample

    x = song(32000, 2, seconds=1.5)
    sep = Separator(bundle)
    native = sep.separate(x, sample_rate=32000, steps=1, seed=3)
    mono16 = resample(x.mean(0), 32000, 16000)
    at16 = sep.separate(mono16, sample_rate=16000, steps=1, seed=3)
    down = torch.from_numpy(resample(native.mean(1).numpy(), 32000, 16000))
    for k in range(4):
        assert snr_db(down[k], at16[k].numpy()) > 20


def test_stream_blocks_equal_whole(bundle):
    sep = Separator(bundle)
    x = song(44100, 2, seconds=3.0)
    est = sep.estimate(x, sample_rate=44100, steps=1)
    blocks = list(sep.reconstruct(est, x, 44100, block_seconds=1.0))
    assert len(blocks) > 2 and all(b.shape[:2] == (4, 2) for b in blocks)
    whole = torch.cat(blocks, dim=-1)
    assert whole.shape == (4, 2, x.shape[-1])
    assert snr_db(whole.sum(0), x) >= 80
    one = torch.cat(list(sep.reconstruct(est, x, 44100, block_seconds=10.0)), dim=-1)
    assert snr_db(whole[1], one[1].numpy()) > 40  # block seams are cross-faded away


def test_vocoder_output_at_the_inputs_format(bundle):
    x = song(22050, 2, seconds=1.0)
    out = Separator(bundle).separate(x, sample_rate=22050, steps=1, reconstruct="vocoder")
    assert out.shape == (4, 2, x.shape[-1]) and torch.isfinite(out).all()


def test_two_stems_sum_to_the_input(bundle):
    x = song(44100, 2)
    stems = Separator(bundle).separate(x, sample_rate=44100, steps=1)
    names, two = two_stems(stems, ["bass", "drums", "guitar", "piano"], "drums")
    assert names == ["drums", "no_drums"] and two.shape == (2, *x.shape)
    torch.testing.assert_close(two[0], stems[1])
    assert snr_db(two.sum(0), x) >= 80
    with pytest.raises(ValueError, match="choose one of"):
        two_stems(stems, ["bass", "drums", "guitar", "piano"], "vocals")


def test_settings_typed_validated_once_and_defaults_in_one_dict(bundle):
    sep = Separator(bundle)
    s = sep.settings(steps=2.0, eta=5e-4, overlap=0)
    assert s["steps"] == 2 and isinstance(s["steps"], int) and s["eta"] == 5e-4 and s["overlap"] == 0.0
    assert set(Separator.defaults) == set(SeparationSettings.names())
    assert sep.settings(**s) == s  # a run's settings go back in unchanged
    for bad, match in [({"steps": 0}, "steps"), ({"steps": 1.5}, "integer"), ({"high_band": "x"}, "choose one of"),
                       ({"refine_strength": 0}, "refine_strength"), ({"sampler": "plms", "refine": 1}, "plms"),
                       ({"overlap": 99.0}, "overlap")]:
        with pytest.raises(SettingError, match=match):
            sep.settings(**bad)
    with pytest.raises(SettingError, match="RePaint"):
        Generator(bundle).settings(sampler="plms", repaint=1)
    with pytest.raises(SettingError, match="unknown anchor 'vocals'"):  # refused before anything is sampled
        Generator(bundle).settings(anchor="vocals")
    assert Generator(bundle).settings(anchor="vocals", regenerate=0)["regenerate"] == 0  # no pass, no anchor needed
    with pytest.raises(SettingError, match="regenerate"):
        Generator(bundle).settings(regenerate=-1)


def test_defaults_are_read_from_the_class_dict(bundle, monkeypatch):
    monkeypatch.setitem(Separator.defaults, "steps", 7)
    monkeypatch.setitem(Generator.defaults, "spacing", "trailing")
    assert Separator(bundle).settings()["steps"] == 7
    assert Generator(bundle).settings()["spacing"] == "trailing"


def test_step_callback_carries_the_clean_estimate(bundle):
    seen = []
    Separator(bundle).separate(song(16000, None, 1.0), sample_rate=16000, steps=3, last_pass="run",
                               callback=seen.append)
    assert [d["step"] for d in seen] == [1, 2, 3] and seen[0]["steps"] == 3 and seen[0]["windows"] == 1
    skipped = []  # the default skips the pass at t = 1, and says so
    Separator(bundle).separate(song(16000, None, 1.0), sample_rate=16000, steps=3, callback=skipped.append)
    assert [(d["step"], d["steps"]) for d in skipped] == [(1, 2), (2, 2)]
    assert seen[0]["x0"].shape[:2] == (1, 4)
    gen = []
    Generator(bundle).generate_batch([0], duration=0.5, steps=2, callback=gen.append, regenerate=0)
    assert len(gen) == 2 and gen[-1]["x0"].dim() == 5
    gen = []  # the default's rewriting pass reports its steps too, and says which pass it is
    Generator(bundle).generate_batch([0], duration=0.5, steps=2, callback=gen.append)
    assert len(gen) == 4 and [d.get("pass") for d in gen] == [None, None, 2, 2]


def test_geometry_is_the_one_place_of_frame_arithmetic(bundle):
    g = bundle.geometry
    assert g.samples_per_frame == 640 and g.window_samples == bundle.window_samples == 32 * 640
    assert g.latent_frames(0.5) == (32, 13) and g.latent_frames(4.0) == (100, 100)
    assert g.overlap_mel_frames(0.32) == 32 and g.overlap_latent_frames(0.32) == 8


def test_load_checks_mel_settings_and_vae_hash(debug_model, tmp_path):
    broken = tmp_path / "m"
    shutil.copytree(debug_model, broken)
    info = json.loads((broken / "ldm.json").read_text())
    info["config"]["latent"]["vae_hash"] = "0123456789abcdef"
    (broken / "ldm.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="latents of VAE 0123456789abcdef"):
        load_bundle(broken)
    info["config"]["latent"].pop("vae_hash")
    (broken / "ldm.json").write_text(json.dumps(info))
    vae = json.loads((broken / "vae.json").read_text())
    vae["mel"]["hop_length"] = 256
    (broken / "vae.json").write_text(json.dumps(vae))
    with pytest.raises(ValueError, match="mel settings"):
        load_bundle(broken)


def test_very_short_inputs(bundle):
    for rate, n in ((44100, 100), (16000, 1), (8000, 37)):
        x = song(rate, 2, seconds=1.0)[:, :n]
        stems = Separator(bundle).separate(x, sample_rate=rate, steps=1)
        assert stems.shape == (4, 2, n) and torch.isfinite(stems).all()
        torch.testing.assert_close(stems.sum(0), torch.from_numpy(x), atol=1e-6, rtol=0)
