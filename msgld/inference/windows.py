"""Long sequences through fixed-size models, window by window, with linear cross-fades.

`map_windows` runs a function over windows of a time axis and blends the outputs with the
foundation's overlap-add (msgld.audio.chunking); the output time axis may be longer by an
integer factor (latent frames -> mel frames x4, mel frames -> samples x160). Only one window
is in flight at a time, so memory stays flat in the input's length.
"""

from __future__ import annotations

from typing import Callable

import torch

from msgld.audio.chunking import OverlapAdd, window_starts


def map_windows(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    window: int,
    overlap: int,
    scale: int = 1,
    in_dim: int = -2,
    out_dim: int = -2,
) -> torch.Tensor:
    """Apply `fn` to windows of `x` along `in_dim`; its output's time axis (`out_dim`) is
    `scale` times longer. Inputs no longer than one window go through `fn` whole."""
    length = x.shape[in_dim]
    if length <= window:
        return fn(x)
    xt = x.movedim(in_dim, -1)
    acc = OverlapAdd(length * scale, window * scale, overlap * scale)
    for s in window_starts(length, window, overlap):
        y = fn(xt[..., s : s + window].movedim(-1, in_dim))
        acc.add(y.movedim(out_dim, -1), s * scale)
    return acc.result().movedim(-1, out_dim)
