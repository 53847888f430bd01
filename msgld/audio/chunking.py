"""Long signals as overlapping windows, recombined with linear cross-fades.

Windows are placed every `window - overlap` samples; the last one is aligned to the end of
the signal (so no window but a lone short one sees padding). Each window's weight ramps
linearly over the overlap at both ends and is never zero, and the sum of weighted windows
is divided by the summed weights, so identity processing returns the input.
"""

from __future__ import annotations

from typing import Callable

import torch


def window_starts(length: int, window: int, overlap: int) -> list[int]:
    """Start offsets of the windows covering `length` samples."""
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window), got {overlap} for window {window}")
    if length <= window:
        return [0]
    hop = window - overlap
    starts = list(range(0, length - window, hop))
    starts.append(length - window)
    return starts


def fade_weights(window: int, overlap: int) -> torch.Tensor:
    """A trapezoid: linear ramps of `overlap` samples (values in (0, 1]) and a flat top of ones."""
    weight = torch.ones(window)
    if overlap > 0:
        ramp = torch.arange(1, overlap + 1, dtype=torch.float32) / (overlap + 1)
        weight[:overlap] = ramp
        weight[-overlap:] = torch.minimum(weight[-overlap:], ramp.flip(0))
    return weight


def split(signal: torch.Tensor, window: int, overlap: int) -> tuple[list[torch.Tensor], list[int]]:
    """Cut [..., L] into windows [..., window] (a short signal is zero-padded to one window)."""
    length = signal.shape[-1]
    starts = window_starts(length, window, overlap)
    chunks = []
    for s in starts:
        chunk = signal[..., s : s + window]
        if chunk.shape[-1] < window:
            chunk = torch.nn.functional.pad(chunk, (0, window - chunk.shape[-1]))
        chunks.append(chunk)
    return chunks, starts


class OverlapAdd:
    """Accumulates weighted windows into a [..., length] output; `result()` normalises."""

    def __init__(self, length: int, window: int, overlap: int):
        self.length, self.window = length, window
        self.weight = fade_weights(window, overlap)
        self.out: torch.Tensor | None = None
        self.norm: torch.Tensor | None = None

    def add(self, chunk: torch.Tensor, start: int) -> None:
        if self.out is None:
            total = max(self.length, self.window)
            self.out = torch.zeros(*chunk.shape[:-1], total, dtype=chunk.dtype, device=chunk.device)
            self.norm = torch.zeros(total, dtype=chunk.dtype, device=chunk.device)
            self.weight = self.weight.to(chunk.device, chunk.dtype)
        self.out[..., start : start + self.window] += chunk * self.weight
        self.norm[start : start + self.window] += self.weight

    def result(self) -> torch.Tensor:
        return (self.out / self.norm)[..., : self.length]


def overlap_add(chunks: list[torch.Tensor], starts: list[int], length: int, overlap: int) -> torch.Tensor:
    """Blend processed windows [..., window] back into [..., length]."""
    acc = OverlapAdd(length, chunks[0].shape[-1], overlap)
    for chunk, s in zip(chunks, starts):
        acc.add(chunk, s)
    return acc.result()


def apply_chunked(
    fn: Callable[[torch.Tensor], torch.Tensor],
    signal: torch.Tensor,
    window: int,
    overlap: int,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Run `fn` window by window ([..., window] -> [..., window], new leading dims allowed)
    and blend; only one window at a time is held besides the output, so memory is flat."""
    length = signal.shape[-1]
    starts = window_starts(length, window, overlap)
    acc = OverlapAdd(length, window, overlap)
    for i, s in enumerate(starts):
        chunk = signal[..., s : s + window]
        if chunk.shape[-1] < window:
            chunk = torch.nn.functional.pad(chunk, (0, window - chunk.shape[-1]))
        acc.add(fn(chunk), s)
        if progress is not None:
            progress(i + 1, len(starts))
    return acc.result()
