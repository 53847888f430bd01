"""Frechet Audio Distance (Kilgour et al., 2019) with a pluggable embedding.

FAD = ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)) between Gaussians fitted to
the frame embeddings of two sets of audio. The statistics are accumulated frame by frame in
float64 (Chan et al.'s pairwise update, mergeable), so sets of any size stream through. The
matrix square root is scipy's; as in the reference implementations (google-research FAD,
pytorch-fid), an ill-conditioned product (non-finite root) is retried with eps * I added to
both covariances, and a complex root is accepted only when its diagonal's imaginary part is
negligible (then the real part is used). Every FAD number is reported with its embedding's name.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
from scipy import linalg

from msgld.eval.embeddings import Embedding


def frechet_distance(mu_a, sigma_a, mu_b, sigma_b, eps: float = 1e-6, imag_tol: float = 1e-3) -> float:
    """The Frechet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b)."""
    mu_a, mu_b = np.atleast_1d(np.asarray(mu_a, np.float64)), np.atleast_1d(np.asarray(mu_b, np.float64))
    sigma_a, sigma_b = np.atleast_2d(np.asarray(sigma_a, np.float64)), np.atleast_2d(np.asarray(sigma_b, np.float64))
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape or sigma_a.shape != (mu_a.size, mu_a.size):
        raise ValueError(f"mismatched statistics: means {mu_a.shape} / {mu_b.shape}, "
                         f"covariances {sigma_a.shape} / {sigma_b.shape}")
    diff = mu_a - mu_b
    with warnings.catch_warnings():  # a singular product (few frames) is expected; handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma_a @ sigma_b)
        if not np.isfinite(covmean).all():
            offset = np.eye(mu_a.size) * eps
            covmean = linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max()
        if imag > imag_tol * max(1.0, np.abs(np.diagonal(covmean).real).max()):
            raise ValueError(f"matrix square root has a large imaginary component ({imag:.3g}); "
                             "too few frames for the embedding's dimension?")
        covmean = covmean.real
    value = float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2 * np.trace(covmean))
    return max(value, 0.0)  # rounding can leave a tiny negative value for identical sets


@dataclass
class GaussianStats:
    """Streaming mean and covariance of frame embeddings (float64)."""

    dim: int
    count: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None  # sum of outer products of deviations from the mean

    def __post_init__(self):
        if self.mean is None:
            self.mean = np.zeros(self.dim)
            self.m2 = np.zeros((self.dim, self.dim))

    def add(self, frames) -> "GaussianStats":
        """Add frames [..., dim]."""
        x = np.asarray(frames.cpu() if isinstance(frames, torch.Tensor) else frames, np.float64).reshape(-1, self.dim)
        if x.shape[0]:
            mean = x.mean(0)
            dev = x - mean
            self.merge(GaussianStats(self.dim, x.shape[0], mean, dev.T @ dev))
        return self

    def merge(self, other: "GaussianStats") -> "GaussianStats":
        if other.dim != self.dim:
            raise ValueError(f"cannot merge statistics of dimension {other.dim} into {self.dim}")
        if other.count == 0:
            return self
        n = self.count + other.count
        delta = other.mean - self.mean
        self.m2 = self.m2 + other.m2 + np.outer(delta, delta) * (self.count * other.count / n)
        self.mean = self.mean + delta * (other.count / n)
        self.count = n
        return self

    @property
    def cov(self) -> np.ndarray:
        if self.count < 2:
            raise ValueError(f"need at least 2 embedding frames for a covariance, got {self.count}")
        return self.m2 / (self.count - 1)

    def copy(self) -> "GaussianStats":
        return GaussianStats(self.dim, self.count, self.mean.copy(), self.m2.copy())


def fad(a: GaussianStats, b: GaussianStats) -> float:
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


def fad_row(name: str, a: str, b: str, stats_a: GaussianStats, stats_b: GaussianStats, embedding: str) -> dict:
    """A results row: the FAD with its embedding's name and the frame counts; notes when a set has
    no more frames than dimensions (a rank-deficient covariance biases FAD upwards: compare such
    numbers only at equal sizes)."""
    row = {"name": name, "a": a, "b": b, "fad": fad(stats_a, stats_b), "embedding": embedding,
           "frames_a": stats_a.count, "frames_b": stats_b.count}
    if min(stats_a.count, stats_b.count) <= stats_a.dim:
        row["note"] = f"fewer frames than the embedding's {stats_a.dim} dimensions"
    return row


def fad_from_frames(frames_a, frames_b) -> float:
    """FAD between two arrays of frame embeddings [N, dim]."""
    a = np.asarray(frames_a, np.float64)
    return fad(GaussianStats(a.shape[-1]).add(a), GaussianStats(a.shape[-1]).add(frames_b))


def embed_stats(embedding: Embedding, waves: Iterable[torch.Tensor], stats: GaussianStats | None = None) -> GaussianStats:
    """Accumulate the embedding frames of waveforms ([L] or [B, L] each) into Gaussian statistics."""
    stats = stats or GaussianStats(embedding.dim)
    for wave in waves:
        stats.add(embedding(wave if wave.dim() == 2 else wave[None]))
    return stats
