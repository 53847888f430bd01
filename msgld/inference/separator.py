"""Separation: the mixture's latent conditions the model (w >= 1), window by window, and the
stems come back at the input's own rate and channel count, summing to it.

The model sees the 16 kHz mono downmix. Each 10.24 s window: mixture -> log-mel -> VAE latent
c -> sample the stems' latents with guidance w -> VAE decoder -> per-stem log-mels. Windows
overlap and their log-mels are blended with linear cross-fades into one sequence (flat memory,
any length). Reconstruction (`reconstruct`): ratio masks from those log-mels on the STFT of
every channel of the original signal at its own rate (`msgld.audio.reconstruct`; bins above
8 kHz by the `high_band` rule), so the stems sum to the input to float precision; or the
vocoder (16 kHz content, resampled to the input's rate, the same on every channel).

`method="dirac"` and `"gaussian"` are MSDM-style separation in latent space on the
unconditional model (w = 0): the sum of the stems' clean estimates is pulled to the mixture's
latent at every step: the last stem is set to the remainder (Dirac) or every stem moves by an
equal share of the residual (Gaussian, `gaussian_strength` in (0, 1]). This is the baseline
Multi-Track MusicLDM reported; a latent of a sum is not the sum of latents, which limits it.

`ensemble=k` draws k samples per window and keeps their mean mel power (k times the cost).
Where the model has a mask refiner (`mask_refiner="auto"`, method msgld: it was trained on that
method's estimates), it then corrects the blended log-mels from the mixture's own log-mel
(msgld.models.mask_refiner); the MSDM-style baselines stay as they were.
`spacing` places the steps ("trailing": the first at t = T, so `steps=1` is the one-step x0
estimate; "leading": the DDIM paper's). `refine=k` is a warm-start refinement (SDEdit/StoRM):
the sampled estimate is noised again to t0 = `refine_strength` * T and k more steps run from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch

from msgld.audio.chunking import iter_windowed, window_starts, windowed_apply
from msgld.audio.reconstruct import MaskReconstructor, StftGrid
from msgld.diffusion.sampling import network_precision
from msgld.inference.codec import decode_mels, encode, vocode
from msgld.inference.engine import Engine, Progress, StepCallback, as_tensor, no_rate_error, to_rate
from msgld.inference.settings import METHODS, RECONSTRUCT, SeparationSettings  # noqa: F401 (re-exported)

BLOCK_SECONDS = 10.0  # native-rate reconstruction runs in blocks of this length (flat memory)
REFINER_BLOCK, REFINER_OVERLAP = 1024, 128  # mel frames per block of the mask refiner, and their overlap


def msdm_hook(method: str, cond: torch.Tensor, strength: float = 1.0):
    """x0 rewrite for MSDM-style separation: cond [B, C, T, F] is the mixture's latent."""

    def dirac(x0, t):
        x0 = x0.clone()
        x0[:, -1] = cond - x0[:, :-1].sum(dim=1)
        return x0

    def gaussian(x0, t):
        residual = cond - x0.sum(dim=1)
        return x0 + strength * residual.unsqueeze(1) / x0.shape[1]

    return {"dirac": dirac, "gaussian": gaussian}[method]


@dataclass
class SeparationEstimate:
    """What the model estimated for one input: the stems' log-mels [S, T, 64] at the model's
    frame rate (100 frames/s) over the whole input, and the settings that made them."""

    log_mels: torch.Tensor
    settings: SeparationSettings


def as_channels(audio) -> tuple[torch.Tensor, bool]:
    """[L] or [C, L] -> ([C, L] float32 CPU, whether the input was 1-D)."""
    wave = as_tensor(audio)
    if wave.ndim not in (1, 2) or wave.shape[-1] == 0 or (wave.ndim == 2 and wave.shape[0] == 0):
        raise ValueError(f"expected audio [L] or [channels, L] with L > 0, got shape {tuple(wave.shape)}")
    return (wave[None] if wave.ndim == 1 else wave), wave.ndim == 1


