"""Random streams: every random draw of a track comes from (seed, track index, stream name),
so tracks are independent of each other, of the worker that makes them and of the order."""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, index: int, name: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index), zlib.crc32(name.encode())])


def weighted(rng: np.random.Generator, weights: dict, floor: float = 0.0):
    """One key of `weights` (key -> non-negative weight); `floor` lifts every key to at least
    that share of the total. Keys are taken in their given order (deterministic)."""
    keys = list(weights)
    w = np.array([float(weights[k]) for k in keys])
    if floor > 0:
        w = np.maximum(w, floor * w.sum())
    if w.sum() <= 0:
        raise ValueError(f"no positive weight among {keys}")
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(lo + (hi - lo) * rng.random())
