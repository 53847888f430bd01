"""Long signals as overlapping windows, recombined with linear cross-fades: THE windowed apply.

Windows are placed every `window - overlap` steps; the last one is aligned to the end of the
signal (so no window but a lone short one sees padding). Each window's weight ramps linearly
over the overlap at both ends and is never zero, and the sum of weighted windows is divided by
the summed weights, so identity processing returns the input, and outputs that sum to
something per window (stems to their mixture) still sum to it after blending.

`iter_windowed` runs a function over batches of windows of one axis and yields the blended
output as soon as it is final (a stream: memory holds one window of output, not the whole);
`windowed_apply` collects it. The output's time axis may be `scale` times longer (latent frames
-> mel frames x4, mel frames -> samples x160) and on another axis than the input's.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch

Progress = Callable[[int, int], None]


def window_starts(length: int, window: int, overlap: int) -> list[int]:
    """Start offsets of the windows covering `length` steps."""
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
    """A trapezoid: linear ramps of `overlap` steps (values in (0, 1]) and a flat top of ones."""
    weight = torch.ones(window)
    if overlap > 0:
        ramp = torch.arange(1, overlap + 1, dtype=torch.float32) / (overlap + 1)
        weight[:overlap] = ramp
        weight[-overlap:] = torch.minimum(weight[-overlap:], ramp.flip(0))
    return weight


class OverlapAdd:
    """Accumulates weighted windows [..., window] (added in order of their starts) into a
    [..., length] output. `pop(upto)` hands out the normalised output before `upto` (final once
    no later window starts before it) and forgets it; `result()` pops the rest."""

    def __init__(self, length: int, window: int, overlap: int):
        self.length, self.window = length, window
        self.weight = fade_weights(window, overlap)
        self.done = 0  # steps already popped; the buffers start here
        self.out: torch.Tensor | None = None
        self.norm: torch.Tensor | None = None

    def _grow(self, chunk: torch.Tensor, end: int) -> None:
        if self.out is None:
            self.out = torch.zeros(*chunk.shape[:-1], 0, dtype=chunk.dtype, device=chunk.device)
            self.norm = torch.zeros(0, dtype=chunk.dtype, device=chunk.device)
            self.weight = self.weight.to(chunk.device, chunk.dtype)
        extra = end - self.done - self.out.shape[-1]
        if extra > 0:
            self.out = torch.cat([self.out, self.out.new_zeros(*self.out.shape[:-1], extra)], dim=-1)
            self.norm = torch.cat([self.norm, self.norm.new_zeros(extra)])

    def add(self, chunk: torch.Tensor, start: int) -> None:
        if start < self.done:
            raise ValueError(f"window at {start} starts before the output already handed out ({self.done})")
        end = start + self.window
        self._grow(chunk, end)
        a, b = start - self.done, end - self.done
        self.out[..., a:b] += chunk * self.weight
        self.norm[a:b] += self.weight

    def pop(self, upto: int) -> torch.Tensor:
        upto = min(upto, self.length)
        n = max(0, upto - self.done)
        seg = self.out[..., :n] / self.norm[:n]
        self.out, self.norm = self.out[..., n:], self.norm[n:]
        self.done += n
        return seg

    def result(self) -> torch.Tensor:
        return self.pop(self.length)


def iter_windowed(
    fn: Callable[[torch.Tensor, list[int]], torch.Tensor],
    x: torch.Tensor,
    window: int,
    overlap: int,
    dim: int = -1,
    scale: int = 1,
    out_dim: int = -1,
    batch: int = 1,
    progress: Progress | None = None,
    pad_short: bool = True,
) -> Iterator[torch.Tensor]:
    """Run `fn` over windows of `x` along `dim` and yield the blended output in order, each
    piece as soon as it is final; their concatenation along `out_dim` is the whole output,
    `scale * L` long (L: x's length along `dim`).

    x is [N, ...] (axis 0 a batch, never windowed). `batch` windows go through `fn` together,
    concatenated along axis 0: fn(chunks [n * N, ..., window, ...], starts of the n windows) ->
    [n * N, ..., window * scale, ...] (time on `out_dim`). A signal shorter than one window is
    zero-padded to one (`pad_short`), or goes through `fn` as it is (for models of any length).
    `progress(windows_done, windows_total)` follows each call."""
    dim = dim % x.dim()
    if dim == 0:
        raise ValueError("axis 0 is the batch axis; window another one")
    length = x.shape[dim]
    if length < window and not pad_short:
        window, overlap = length, 0
    elif length < window:
        pad = [0, 0] * (x.dim() - 1 - dim) + [0, window - length]
        x = torch.nn.functional.pad(x, pad)
    starts = window_starts(x.shape[dim], window, overlap)
    acc = OverlapAdd(length * scale, window * scale, overlap * scale)
    n = x.shape[0]
    for i in range(0, len(starts), batch):
        group = starts[i : i + batch]
        chunks = torch.cat([x.narrow(dim, s, window) for s in group])
        out = fn(chunks, group)
        for k, s in enumerate(group):
            acc.add(out[k * n : (k + 1) * n].movedim(out_dim, -1), s * scale)
        if progress is not None:
            progress(i + len(group), len(starts))
        final = starts[i + batch] * scale if i + batch < len(starts) else length * scale
        yield acc.pop(final).movedim(-1, out_dim)


def windowed_apply(fn: Callable[[torch.Tensor, list[int]], torch.Tensor], x: torch.Tensor, window: int,
                   overlap: int, **options) -> torch.Tensor:
    """`iter_windowed` (same options), collected: the whole blended output [N, ..., L * scale, ...]."""
    return torch.cat(list(iter_windowed(fn, x, window, overlap, **options)), dim=options.get("out_dim", -1))
