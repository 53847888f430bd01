"""Registries of the methods `msgld evaluate` runs, so that new ones need no change to the runners.

Three kinds, each registered by name with a factory `factory(ctx: MethodContext) -> callable`:

- separation  `register_separation_method(name, factory, oracle=False)`;
  the callable is `separate(mixture [B, L], references [B, S, L] | None) -> stems [B, S, L]`.
  Only methods registered with `oracle=True` receive the true stems (else None).
- generation  `register_generator(name, factory)`;
  `generate(count, length, seed) -> stems [count, S, L]` (the runner sums the stems).
- arrangement `register_arranger(name, factory)`;
  `arrange(stems [B, S, L], keep: bool [S], batch) -> stems [B, S, L]`; `keep` is True for the
  given stems (1 = keep, 0 = generate); the runner puts the given originals back in the output,
  so an arranger only has to fill the others. `batch` has "index" (dataset indices), "track",
  "start" and "mixture".

The references run beside an evaluated method share its `SHARED_OPTIONS` (`shared_options`):
`mel_match`, so that a decoder ceiling decodes as the evaluated pipeline does.

A callable may carry a `settings` dict (e.g. sampler steps, guidance weight), recorded in the
results. Every module in this package is imported when a registry is first read, so a later
method is one new file here, e.g. `msgld/eval/methods/msgld.py` calling
`register_separation_method("msgld", factory)` at import.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from msgld import SAMPLE_RATE


@dataclass
class MethodContext:
    """What a factory gets: the stem list, seed, device, the model/config paths and free options
    (`--option KEY=VALUE`), and for arrangers the evaluated dataset."""

    stems: list[str]
    sample_rate: int = SAMPLE_RATE
    seed: int = 0
    device: str = "cpu"
    model: str | None = None
    config: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    dataset: Any = None


SHARED_OPTIONS = ("mel_match",)


def shared_options(options: dict[str, str]) -> dict[str, str]:
    """The options of an evaluated method that the references beside it take too."""
    return {k: v for k, v in options.items() if k in SHARED_OPTIONS}


@dataclass
class Entry:
    factory: Callable[[MethodContext], Callable]
    description: str = ""
    oracle: bool = False


_REGISTRIES: dict[str, dict[str, Entry]] = {"separation": {}, "generation": {}, "arrangement": {}}
_discovered = False


def _register(kind: str, name: str, factory: Callable, description: str, oracle: bool = False) -> None:
    _REGISTRIES[kind][name] = Entry(factory, description, oracle)


def register_separation_method(name: str, factory: Callable, description: str = "", oracle: bool = False) -> None:
    _register("separation", name, factory, description, oracle)


def register_generator(name: str, factory: Callable, description: str = "") -> None:
    _register("generation", name, factory, description)


def register_arranger(name: str, factory: Callable, description: str = "") -> None:
    _register("arrangement", name, factory, description)


def discover() -> None:
    """Import every module of this package once (each registers its methods at import)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")


def available(kind: str) -> dict[str, str]:
    discover()
    return {name: e.description for name, e in sorted(_REGISTRIES[kind].items())}


def get_entry(kind: str, name: str) -> Entry:
    discover()
    if name not in _REGISTRIES[kind]:
        names = sorted(_REGISTRIES[kind]) or ["(none registered yet)"]
        raise ValueError(f"unknown {kind} method {name!r}; available: {', '.join(names)}")
    return _REGISTRIES[kind][name]
