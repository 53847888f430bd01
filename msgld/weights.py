"""The weights format: `NAME.safetensors` (tensors) + `NAME.json` (everything else).

The JSON says what the tensors are: `kind` (a key of the factory registry), the model's
`config`, the `mel` settings of the front-end it was trained on, model-specific metadata
(e.g. the VAE's `scale_factor`), the format `version`, the `msgld_version` and `training`
info. `load_model` builds the module from the JSON through the registered factory and fills
it from the safetensors file: loading never unpickles.

A model may define `weights_metadata() -> dict` (saved at the JSON's top level) and
`load_weights_metadata(dict)` (called after loading). New kinds register a factory with
`register_kind`; the built-in ones are registered lazily on first use.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from msgld import __version__
from msgld.atomic import atomic_output, atomic_write_text
from msgld.audio.mel import MelConfig

FORMAT_VERSION = 1
Factory = Callable[[dict], nn.Module]

_FACTORIES: dict[str, Factory] = {}
_BUILTIN = {  # kind -> "module:function", imported on first use
    "vae": "msgld.models.vae:build_vae",
    "vocoder": "msgld.models.vocoder:build_vocoder",
    "ldm": "msgld.models.unet3d:build_ldm",
    "demucs": "msgld.models.htdemucs:build_htdemucs",
}
RESERVED = {"format", "version", "kind", "config", "mel", "msgld_version", "training", "dtype"}


class WeightsError(ValueError):
    """A weights pair that cannot be used; the message names the file and the problem."""


def register_kind(kind: str, factory: Factory) -> None:
    """Make `load_model` able to build models of `kind` (factory: model config -> nn.Module)."""
    _FACTORIES[kind] = factory


def factory_for(kind: str) -> Factory:
    if kind not in _FACTORIES and kind in _BUILTIN:
        module, name = _BUILTIN[kind].split(":")
        _FACTORIES[kind] = getattr(importlib.import_module(module), name)
    if kind not in _FACTORIES:
        raise WeightsError(f"unknown model kind {kind!r}; known: {sorted(set(_FACTORIES) | set(_BUILTIN))}")
    return _FACTORIES[kind]


def weight_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """`foo`, `foo.json` or `foo.safetensors` -> (foo.safetensors, foo.json)."""
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def save_model(
    model: nn.Module,
    path: str | os.PathLike,
    kind: str,
    config: dict,
    mel: MelConfig | None = None,
    training: dict | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[Path, Path]:
    """Write the pair atomically; `dtype` (e.g. torch.float16) stores floating tensors smaller."""
    tensors_path, json_path = weight_paths(path)
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    state = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        state[name] = tensor.contiguous()
    meta = model.weights_metadata() if hasattr(model, "weights_metadata") else {}
    clash = RESERVED & set(meta)
    if clash:
        raise WeightsError(f"model metadata uses reserved keys {sorted(clash)}")
    info = {
        "format": "msgld-weights",
        "version": FORMAT_VERSION,
        "kind": kind,
        "config": config,
        "mel": (mel or MelConfig()).to_dict(),
        **meta,
        "msgld_version": __version__,
        "training": training or {},
        "dtype": str(dtype or "native").replace("torch.", ""),
    }
    with atomic_output(tensors_path) as tmp:
        save_file(state, str(tmp), metadata={"kind": kind, "format": "msgld-weights"})
    atomic_write_text(json_path, json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    for path in (tensors_path, json_path):
        path.chmod(0o644)  # temporary files are created private; weights are for everyone to read
    return tensors_path, json_path


def file_hash(path: str | os.PathLike) -> str:
    """sha256 (16 hex digits) of a file (the `vae_hash` that latents and LDMs record)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def read_info(path: str | os.PathLike) -> dict:
    """The JSON half of a weights pair."""
    _, json_path = weight_paths(path)
    if not json_path.exists():
        raise WeightsError(f"{json_path}: weights config not found")
    try:
        info = json.loads(json_path.read_text())
    except json.JSONDecodeError as e:
        raise WeightsError(f"{json_path}: not valid JSON ({e})") from e
    for key in ("kind", "config", "version"):
        if key not in info:
            raise WeightsError(f"{json_path}: missing {key!r}")
    if info["version"] > FORMAT_VERSION:
        raise WeightsError(f"{json_path}: format version {info['version']} is newer than this msgld reads")
    return info


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu", kind: str | None = None) -> nn.Module:
    """Build the model from `path`'s JSON and load its safetensors (cast to the model's dtype).

    The JSON is kept on the module as `weights_info`, the tensors file's path as `weights_path`.
    `kind`, when given, must match.
    """
    tensors_path, json_path = weight_paths(path)
    info = read_info(path)
    if kind is not None and info["kind"] != kind:
        raise WeightsError(f"{json_path}: holds a {info['kind']!r} model, not a {kind!r} model")
    if not tensors_path.exists():
        raise WeightsError(f"{tensors_path}: weights file not found")
    model = factory_for(info["kind"])(info["config"])
    state = load_file(str(tensors_path))
    reference = model.state_dict()
    wrong = [f"{k} {tuple(v.shape)} != {tuple(reference[k].shape)}" for k, v in state.items()
             if k in reference and v.shape != reference[k].shape]
    if wrong:
        raise WeightsError(f"{tensors_path}: does not fit its config ({len(wrong)} shapes differ, e.g. {wrong[0]})")
    state = {k: v.to(reference[k].dtype) if k in reference else v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise WeightsError(f"{tensors_path}: does not fit its config (missing {missing[:5]}, unexpected {unexpected[:5]})")
    if hasattr(model, "load_weights_metadata"):
        model.load_weights_metadata(info)
    model.weights_info = info
    model.weights_path = str(tensors_path)
    return model.to(device).eval()
