"""The Vocos vocoder (iSTFT head) beside HiFi-GAN: shapes, frame alignment, training steps,
weights and packing round trips, and the shipped HiFi-GAN weights unchanged."""

import pytest
import torch
import torch.nn.functional as F

from msgld.audio.mel import log_mel
from msgld.config import load_config
from msgld.models.discriminators import build_discriminator
from msgld.models.vocoder import HiFiGAN, build_vocoder
from msgld.models.vocos import Vocos
from msgld.training.gan_losses import discriminator_loss, feature_matching_loss, generator_loss
from msgld.weights import load_model, read_info, save_model

SMALL = {"arch": "vocos", "dim": 32, "intermediate_dim": 64, "num_layers": 2}


def tone(seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * 16000)) / 16000
    return (0.3 * torch.sin(2 * torch.pi * 110 * t) + 0.2 * torch.sin(2 * torch.pi * 440 * t)
            + 0.05 * torch.sin(2 * torch.pi * 2500 * t))


def test_config_selects_the_architecture():
    assert isinstance(build_vocoder(load_config("vocoder", "vocos-tiny")["model"]), Vocos)
    assert isinstance(build_vocoder(load_config("vocoder", "tiny")["model"]), HiFiGAN)  # no `arch`: HiFi-GAN
    assert isinstance(build_vocoder({"arch": "hifigan", "upsample_initial_channel": 32}), HiFiGAN)
    with pytest.raises(ValueError, match="unknown vocoder arch"):
        build_vocoder({"arch": "wavenet"})
    with pytest.raises(ValueError, match="unknown vocos config keys"):
        build_vocoder({"arch": "vocos", "upsample_rates": [5, 4, 2, 2, 2]})
    with pytest.raises(ValueError, match="shorter than the hop"):
        build_vocoder({"arch": "vocos", "n_fft": 128})


