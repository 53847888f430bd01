import pytest
import torch

from msgld.cli import main
from msgld.inference.bundle import load_bundle
from msgld.inference.debug_model import make_debug_model
from msgld.models.vae import build_vae
from msgld.weights import save_model


def test_pack_half_and_scale_check(tmp_path):
    src = make_debug_model(tmp_path / "src")
    out = tmp_path / "packed"
    assert main(["model", "pack", "--vae", str(src / "vae"), "--ldm", str(src / "ldm"), "--vocoder",
                 str(src / "vocoder"), "--half", "ldm", "vocoder", "--out", str(out)]) == 0
    assert (out / "ldm.safetensors").stat().st_size < 0.6 * (src / "ldm.safetensors").stat().st_size
    a, b = load_bundle(src), load_bundle(out)
    x, t, c = torch.randn(1, 4, 8, 16, 16), torch.tensor([10]), torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(a.ldm(x, t, c), b.ldm(x, t, c), atol=5e-3, rtol=0)
    other = build_vae({"channels": 8, "channel_mult": [1, 2, 4], "num_res_blocks": 1, "norm_groups": 4,
                       "mid_attention": False})
    other.scale_factor = 3.0
    save_model(other, tmp_path / "other_vae", "vae", other.config)
    with pytest.raises(ValueError, match="scaled by"):
        from msgld.models.pack import pack_model

        pack_model(tmp_path / "bad", tmp_path / "other_vae", src / "ldm")
