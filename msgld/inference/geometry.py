"""The window geometry of a model: every conversion between seconds, samples, mel frames and
latent frames, in one place (the model's rate is the mel front-end's, 16 kHz).

One latent frame is `compression` mel frames of `hop` samples; one model window is the LDM's
training crop (`window_frames` latent frames, 10.24 s by default); a sampled latent sequence
is a multiple of the U-Net's downsampling factor and at least one window long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class WindowGeometry:
    sample_rate: int  # the model's audio rate (the mel front-end's)
    hop: int  # samples per mel frame
    compression: int  # mel frames per latent frame (the VAE's)
    window_frames: int  # latent frames per model window
    frames_multiple: int  # latent lengths must be a multiple of this (the U-Net's downsampling)
    latent_bins: int  # latent frequency bins (mel bands / compression)

    @property
    def samples_per_frame(self) -> int:
        """Samples per latent frame (640 = 40 ms by default)."""
        return self.compression * self.hop

    @property
    def mel_window(self) -> int:
        """Mel frames per model window."""
        return self.window_frames * self.compression

    @property
    def window_samples(self) -> int:
        return self.window_frames * self.samples_per_frame

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate

    def samples(self, seconds: float) -> int:
        return int(round(seconds * self.sample_rate))

    def latent_frames(self, seconds: float) -> tuple[int, int]:
        """(latent frames to sample, frames wanted) for `seconds` of audio: the frames to sample
        are at least one window and a multiple of `frames_multiple`."""
        wanted = max(1, math.ceil(seconds * self.sample_rate / self.samples_per_frame - 1e-9))
        frames = max(self.window_frames, math.ceil(wanted / self.frames_multiple) * self.frames_multiple)
        return frames, wanted

    def overlap_seconds(self, overlap: float | None) -> float:
        """The overlap of consecutive windows in seconds (None: a quarter window), checked."""
        overlap = self.window_seconds / 4 if overlap is None else float(overlap)
        if not 0 <= overlap < self.window_seconds:
            raise ValueError(f"overlap must be in [0, {self.window_seconds}) seconds, got {overlap}")
        return overlap

    def overlap_latent_frames(self, overlap: float) -> int:
        return min(self.window_frames - 1, int(round(overlap * self.sample_rate / self.samples_per_frame)))

    def overlap_mel_frames(self, overlap: float) -> int:
        return min(self.mel_window - 1, int(round(overlap * self.sample_rate / self.hop)))
