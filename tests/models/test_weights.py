"""The weights format: safetensors + JSON, bit-exact round trips, errors that name the file."""

import json

import pytest
import torch
from torch import nn

from msgld.audio.mel import MelConfig
from msgld.config import load_config
from msgld.models.vae import build_vae
from msgld.models.vocoder import build_vocoder
from msgld.weights import WeightsError, load_model, read_info, register_kind, save_model


def test_vae_round_trip_bit_exact(tmp_path):
    torch.manual_seed(0)
    cfg = load_config("vae", "tiny")["model"]
    vae = build_vae(cfg).eval()
    vae.scale_factor = 0.8125
    tensors, meta = save_model(vae, tmp_path / "vae", "vae", cfg, training={"steps": 3})
    assert tensors.name == "vae.safetensors" and meta.name == "vae.json"
    info = json.loads(meta.read_text())
    assert info["kind"] == "vae" and info["scale_factor"] == 0.8125
    assert info["mel"] == MelConfig().to_dict() and info["training"] == {"steps": 3}
    loaded = load_model(tmp_path / "vae.json")
    assert loaded.scale_factor == 0.8125 and loaded.weights_info["kind"] == "vae"
    x = torch.randn(2, 1, 32, 64) - 5
    with torch.no_grad():
        assert torch.equal(vae.to_latent(x), loaded.to_latent(x))
        assert torch.equal(vae(x, sample=False)[0], loaded(x, sample=False)[0])
    assert not list(tmp_path.glob("*.part*"))  # atomic writes leave no temporaries


def test_vocoder_round_trip_bit_exact(tmp_path):
    torch.manual_seed(0)
    cfg = load_config("vocoder", "tiny")["model"]
    gen = build_vocoder(cfg).eval()
    save_model(gen, tmp_path / "voc", "vocoder", cfg)
    loaded = load_model(tmp_path / "voc.safetensors", kind="vocoder")
    mel = torch.randn(1, 10, 64) - 5
    with torch.no_grad():
        assert torch.equal(gen(mel), loaded(mel))


def test_fp16_storage_loads_into_fp32(tmp_path):
    cfg = load_config("vocoder", "tiny")["model"]
    gen = build_vocoder(cfg)
    save_model(gen, tmp_path / "voc", "vocoder", cfg, dtype=torch.float16)
    assert read_info(tmp_path / "voc")["dtype"] == "float16"
    loaded = load_model(tmp_path / "voc")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())


def test_errors_name_the_problem(tmp_path):
    cfg = load_config("vocoder", "tiny")["model"]
    save_model(build_vocoder(cfg), tmp_path / "voc", "vocoder", cfg)
    with pytest.raises(WeightsError, match="not a 'vae' model"):
        load_model(tmp_path / "voc", kind="vae")
    info = json.loads((tmp_path / "voc.json").read_text())
    info["config"]["upsample_initial_channel"] = 64
    (tmp_path / "voc.json").write_text(json.dumps(info))
    with pytest.raises(Exception, match="voc.safetensors"):
        load_model(tmp_path / "voc")
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "missing")
    info["kind"] = "nope"
    (tmp_path / "voc.json").write_text(json.dumps(info))
    with pytest.raises(WeightsError, match="unknown model kind"):
        load_model(tmp_path / "voc")


def test_registered_kind(tmp_path):
    register_kind("test-linear", lambda cfg: nn.Linear(cfg["n"], cfg["n"]))
    torch.manual_seed(0)
    model = nn.Linear(3, 3)
    save_model(model, tmp_path / "lin", "test-linear", {"n": 3})
    assert torch.equal(load_model(tmp_path / "lin").weight, model.weight)
