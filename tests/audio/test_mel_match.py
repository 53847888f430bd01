import pytest
import torch

from msgld.audio.mel import MelFrontEnd
from msgld.audio.mel_match import band_to_bin_weights, match_mel, vocode_matched


def noise(seconds: float = 1.0, seed: int = 0, lead: tuple[int, ...] = ()) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(*lead, int(16000 * seconds), generator=g)


def lowpassed(wave: torch.Tensor, front: MelFrontEnd, gain_low: float, gain_high: float) -> torch.Tensor:
    """`wave` with its bins below 500 Hz scaled by gain_low and the rest by gain_high (a
    'vocoder' that renders the bass too quiet)."""
    spec = front.stft(wave)
    freqs = torch.linspace(0, 8000, spec.shape[-2])[:, None]
    return front.istft(spec * torch.where(freqs < 500, gain_low, gain_high), wave.shape[-1])


def test_zero_passes_is_the_wave_as_is():
    front = MelFrontEnd()
    wave = noise()
    assert match_mel(wave, front(wave), 0, front) is wave
    with pytest.raises(ValueError, match=">= 0"):
        match_mel(wave, front(wave), -1, front)


def test_a_pass_restores_the_level_of_each_band():
    front = MelFrontEnd()
    real = noise(lead=(2, 3))
    target = front(real)
    rendered = lowpassed(real, front, 0.1, 0.5)  # -20 dB below 500 Hz, -6 dB above
    err_before = (front(rendered) - target).abs().mean()
    one = match_mel(rendered, target, 1, front)
    two = match_mel(rendered, target, 2, front)
    assert one.shape == real.shape and one.dtype == real.dtype
    err_one, err_two = (front(one) - target).abs().mean(), (front(two) - target).abs().mean()
    assert err_one < 0.1 * err_before and err_two <= err_one  # measured 0.94 -> 0.008 -> 0.004
    level = 20 * torch.log10(one.pow(2).mean(-1).sqrt() / real.pow(2).mean(-1).sqrt())
    assert level.abs().max() < 0.5  # measured 0.01 dB; 6.3 dB before
    assert torch.equal(one, match_mel(rendered, target, 1, front))  # deterministic


def test_silence_asked_for_quietens_what_was_rendered():
    front = MelFrontEnd()
    rendered = noise()
    silent = torch.full_like(front(rendered), torch.log(torch.tensor(front.cfg.log_floor)).item())
    out = match_mel(rendered, silent, 1, front)
    assert out.pow(2).mean().sqrt() < 0.1 * rendered.pow(2).mean().sqrt()  # measured 0.034 (-29 dB)


def test_gain_is_capped_and_short_waves_are_refused():
    front = MelFrontEnd()
    quiet = 1e-3 * noise()
    loud = front(noise())
    out = match_mel(quiet, loud, 1, front, max_gain_db=20.0)
    ratio = out.pow(2).mean().sqrt() / quiet.pow(2).mean().sqrt()
    assert 5 < ratio <= 10.5  # measured 9.98: at most +20 dB, though 60 were asked
    with pytest.raises(ValueError, match="samples"):
        match_mel(quiet[:8000], loud, 1, front)


def test_every_bin_up_to_nyquist_is_covered_once():
    weights = band_to_bin_weights(MelFrontEnd())
    covered = weights.sum(0)
    assert torch.allclose(covered[covered > 0], torch.ones(int((covered > 0).sum())))
    assert (covered > 0).float().mean() > 0.99


def test_vocode_matched_brings_a_quiet_vocoder_to_the_mel():
    front = MelFrontEnd()
    real = noise()
    target = front(real)

    def quiet_vocoder(mel):  # renders the right audio 10 dB too quiet, with a little extra tail
        return torch.nn.functional.pad(0.3 * real, (0, 160))

    out = vocode_matched(quiet_vocoder, target, 1, front)
    assert out.shape == real.shape
    assert (front(out) - target).abs().mean() < 0.1 * (front(0.3 * real) - target).abs().mean()
