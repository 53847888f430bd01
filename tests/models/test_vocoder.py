"""HiFi-GAN generator and discriminators: shapes, losses, a few training steps, the paper size."""

import pytest
import torch
import torch.nn.functional as F

from msgld.audio.mel import log_mel
from msgld.config import load_config
from msgld.models.discriminators import build_discriminator
from msgld.models.vocoder import build_vocoder
from msgld.training.gan_losses import discriminator_loss, feature_matching_loss, generator_loss


def test_generator_shapes():
    torch.manual_seed(0)
    gen = build_vocoder(load_config("vocoder", "tiny")["model"])
    mel = torch.randn(2, 3, 20, 64) - 5
    wave = gen(mel)
    assert wave.shape == (2, 3, 20 * 160)
    assert wave.abs().max() <= 1.0


def test_hop_must_match_upsampling():
    with pytest.raises(ValueError, match="multiply"):
        build_vocoder({"upsample_rates": [5, 4, 2, 2], "upsample_kernel_sizes": [10, 8, 4, 4]})


def test_discriminators_and_losses():
    torch.manual_seed(0)
    disc = build_discriminator(load_config("vocoder", "tiny")["discriminator"])
    real, fake = torch.randn(2, 1, 3200), torch.randn(2, 1, 3200)
    real_s, fake_s, real_f, fake_f = disc(real, fake)
    assert len(real_s) == len(fake_s) == 5 + 3  # periods + scales
    assert all(len(a) == len(b) for a, b in zip(real_f, fake_f))
    assert discriminator_loss([torch.ones(3)], [torch.zeros(3)]).item() == 0.0
    assert generator_loss([torch.ones(3)]).item() == 0.0
    assert feature_matching_loss(real_f, real_f).item() == 0.0
    assert discriminator_loss(real_s, fake_s).item() > 0


def test_tiny_trains_mel_loss_goes_down():
    torch.manual_seed(0)
    gen = build_vocoder(load_config("vocoder", "tiny")["model"])
    opt = torch.optim.AdamW(gen.parameters(), lr=1e-3, betas=(0.8, 0.99))
    t = torch.arange(1600) / 16000
    wave = (0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.1 * torch.sin(2 * torch.pi * 1300 * t))[None]
    mel = log_mel(wave)
    losses = []
    for _ in range(8):
        loss = F.l1_loss(log_mel(gen(mel)), mel)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_paper_config_builds():
    cfg = load_config("vocoder", "paper")
    gen = build_vocoder(cfg["model"])
    assert 50e6 < sum(p.numel() for p in gen.parameters()) < 60e6  # 55.3 M, HiFi-GAN V1 at 16 kHz / hop 160
    with torch.no_grad():
        assert gen(torch.randn(1, 2, 64)).shape == (1, 320)
    assert sum(p.numel() for p in build_discriminator(cfg["discriminator"]).parameters()) > 50e6
