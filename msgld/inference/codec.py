"""Between audio and the diffusion model's latents: THE mel front-end, the VAE (scaled
latents), and back to audio by the vocoder (or Griffin-Lim when a model has none), whose
output can be brought to the mel it was rendered from (`msgld.audio.mel_match`)."""

from __future__ import annotations

import torch

from msgld.audio.chunking import windowed_apply
from msgld.audio.griffinlim import griffin_lim
from msgld.audio.mel_match import match_mel
from msgld.inference.bundle import ModelBundle

DECODE_WINDOW = 256  # latent frames per VAE-decoder call (10.24 s)
DECODE_OVERLAP = 16


@torch.no_grad()
def encode(bundle: ModelBundle, waves: torch.Tensor) -> torch.Tensor:
    """Waves [..., L] (L a multiple of the model's frame size) -> scaled latents [..., C, T, F]."""
    mel = bundle.front(waves.to(bundle.device))
    lead = mel.shape[:-2]
    z = bundle.vae.to_latent(mel.reshape(-1, 1, *mel.shape[-2:]))
    return z.reshape(*lead, *z.shape[1:])


@torch.no_grad()
def decode_mels(bundle: ModelBundle, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents [..., C, T, F] -> log-mels [..., T * r, 64], window by window."""
    lead = latents.shape[:-3]
    flat = latents.reshape(-1, *latents.shape[-3:]).to(bundle.device)
    r = bundle.vae.compression
    mel = windowed_apply(lambda z, _: bundle.vae.from_latent(z)[:, 0], flat, DECODE_WINDOW, DECODE_OVERLAP,
                         dim=-2, scale=r, out_dim=-2, pad_short=False)
    return mel.reshape(*lead, *mel.shape[-2:])


@torch.no_grad()
def vocode(bundle: ModelBundle, mels: torch.Tensor, seed: int = 0, mel_match: int = 0) -> torch.Tensor:
    """Log-mels [..., T, 64] -> waveforms [..., T * hop] by the vocoder (Griffin-Lim without one),
    then `mel_match` passes that bring the vocoder's output to `mels` (Griffin-Lim matches them
    by itself)."""
    hop = bundle.front.cfg.hop_length
    lead = mels.shape[:-2]
    flat = mels.reshape(-1, *mels.shape[-2:]).to(bundle.device)
    if bundle.vocoder is not None:
        fn = lambda m, _: bundle.vocoder(m)  # noqa: E731
    else:
        fn = lambda m, _: griffin_lim(m, generator=torch.Generator(device=m.device).manual_seed(seed))  # noqa: E731
    wave = windowed_apply(fn, flat, 4 * DECODE_WINDOW, 4 * DECODE_OVERLAP, dim=-2, scale=hop, out_dim=-1, pad_short=False)
    if bundle.vocoder is not None and mel_match:
        wave = match_mel(wave, flat, mel_match, bundle.front)
    return wave.reshape(*lead, wave.shape[-1])
