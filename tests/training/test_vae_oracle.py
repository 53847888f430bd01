"""`vae-oracle` in the separation registry, on tiny untrained weights in a model folder."""

import torch

from msgld.config import load_config
from msgld.eval.methods import MethodContext, available, get_entry
from msgld.models.vae import build_vae
from msgld.models.vocoder import build_vocoder
from msgld.weights import save_model


def test_vae_oracle_registered_and_runs(tmp_path):
    assert "vae-oracle" in available("separation")
    entry = get_entry("separation", "vae-oracle")
    assert entry.oracle
    torch.manual_seed(0)
    vcfg = {**load_config("vae", "tiny")["model"], "channels": 8, "norm_groups": 4}
    save_model(build_vae(vcfg), tmp_path / "vae", "vae", vcfg)
    gcfg = {**load_config("vocoder", "tiny")["model"], "upsample_initial_channel": 32}
    save_model(build_vocoder(gcfg), tmp_path / "vocoder", "vocoder", gcfg)
    stems = torch.randn(1, 4, 3200) * 0.1
    mixture = stems.sum(1)
    for mode, sums_to_mixture in (("mask", True), ("vocoder", False), ("griffinlim", False)):
        ctx = MethodContext(stems=["bass", "drums", "guitar", "piano"], model=str(tmp_path),
                            options={"reconstruct": mode})
        out = entry.factory(ctx)(mixture, stems)
        assert out.shape == stems.shape
        if sums_to_mixture:
            assert torch.allclose(out.sum(1), mixture, atol=1e-4)


def test_vae_oracle_default_is_the_shipped_model():
    import pytest

    from msgld.eval.methods.vae_oracle import default_model_folder

    if not (default_model_folder() / "vae.json").exists():
        pytest.skip("no shipped msgld-tiny VAE in this checkout")
    separate = get_entry("separation", "vae-oracle").factory(MethodContext(stems=["bass", "drums", "guitar", "piano"]))
    assert separate.settings["vae"].endswith("msgld-tiny/vae.safetensors")
    stems = torch.randn(1, 4, 3200) * 0.1
    assert separate(stems.sum(1), stems).shape == stems.shape
