"""A weight-free text encoder: a signed hashing bag of words (Weinberger et al. 2009).

Every lower-cased word (letters, digits, `#`, `/`, inner hyphens) adds +-1 to one of `dim`
slots, both chosen by a BLAKE2b hash of the word (stable across processes and machines, unlike
Python's `hash`); the sum is scaled to unit length. It knows no synonyms: "fast" and "up-tempo"
share nothing. It is the baseline of benchmarks/bench_text_encoders.py and the stand-in encoder
of the tests (deterministic, instant, no package to install)."""

from __future__ import annotations

import hashlib
import re

import torch

WORD = re.compile(r"[a-z0-9#/]+(?:-[a-z0-9#/]+)*")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


class KeywordEncoder:
    name = "keywords"

    def __init__(self, dim: int = 256):
        self.dim = dim

    def slot(self, word: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        return h % self.dim, 1.0 if (h >> 63) & 1 else -1.0

    def encode(self, texts: list[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            for w in words(text):
                k, sign = self.slot(w)
                out[i, k] += sign
        return torch.nn.functional.normalize(out, dim=-1)
