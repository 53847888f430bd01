"""Mel matching: correct a rendered waveform so that its log-mel is the one it was rendered from.

The vocoder is asked for audio whose log-mel (THE front-end's) is a given one, and the shipped
tiny HiFi-GAN misses it by a level that depends on the band and the stem: rendered from their
true mels, real bass stems come back about 10 dB too quiet (up to 20 dB in the lowest bands),
guitar and piano 6-9 dB, drums 3 dB (`benchmarks/bench_mel_match.py`). A pass here keeps the
vocoder's phase and fine structure and puts the level right:

1. the rendered wave's STFT (THE front-end's), and the mel of its magnitude;
2. a gain per band and frame, target mel magnitude over rendered, at most `max_gain_db`;
3. each linear bin takes the filter-weighted average of the gains of the bands covering it;
4. the complex STFT times those gains, back by the inverse STFT.

The inverse of a modified STFT is not exactly the STFT it was given, so one pass leaves a
residue; a second pass takes most of it (measured in the benchmark). Where the target is
silence (the log floor) the gain is below one, which also quietens what the vocoder wrongly
rendered there. Zero passes returns the wave as is.
"""

from __future__ import annotations

import torch

from msgld.audio.mel import MelFrontEnd

MAX_GAIN_DB = 24.0


def band_to_bin_weights(front: MelFrontEnd) -> torch.Tensor:
    """[n_mels, n_freq]: for each linear bin, its mel filters' weights normalised to sum to 1
    (bins no filter covers get all zeros and keep their level)."""
    basis = front.basis
    return basis / basis.sum(dim=0, keepdim=True).clamp(min=1e-12)


@torch.no_grad()
def match_mel(wave: torch.Tensor, log_mel: torch.Tensor, passes: int = 1, front: MelFrontEnd | None = None,
              max_gain_db: float = MAX_GAIN_DB) -> torch.Tensor:
    """Waves [..., L] rendered from log-mels [..., T, n_mels] (T = L // hop) -> the same waves
    with their log-mel brought to `log_mel` by `passes` gain corrections."""
    if passes < 0:
        raise ValueError(f"mel matching passes must be >= 0, got {passes}")
    if passes == 0:
        return wave
    front = front or MelFrontEnd().to(wave.device)
    frames = log_mel.shape[-2]
    if frames > front.cfg.frames(wave.shape[-1]):
        raise ValueError(f"{frames} mel frames need at least {frames * front.cfg.hop_length} samples, "
                         f"got {wave.shape[-1]}")
    lead, length = wave.shape[:-1], wave.shape[-1]
    out = wave.reshape(-1, length).float()
    target = torch.exp(log_mel.reshape(-1, *log_mel.shape[-2:]).float()).transpose(-1, -2)  # [N, n_mels, T]
    weights = band_to_bin_weights(front)
    covered = (weights.sum(dim=0) > 0)[None, :, None]
    max_gain = 10 ** (max_gain_db / 20)
    floor = front.cfg.log_floor
    for _ in range(passes):
        spec = front.stft(out)  # [N, n_freq, T']
        rendered = torch.matmul(front.basis, spec.abs())  # [N, n_mels, T']
        gain = torch.ones_like(rendered)
        n = min(frames, rendered.shape[-1])
        gain[..., :n] = (target[..., :n].clamp(min=floor) / rendered[..., :n].clamp(min=floor)).clamp(max=max_gain)
        gain[..., n:] = gain[..., n - 1:n]  # the STFT's extra last frame(s): as the last mel frame
        bins = torch.where(covered, torch.einsum("mf,nmt->nft", weights, gain), torch.ones_like(spec.real))
        out = front.istft(spec * bins, length)
    return out.reshape(*lead, length).to(wave.dtype)


def vocode_matched(vocoder, log_mel: torch.Tensor, passes: int, front: MelFrontEnd | None = None) -> torch.Tensor:
    """Log-mels [..., T, n_mels] -> waves [..., T * hop] by `vocoder` in one call, mel-matched."""
    front = front or MelFrontEnd().to(log_mel.device)
    wave = vocoder(log_mel)[..., : log_mel.shape[-2] * front.cfg.hop_length]
    return match_mel(wave, log_mel, passes, front)