class Separator(Engine):
    """`Separator().separate(audio, sample_rate=sr)` -> stems [S, L] for audio [L], [S, C, L]
    for audio [C, L], at `sr` (`.stems` names them)."""

    Settings = SeparationSettings
    # chosen by measurement (benchmarks/bench_separate.py, README): DDIM with 3 steps at w = 3 was
    # the best si_sdri_wave of the grid within 2.5 s per 10.24 s on 2 CPU cores; high_band by
    # benchmarks/bench_native_rate.py; last_pass auto (the pass at t = 1 skipped) scored the same at 4 network
    # passes instead of 6 (README, session 9)
    defaults = {"guidance": 3.0, "sampler": "ddim", "steps": 3, "eta": 0.0, "overlap": None,
                "batch_size": 8, "seed": 0, "reconstruct": "mask", "method": "msgld", "gaussian_strength": 1.0,
                "precision": "auto", "ensemble": 1, "spacing": "leading", "last_pass": "auto", "refine": 0, "refine_strength": 0.3,
                "high_band": "flat", "mask_power": 1.0, "prompt": None, "text_guidance": 1.0, "mask_refiner": "auto", "mel_match": 0}

    @torch.no_grad()
    def separate_windows(self, chunks: torch.Tensor, s: SeparationSettings, generator: torch.Generator,
                         callback: StepCallback | None = None, info: dict | None = None) -> torch.Tensor:
        """Mixture windows [n, W] at the model's rate -> the stems' log-mels [n, S, T, 64]."""
        b = self.bundle
        n, k = chunks.shape[0], s.ensemble
        cond = encode(b, chunks).repeat_interleave(k, dim=0)  # [n * k, C, T, F]
        shape = (n * k, len(b.stems), *cond.shape[1:])
        if s.method == "msgld":
            guide = {"cond": cond, "guidance": s.guidance}
        else:
            guide = {"cond": None, "guidance": 0.0, "x0_hook": msdm_hook(s.method, cond, s.gaussian_strength)}
        common = {"generator": generator, "callback": callback, "info": info, **guide}
        z = self.sample(s, shape, **common)
        if s.refine:  # warm start from the estimate: exactly `refine` steps below t0
            total = max(s.refine, int(round(s.refine / s.refine_strength)))
            z = self.sample(s, shape, steps=total, init=z, strength=s.refine / total, **common)
        with network_precision(s.precision, b.device):  # the decoder too (bf16: about half its time)
            mels = decode_mels(b, z).float()  # [n * k, S, T, 64]
        if k > 1:  # the ensemble's mean mel power: an estimate of the posterior mean
            mels = torch.logsumexp(mels.unflatten(0, (n, k)), dim=1) - math.log(k)
        return mels

    def estimate(self, audio, progress: Progress | None = None, *, sample_rate: int | None = None,
                 callback: StepCallback | None = None, **settings) -> SeparationEstimate:
        """The model's part: audio [L] or [C, L] at `sample_rate` -> the stems' log-mels over it."""
        if sample_rate is None:
            raise no_rate_error("Separator")
        s = self.resolve(**settings)
        wave, _ = as_channels(audio)
        g = self.geometry
        mix = to_rate(wave.mean(0), int(sample_rate), g.sample_rate)  # what the model hears: 16 kHz mono
        frames = math.ceil(mix.shape[0] / g.hop)
        mix = torch.nn.functional.pad(mix, (0, frames * g.hop - mix.shape[0]))
        generator = torch.Generator(device=self.bundle.device).manual_seed(s.seed)
        overlap = g.overlap_mel_frames(s.overlap)
        total = len(window_starts(max(frames, g.mel_window), g.mel_window, overlap))
        done = [0]

        def model(chunks: torch.Tensor, starts: list[int]) -> torch.Tensor:  # [n, frames, hop] -> [n, S, T, 64]
            info = {"window": done[0] + 1, "windows": total, "batch": len(starts)}
            done[0] += len(starts)
            return self.separate_windows(chunks.reshape(chunks.shape[0], -1).to(self.bundle.device), s, generator,
                                         callback, info)

        mels = windowed_apply(model, mix.view(1, frames, g.hop), g.mel_window, overlap, dim=1, out_dim=-2,
                              batch=s.batch_size, progress=progress)
        if self.bundle.refiner is not None and s.mask_refiner == "auto" and s.method == "msgld":  # made for its estimates
            mels = self.refine_masks(mels, mix)
        return SeparationEstimate(mels[0], s)

    @torch.no_grad()
    def refine_masks(self, mels: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        """The mask refiner over the whole blended estimate [1, S, T, 64] and the 16 kHz mixture
        [T * hop], in blocks of REFINER_BLOCK frames (flat memory), cross-faded."""
        b = self.bundle
        frames, hop = mels.shape[-2], self.geometry.hop
        block = min(REFINER_BLOCK, frames)
        overlap = min(REFINER_OVERLAP, block // 2)

        def mixture_mel(chunk: torch.Tensor, starts: list[int]) -> torch.Tensor:  # [1, W, hop] -> [1, W, 64]
            return b.front(chunk.reshape(chunk.shape[0], -1))

        def refine(chunk: torch.Tensor, starts: list[int]) -> torch.Tensor:  # [1, W, S + 1, 64] -> [1, S, W, 64]
            chunk = chunk.transpose(1, 2)
            return b.refiner(chunk[:, :-1], chunk[:, -1])

        # the mixture's log-mel block by block too: one STFT of a 10-minute input takes hundreds of MB
        mix = mix[: frames * hop].view(1, frames, hop).to(b.device)
        mix_mel = windowed_apply(mixture_mel, mix, block, overlap, dim=1, out_dim=-2)
        x = torch.cat([mels, mix_mel[:, None]], dim=1).transpose(1, 2)  # [1, T, S + 1, 64]
        return windowed_apply(refine, x, block, overlap, dim=1, out_dim=-2)

    def reconstruct(self, estimate: SeparationEstimate, audio, sample_rate: int,
                    block_seconds: float = BLOCK_SECONDS) -> Iterator[torch.Tensor]:
        """The stems of `audio` ([L] or [C, L] at `sample_rate`, the audio the estimate was made
        from) in order, block by block: [S, C, n] (or [S, n] for 1-D audio) each."""
        wave, mono = as_channels(audio)
        s, b = estimate.settings, self.bundle
        length = wave.shape[-1]
        if s.reconstruct == "vocoder":
            stems = vocode(b, estimate.log_mels, s.seed, s.mel_match).cpu()
            stems = to_rate(stems, self.sample_rate, int(sample_rate), length)
            yield stems if mono else stems[:, None].expand(-1, wave.shape[0], -1)
            return
        masker = MaskReconstructor(b.front.cfg, s.high_band, s.mask_power)
        mels = estimate.log_mels.to(b.device)
        grid = StftGrid.for_rate(int(sample_rate), b.front.cfg)
        # the STFT's reflection needs n_fft samples; a long input is not copied
        padded = wave if length >= grid.n_fft else torch.nn.functional.pad(wave, (0, grid.n_fft - length))
        block = min(padded.shape[-1], max(int(block_seconds * sample_rate), 8 * grid.n_fft))
        overlap = min(4 * grid.n_fft, block - 1)

        def apply(chunk: torch.Tensor, starts: list[int]) -> torch.Tensor:  # [1, C, n] -> [1, S, C, n]
            return masker.per_channel(mels, chunk[0].to(b.device), int(sample_rate), starts[0]).cpu()[None]

        done = 0
        for piece in iter_windowed(apply, padded[None], block, overlap, dim=-1, out_dim=-1):
            piece = piece[0, ..., : max(0, length - done)]
            done += piece.shape[-1]
            if piece.shape[-1]:
                yield piece[:, 0] if mono else piece

    def separate(self, mixture, progress: Progress | None = None, *, sample_rate: int | None = None,
                 callback: StepCallback | None = None, **settings) -> torch.Tensor:
        """audio [L] or [C, L] (numpy or torch) at `sample_rate` (required) -> stems [S, L] or
        [S, C, L] at that rate, summing to the input. Settings: see `defaults`.
        `progress(windows_done, windows_total)` is called after each batch of windows."""
        est = self.estimate(mixture, progress, sample_rate=sample_rate, callback=callback, **settings)
        wave, mono = as_channels(mixture)
        out = torch.empty(len(self.stems), *([] if mono else [wave.shape[0]]), wave.shape[-1])
        done = 0
        for piece in self.reconstruct(est, wave[0] if mono else wave, int(sample_rate)):
            out[..., done : done + piece.shape[-1]] = piece
            done += piece.shape[-1]
        return out


def two_stem_names(names: list[str], stem: str) -> list[str]:
    """The files of a two-stem output: the stem and `no_<stem>` (the sum of all the others)."""
    if stem not in names:
        raise ValueError(f"unknown stem {stem!r} for two stems; choose one of {names}")
    return [stem, f"no_{stem}"]


def two_stems(stems: torch.Tensor, names: list[str], stem: str) -> tuple[list[str], torch.Tensor]:
    """[S, ...] -> ([stem, no_stem], [2, ...]): the stem and the sum of all the others."""
    out = two_stem_names(names, stem)
    k = names.index(stem)
    rest = torch.cat([stems[:k], stems[k + 1 :]]).sum(0)
    return out, torch.stack([stems[k], rest])
