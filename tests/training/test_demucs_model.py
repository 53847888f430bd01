"""HT-Demucs from the `demucs` package as msgld builds it: configs, shapes, weights, augmentations."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from msgld.config import load_config
from msgld.models.htdemucs import build_htdemucs, segment_samples, separate_waves
from msgld.training.demucs_module import build_augment, nsdr, resolved_model_config
from msgld.weights import WeightsError, load_model, read_info, save_model

STEMS = ["bass", "drums", "guitar", "piano"]
SMALL = {"sources": STEMS, "audio_channels": 1, "samplerate": 16000, "segment": 0.5, "channels": 8,
         "t_layers": 1, "t_heads": 2}


def test_demucs_imports_without_torchaudio():
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torchaudio': raise ImportError('torchaudio is blocked')\n"
            "sys.meta_path.insert(0, Block())\n"
            "import demucs.augment, msgld.models.htdemucs, msgld.eval.methods.demucs\n"
            "assert 'torchaudio' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tiny_config_maps_mono_mixture_to_four_stems():
    config = resolved_model_config(load_config("demucs", "tiny"))
    assert config["sources"] == STEMS and config["samplerate"] == 16000 and config["audio_channels"] == 1
    torch.manual_seed(0)
    model = build_htdemucs(config)
    length = segment_samples(config)
    assert 2.5 * 16000 <= length <= 4 * 16000
    model.train()
    mix = 0.1 * torch.randn(2, 1, length)
    out = model(mix)
    assert out.shape == (2, 4, 1, length) and torch.isfinite(out).all()
    model.eval()
    with torch.no_grad():
        short = model(mix[..., :12345])  # shorter than the segment: padded inside, trimmed back
    assert short.shape == (2, 4, 1, 12345)


def test_paper_config_is_the_standard_size():
    paper = resolved_model_config(load_config("demucs", "paper"))
    assert (paper["channels"], paper["depth"], paper["t_layers"], paper["t_heads"]) == (48, 4, 5, 8)
    assert paper["samplerate"] == 16000 and paper["audio_channels"] == 1
    assert load_config("demucs", "paper")["augment"]["enabled"] is True


def test_stems_follow_the_data_section():
    config = load_config("demucs", "tiny", {"data": {"stems": ["bass", "drums", "other", "vocals"]}})
    assert resolved_model_config(config)["sources"] == ["bass", "drums", "other", "vocals"]


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="unknown HT-Demucs config keys"):
        build_htdemucs({**SMALL, "chanels": 8})
    with pytest.raises(ValueError, match="16000"):
        build_htdemucs({**SMALL, "samplerate": 44100})


def test_weights_round_trip_is_exact(tmp_path):
    torch.manual_seed(1)
    model = build_htdemucs(SMALL)
    save_model(model, tmp_path / "demucs", "demucs", SMALL)
    assert read_info(tmp_path / "demucs")["config"] == SMALL
    again = load_model(tmp_path / "demucs", kind="demucs")
    mix = 0.1 * torch.randn(1, 1, 8000)
    with torch.no_grad():
        assert torch.equal(model.eval()(mix), again(mix))
    with pytest.raises(WeightsError, match="not a 'vae'"):
        load_model(tmp_path / "demucs", kind="vae")


def test_separate_waves_chunks_long_clips():
    torch.manual_seed(2)
    model = build_htdemucs(SMALL).eval()
    mix = 0.1 * torch.randn(2, 20000)  # 2.5 segments: overlap-add over 0.5 s chunks
    out = separate_waves(model, mix)
    assert out.shape == (2, 4, 20000) and torch.isfinite(out).all()
    assert torch.equal(out, separate_waves(model, mix))  # no shifts: deterministic
    shifted = separate_waves(model, mix, shifts=2, seed=3)
    assert torch.equal(shifted, separate_waves(model, mix, shifts=2, seed=3))


def test_augment_chain_is_demucs_standard():
    assert build_augment({"enabled": False}) == (None, 0)
    chain, extra = build_augment(load_config("demucs", "paper")["augment"])
    assert extra == 16000
    names = [type(m).__name__ for m in chain]
    assert names == ["Shift", "FlipSign", "Scale", "GroupRemix"]
    torch.manual_seed(0)
    wav = torch.rand(6, 4, 1, 16000 + 800) + 0.5  # 6 items: not a multiple of the group size 4
    out = chain.train()(wav.clone())
    assert out.shape == (6, 4, 1, 800)
    magnitude = out.abs()
    assert (magnitude >= 0.5 * 0.25 - 1e-6).all() and (magnitude <= 1.5 * 1.25 + 1e-6).all()
    assert (out < 0).any() and (out > 0).any()  # signs flipped per stem


def test_nsdr():
    ref = torch.randn(2, 4, 1, 100)
    assert nsdr(torch.zeros_like(ref), ref).item() == pytest.approx(0.0, abs=1e-4)
    assert nsdr(ref * 0.9, ref).item() == pytest.approx(20.0, abs=1e-3)
