"""FAD with a bootstrap over clips: how much a number moves when other clips are drawn.

`ClipFrames` keeps each clip's frame embeddings; `FadBootstrap` draws the clips of the
reference set B and of every compared set A with replacement (`draws` times, from
`default_rng([seed, ...])`), recomputes the FAD per draw and reports the 2.5 and 97.5
percentiles. Draws are shared: every set A of the same size uses the same resampled indices
and every row the same draws of B, so two rows can be compared draw by draw (`p_above`: the
share of draws in which a row's FAD exceeds another's). A set with duplicated clips holds
less variety, so bootstrap FADs sit above the point value (with 16 clips often entirely above
it); the interval is therefore bias-corrected: the percentiles are shifted by the draws' median
excess over the point value (`bias`, recorded), and clipped at 0, so it brackets the point value
and keeps the spread.

Per draw the statistics come from per-clip moments (count, sum, sum of outer products), and
tr((S_a S_b)^(1/2)) = sum of the square roots of the eigenvalues of S_b^(1/2) S_a S_b^(1/2)
(two symmetric eigendecompositions instead of a general matrix square root).
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from msgld.eval.fad import GaussianStats, fad


class ClipFrames:
    """The frame embeddings [N_i, dim] of each clip of a set (float32)."""

    def __init__(self, dim: int):
        self.dim, self.clips = dim, []

    def add(self, frames) -> "ClipFrames":
        """Add a batch of clips' frames [B, N, dim] (or one clip's [N, dim])."""
        x = np.asarray(frames.cpu() if isinstance(frames, torch.Tensor) else frames, np.float32)
        for clip in (x if x.ndim == 3 else x[None]):
            self.clips.append(clip.reshape(-1, self.dim))
        return self

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def frames(self) -> int:
        return sum(c.shape[0] for c in self.clips)

    def subset(self, indices) -> "ClipFrames":
        out = ClipFrames(self.dim)
        out.clips = [self.clips[i] for i in indices]
        return out

    def stats(self) -> GaussianStats:
        out = GaussianStats(self.dim)
        for clip in self.clips:
            out.add(clip)
        return out

    def moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(counts [n], sums [n, dim], outer sums [n, dim, dim]) in float64."""
        xs = [c.astype(np.float64) for c in self.clips]
        return (np.array([x.shape[0] for x in xs], np.float64), np.stack([x.sum(0) for x in xs]),
                np.stack([x.T @ x for x in xs]))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _gaussian(moments, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts, sums, outer = moments
    n = weights @ counts
    mean = (weights @ sums) / n
    second = np.tensordot(weights, outer, axes=1)
    return mean, (second - n * np.outer(mean, mean)) / (n - 1)


def fast_frechet(mu_a, sigma_a, mu_b, sigma_b, root_b: np.ndarray | None = None) -> float:
    """The Frechet distance by eigendecompositions (`root_b`: S_b^(1/2) when already known)."""
    root_b = _sqrt_psd(sigma_b) if root_b is None else root_b
    middle = root_b @ sigma_a @ root_b
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu_a - mu_b
    return max(float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_root), 0.0)


def _weights(indices: np.ndarray, n: int) -> np.ndarray:
    return np.stack([np.bincount(row, minlength=n) for row in indices]).astype(np.float64)


class FadBootstrap:
    """FAD of sets A against one reference set B, each with a bootstrap interval."""

    def __init__(self, reference: ClipFrames, draws: int = 200, seed: int = 0):
        if len(reference) < 2:
            raise ValueError("the bootstrap needs at least two reference clips")
        self.reference, self.draws, self.seed = reference, draws, seed
        self._stats_b = reference.stats()
        self._b: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if draws:
            rng = np.random.default_rng([seed, 0])
            weights = _weights(rng.integers(0, len(reference), (draws, len(reference))), len(reference))
            moments = reference.moments()
            for w in weights:
                mean, cov = _gaussian(moments, w)
                self._b.append((mean, cov, _sqrt_psd(cov)))
        self._values: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # ClipFrames -> per-draw FADs

    def weights_a(self, n: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 1, n])
        return _weights(rng.integers(0, n, (self.draws, n)), n)

    def row(self, compared: ClipFrames) -> dict:
        """{"fad", "ci95", "bootstrap", "frames_a", "frames_b", "clips_a", "clips_b"} for set A =
        `compared`; the per-draw values are kept for `p_above`."""
        out = {"fad": fad(compared.stats(), self._stats_b), "clips_a": len(compared), "clips_b": len(self.reference),
               "frames_a": compared.frames, "frames_b": self.reference.frames, "bootstrap": self.draws}
        if self.draws and len(compared) >= 2:
            moments = compared.moments()
            values = np.array([fast_frechet(*_gaussian(moments, w), mean_b, cov_b, root_b)
                               for w, (mean_b, cov_b, root_b) in zip(self.weights_a(len(compared)), self._b)])
            self._values[compared] = values
            bias = float(np.median(values)) - out["fad"]
            out["ci95"] = [max(float(np.percentile(values, 2.5)) - bias, 0.0), float(np.percentile(values, 97.5)) - bias]
            out["bias"] = bias
        if min(out["frames_a"], out["frames_b"]) <= self.reference.dim:
            out["note"] = f"fewer frames than the embedding's {self.reference.dim} dimensions"
        return out

    def p_above(self, compared: ClipFrames, other: ClipFrames) -> float | None:
        """The share of draws in which `compared` is further from B than `other` (both rows
        computed first; None unless both have the same number of clips, i.e. the same draws)."""
        a, b = self._values.get(compared), self._values.get(other)
        if a is None or b is None or len(compared) != len(other):
            return None
        return float(np.mean(a > b))
