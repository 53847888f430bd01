import numpy as np
import pytest
import torch

from msgld.inference import Arranger, Generator, Separator

SR = 16000


def music(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_window_is_the_models(bundle):
    assert bundle.window_samples == 32 * 4 * 160 and bundle.stems == ["bass", "drums", "guitar", "piano"]


@pytest.mark.parametrize("seconds", [0.3, 1.28, 3.1])
def test_separation_sums_to_input_any_length(bundle, seconds):
    mix = music(seconds)
    stems = Separator(bundle).separate(mix, steps=2, overlap=0.32, sample_rate=SR)
    assert stems.shape == (4, mix.size)
    torch.testing.assert_close(stems.sum(0), torch.from_numpy(mix), atol=1e-4, rtol=0)


def test_separation_of_silence_and_settings(bundle):
    sep = Separator(bundle)
    out = sep.separate(np.zeros(5000, np.float32), steps=1, sample_rate=SR)
    assert torch.all(out.abs() < 1e-6)
    with pytest.raises(ValueError, match="choose one of"):
        sep.separate(music(1), sampler="nope", sample_rate=SR)
    with pytest.raises(ValueError, match="allowed"):
        sep.separate(music(1), colour="blue", sample_rate=SR)
    with pytest.raises(ValueError, match="overlap"):
        sep.separate(music(1), overlap=5.0, sample_rate=SR)


def test_separation_deterministic_and_batched_progress(bundle):
    sep = Separator(bundle)
    seen = []
    a = sep.separate(music(3.0), steps=2, seed=4, batch_size=2, progress=lambda i, n: seen.append((i, n)),
                     sample_rate=SR)
    b = sep.separate(music(3.0), steps=2, seed=4, batch_size=2, sample_rate=SR)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert seen[-1][0] == seen[-1][1] == 3  # 3.0 s in 1.28 s windows with 2.56 s... overlap 0.32 s -> 3 windows


def test_separation_ensemble_averages_samples(bundle):
    sep = Separator(bundle)
    one = sep.separate(music(1.0), steps=2, seed=1, sample_rate=SR)
    two = sep.separate(music(1.0), steps=2, seed=1, ensemble=2, sample_rate=SR)
    assert not torch.allclose(one, two)
    torch.testing.assert_close(two.sum(0), torch.from_numpy(music(1.0)), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="ensemble"):
        sep.separate(music(1.0), ensemble=0, sample_rate=SR)


@pytest.mark.parametrize("method", ["dirac", "gaussian"])
def test_msdm_baselines_run(bundle, method):
    out = Separator(bundle).separate(music(1.0), steps=2, method=method, sample_rate=SR)
    assert out.shape == (4, SR) and torch.isfinite(out).all()


def test_vocoder_reconstruction(bundle):
    out = Separator(bundle).separate(music(1.0), steps=1, reconstruct="vocoder", sample_rate=SR)
    assert out.shape == (4, SR) and torch.isfinite(out).all()


def test_generation_any_duration_by_continuation(bundle):
    gen = Generator(bundle)
    short = gen.generate(duration=0.5, steps=2, seed=1)
    assert short.shape == (4, 8000)
    long = gen.generate(duration=4.0, steps=2, seed=1, overlap=0.64)
    assert long.shape == (4, 64000) and torch.isfinite(long).all()


def test_arrangement_keeps_given_stems(bundle):
    drums, bass = music(2.0, 1), music(2.0, 2)
    out = Arranger(bundle).arrange({"drums": drums, "bass": bass}, generate=["piano"], steps=2, repaint=1,
                                   sample_rate=SR)
    assert out.shape == (4, drums.size)
    torch.testing.assert_close(out[1], torch.from_numpy(drums))
    torch.testing.assert_close(out[0], torch.from_numpy(bass))
    assert out[3].abs().max() > 0 and torch.all(out[2] == 0)
    with pytest.raises(ValueError, match="unknown stems"):
        Arranger(bundle).arrange({"vocals": drums}, sample_rate=SR)
    with pytest.raises(ValueError, match="cannot generate"):
        Arranger(bundle).arrange({"drums": drums}, generate=["drums"], sample_rate=SR)


def test_generation_batch_reproduces_single_seeds(bundle):
    gen = Generator(bundle)
    batch = gen.generate_batch([3, 9], duration=3.0, steps=2, sampler="ddim", eta=1.0, overlap=0.32)
    assert batch.shape == (2, 4, 48000)
    for piece, seed in zip(batch, [3, 9]):
        alone = gen.generate(duration=3.0, seed=seed, steps=2, sampler="ddim", eta=1.0, overlap=0.32)
        torch.testing.assert_close(piece, alone, atol=1e-4, rtol=1e-3)
    assert not torch.allclose(batch[0], batch[1])


def test_arrangement_batch_keeps_given_and_matches_single(bundle):
    arr = Arranger(bundle)
    givens = [{"drums": music(1.5, 1), "bass": music(1.5, 2)}, {"drums": music(1.0, 3), "bass": music(1.2, 4)}]
    out = arr.arrange_batch(givens, seeds=[5, 6], steps=2, sample_rate=SR)
    assert out.shape == (2, 4, 24000)
    torch.testing.assert_close(out[1, 1, :16000], torch.from_numpy(givens[1]["drums"]))
    assert torch.all(out[1, 1, 16000:] == 0)  # shorter given stems are zero-padded
    torch.testing.assert_close(out[0], arr.arrange(givens[0], seed=5, steps=2, sample_rate=SR), atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="same stems"):
        arr.arrange_batch([{"drums": music(1.0)}, {"bass": music(1.0)}], sample_rate=SR)


def test_long_input_streams_window_batches(bundle, monkeypatch):
    """A long input goes through the network one batch of windows at a time (flat memory)."""
    sep = Separator(bundle)
    seen = []
    original = sep.separate_windows

    def spy(chunks, *args):
        seen.append(tuple(chunks.shape))
        return original(chunks, *args)

    monkeypatch.setattr(sep, "separate_windows", spy)
    mix = music(12.0)
    out = sep.separate(mix, steps=1, batch_size=2, sample_rate=SR)
    assert out.shape == (4, mix.size)
    assert len(seen) >= 5 and all(n <= 2 and w == bundle.window_samples for n, w in seen)


def test_an_ldm_with_the_given_pathway_arranges_with_it_and_separates_as_before(bundle):
    """The given-stems pathway (issue 16) changes arrangement (`given_adapter="none"` turns it off)
    and nothing else: separation and one-window generation are the plain network's."""
    import dataclasses

    from msgld.models.unet3d import MultiTrackUNet
    from tests.helpers import randomise

    grown = MultiTrackUNet({**bundle.ldm.config, "given_adapter": True})
    grown.load_state_dict(bundle.ldm.state_dict(), strict=False)
    for m in grown.modules():  # a trained-looking pathway
        if hasattr(m, "given") or m is grown.given_adapter:
            randomise(m.given if hasattr(m, "given") else m)
    grown.diffusion_config, grown.latent_info = bundle.ldm.diffusion_config, bundle.ldm.latent_info
    grown.text_info = getattr(bundle.ldm, "text_info", {})
    other = dataclasses.replace(bundle, ldm=grown.eval())
    given = {"drums": music(1.5, 1), "bass": music(1.5, 2)}
    plain = Arranger(bundle).arrange(given, steps=2, sample_rate=SR)
    torch.testing.assert_close(Arranger(other).arrange(given, steps=2, sample_rate=SR, given_adapter="none"), plain)
    assert (Arranger(other).arrange(given, steps=2, sample_rate=SR) - plain).abs().max() > 1e-4
    mix = music(1.5, 3)
    torch.testing.assert_close(Separator(other).separate(mix, steps=2, sample_rate=SR),
                               Separator(bundle).separate(mix, steps=2, sample_rate=SR))
    one_pass = {"seed": 1, "steps": 2, "regenerate": 0}  # the joint draw of one window: no stem is given
    torch.testing.assert_close(Generator(other).generate(1.0, **one_pass), Generator(bundle).generate(1.0, **one_pass))
    # the default's rewriting pass arranges, so there the pathway listens
    assert (Generator(other).generate(1.0, seed=1, steps=2) - Generator(bundle).generate(1.0, seed=1, steps=2)).abs().max() > 1e-4


def test_mel_matching_brings_the_vocoders_output_to_its_mel(bundle):
    from msgld.inference.codec import vocode
    from msgld.inference.settings import SettingError

    mels = bundle.front(torch.from_numpy(music(1.0)))
    raw, matched = vocode(bundle, mels, mel_match=0), vocode(bundle, mels, mel_match=2)
    assert raw.shape == matched.shape == (16000,)
    assert (bundle.front(matched) - mels).abs().mean() < 0.5 * (bundle.front(raw) - mels).abs().mean()
    gen = Generator(bundle)
    plain, matched = gen.generate(duration=1.0, steps=2, seed=0), gen.generate(duration=1.0, steps=2, seed=0, mel_match=2)
    assert gen.resolve().mel_match == Generator.defaults["mel_match"] and not torch.equal(plain, matched)
    with pytest.raises(SettingError, match="mel_match must be at least 0"):
        gen.generate(duration=1.0, steps=2, mel_match=-1)