@pytest.mark.parametrize("frames", [1, 7, 50])
def test_shapes_and_istft_length(frames):
    torch.manual_seed(0)
    gen = build_vocoder(load_config("vocoder", "vocos-tiny")["model"]).eval()
    mel = torch.randn(2, 3, frames, 64) - 5
    with torch.no_grad():
        wave = gen(mel)
        spec = gen.spectrum(mel[0])
    assert wave.shape == (2, 3, frames * 160)  # mel frames x hop
    assert wave.dtype == torch.float32 and torch.isfinite(wave).all()
    assert spec.shape == (3, 640 // 2 + 1, frames) and spec.is_complex()


def test_istft_frames_sit_where_the_mel_frames_do():
    """Given the true STFT (frame t centred at sample t * hop, as THE front-end's), the head's
    inverse gives the waveform back: the head's frames line up with the mel frames."""
    gen = build_vocoder(SMALL).eval()
    wave = tone(0.3)[None]
    frames = wave.shape[-1] // 160
    stft = torch.stft(wave, 640, 160, 640, torch.hann_window(640), center=True, return_complex=True)
    gen.spectrum = lambda mel: stft[..., :frames]
    out = gen(torch.zeros(1, frames, 64))
    torch.testing.assert_close(out, wave, atol=1e-5, rtol=0)


def test_bf16_autocast_runs():
    gen = build_vocoder(SMALL).eval()
    mel = log_mel(tone())[None]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        wave = gen(mel)
    assert wave.shape == (1, 8000) and wave.dtype == torch.float32 and torch.isfinite(wave).all()


def test_paper_config_builds():
    gen = build_vocoder(load_config("vocoder", "vocos-paper")["model"])
    assert 12e6 < sum(p.numel() for p in gen.parameters()) < 14e6  # 13.2 M
    with torch.no_grad():
        assert gen(torch.randn(1, 2, 64)).shape == (1, 320)


def test_multi_resolution_discriminator():
    torch.manual_seed(0)
    disc = build_discriminator(load_config("vocoder", "vocos-tiny")["discriminator"])
    assert len(disc.msd) == 0 and len(disc.mrd) == 3
    real, fake = torch.randn(2, 1, 3200), torch.randn(2, 1, 3200)
    real_s, fake_s, real_f, fake_f = disc(real, fake)
    assert len(real_s) == len(fake_s) == 5 + 3  # periods + resolutions
    assert all(len(a) == len(b) == 6 for a, b in zip(real_f[5:], fake_f[5:]))
    assert discriminator_loss(real_s, fake_s).item() > 0 and feature_matching_loss(real_f, fake_f).item() > 0
    # HiFi-GAN's discriminator is unchanged (no MRD, so old training checkpoints still load)
    hifi = build_discriminator(load_config("vocoder", "tiny")["discriminator"])
    assert len(hifi.mrd) == 0 and not any(k.startswith("mrd") for k in hifi.state_dict())


def test_a_few_steps_reduce_the_loss():
    """Mel-L1 steps, then mel + LSGAN + feature matching against MPD + MRD, on one fixed clip."""
    torch.manual_seed(0)
    gen = build_vocoder(SMALL)
    disc = build_discriminator({"periods": [2, 3], "mpd_width": 0.03, "msd_scales": 0,
                                "mrd_resolutions": [[256, 64, 256], [512, 128, 512]], "mrd_width": 0.125})
    opt_g = torch.optim.AdamW(gen.parameters(), lr=5e-3, betas=(0.8, 0.9))
    opt_d = torch.optim.AdamW(disc.parameters(), lr=5e-4, betas=(0.8, 0.9))
    wave = tone()[None]
    mel = log_mel(wave)
    y = wave[:, None]
    losses = []
    for step in range(12):
        fake = gen(mel)[:, None]
        mel_loss = F.l1_loss(log_mel(fake[:, 0]), mel)
        g_loss = 45 * mel_loss
        if step >= 6:
            real_s, fake_s, _, _ = disc(y, fake.detach())
            opt_d.zero_grad()
            discriminator_loss(real_s, fake_s).backward()
            opt_d.step()
            _, fake_s, real_f, fake_f = disc(y, fake)
            g_loss = g_loss + generator_loss(fake_s) + 2 * feature_matching_loss(real_f, fake_f)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        losses.append(mel_loss.item())
    assert losses[5] < 0.8 * losses[0]  # mel-only steps (2.58 -> 1.97 when written)
    assert losses[-1] < min(losses[5], 0.7 * losses[0])  # and on with the adversarial terms (-> 1.66)


def test_weights_round_trip_bit_exact(tmp_path):
    torch.manual_seed(0)
    cfg = load_config("vocoder", "vocos-tiny")["model"]
    gen = build_vocoder(cfg).eval()
    save_model(gen, tmp_path / "voc", "vocoder", cfg)
    assert read_info(tmp_path / "voc")["config"]["arch"] == "vocos"  # the config travels with the weights
    loaded = load_model(tmp_path / "voc", kind="vocoder")
    assert isinstance(loaded, Vocos)
    mel = torch.randn(1, 30, 64) - 5
    with torch.no_grad():
        assert torch.equal(gen(mel), loaded(mel))


def test_pack_and_bundle_vocode_the_same_audio(tmp_path):
    from msgld.cli import main
    from msgld.inference.bundle import load_bundle
    from msgld.inference.codec import vocode
    from msgld.inference.debug_model import make_debug_model

    src = make_debug_model(tmp_path / "src")
    torch.manual_seed(1)
    gen = build_vocoder(SMALL).eval()
    save_model(gen, tmp_path / "vocos", "vocoder", gen.config)
    out = tmp_path / "packed"
    assert main(["model", "pack", "--vae", str(src / "vae"), "--ldm", str(src / "ldm"),
                 "--vocoder", str(tmp_path / "vocos"), "--out", str(out)]) == 0
    bundle = load_bundle(out)
    assert isinstance(bundle.vocoder, Vocos) and bundle.vocoder.config == gen.config
    mels = log_mel(torch.stack([tone(), 0.5 * tone()]))[None]  # [1, 2, 50, 64]
    with torch.no_grad():
        expected = gen(mels)
    assert torch.equal(vocode(bundle, mels), expected)


# The shipped vocoder's output on tone() before the Vocos architecture was added.
SHIPPED_ABS_SUM, SHIPPED_SQ_SUM = 23.65406608581543, 0.6384636163711548
SHIPPED_SAMPLES = [0.0002291, 0.0002512, 1.92e-05, -7.97e-05, -9.68e-05, -0.0001434, -0.0002022, -0.0005277,
                   -0.0006105, -0.0009802]  # samples 1000-1009


def test_shipped_hifigan_loads_and_sounds_unchanged():
    from msgld.inference.bundle import load_bundle

    bundle = load_bundle("msgld-tiny")
    voc = bundle.vocoder
    assert isinstance(voc, HiFiGAN) and "arch" not in voc.weights_info["config"]
    with torch.no_grad():
        out = voc(log_mel(tone())[None])
    assert out.shape == (1, 8000)
    assert out.abs().sum().item() == pytest.approx(SHIPPED_ABS_SUM, rel=1e-4)
    assert out.pow(2).sum().item() == pytest.approx(SHIPPED_SQ_SUM, rel=1e-4)
    torch.testing.assert_close(out[0, 1000:1010], torch.tensor(SHIPPED_SAMPLES), atol=2e-7, rtol=1e-3)
