"""The KL autoencoder: shapes, posterior, scale factor, a few training steps, the paper size."""

import pytest
import torch

from msgld.config import load_config
from msgld.models.vae import build_vae


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_vae(load_config("vae", "tiny")["model"])


def test_shapes_and_posterior(tiny):
    x = torch.randn(3, 1, 64, 64) - 5
    posterior = tiny.encode(x)
    assert posterior.mean.shape == (3, 8, 16, 16)  # r = 4, C = 8
    assert posterior.kl().shape == (3,)
    assert torch.equal(posterior.mode(), posterior.mean)
    a = posterior.sample(torch.Generator().manual_seed(1))
    b = posterior.sample(torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, posterior.mean)
    assert tiny.decode(a).shape == x.shape
    rec, _ = tiny(x, sample=False)
    assert rec.shape == x.shape


def test_rejects_sizes_not_divisible_by_r(tiny):
    with pytest.raises(ValueError, match="divisible"):
        tiny.encode(torch.zeros(1, 1, 30, 64))


def test_round_trip_any_length_and_scale_factor(tiny):
    mel = torch.randn(2, 4, 102, 64) - 5  # 16384 samples -> 102 frames, stems folded by round_trip
    assert tiny.round_trip(mel).shape == mel.shape
    tiny.scale_factor = 0.5
    x = torch.randn(1, 1, 32, 64)
    z = tiny.to_latent(x)
    assert torch.allclose(z, 0.5 * tiny.encode(x).mode())
    assert torch.allclose(tiny.from_latent(z), tiny.decode(z / 0.5))
    assert tiny.weights_metadata() == {"scale_factor": 0.5}
    tiny.scale_factor = 1.0


def test_tiny_trains_loss_goes_down():
    torch.manual_seed(0)
    vae = build_vae(load_config("vae", "tiny")["model"])
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    t = torch.linspace(0, 1, 16)[:, None]
    x = (-8 + 6 * torch.sin(6.28 * (t * 3 + torch.linspace(0, 1, 64)[None]))).expand(2, 1, 16, 64).clone()
    losses = []
    for _ in range(10):
        rec, posterior = vae(x, generator=torch.Generator().manual_seed(0))
        loss = (rec - x).abs().mean() + 1e-6 * posterior.kl().mean() / x[0].numel()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_paper_config_builds_and_runs():
    cfg = load_config("vae", "paper")["model"]
    vae = build_vae(cfg)
    params = sum(p.numel() for p in vae.parameters())
    assert 50e6 < params < 60e6  # 55.4 M
    with torch.no_grad():
        posterior = vae.encode(torch.randn(1, 1, 16, 64))
    assert posterior.mean.shape == (1, 8, 4, 16)


def test_unknown_keys_rejected():
    with pytest.raises(ValueError, match="unknown VAE config"):
        build_vae({"chanels": 8})
