"""The weights format: `NAME.safetensors` (tensors) + `NAME.json` (everything else).

The JSON says what the tensors are: `kind` (a key of the factory registry), the model's
`config`, the `mel` settings of the front-end it was trained on, model-specific metadata
(e.g. the VAE's `scale_factor`), the format `version`, the `msgld_version` and `training`
info. `load_model` builds the module from the JSON through the registered factory and fills
it from the safetensors file: loading never unpickles. It refuses, naming the file: a pickle
renamed .safetensors, a damaged header, tensors whose sha256 differs from the one the JSON
records (tampered or damaged since saving), tensors of another kind, NaN/Inf weights, shapes
that do not fit the config, and format versions other than this one.

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
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from msgld import __version__
from msgld.atomic import atomic_output, atomic_write_text, write_error
from msgld.audio.mel import MelConfig

FORMAT_VERSION = 1
Factory = Callable[[dict], nn.Module]

_FACTORIES: dict[str, Factory] = {}
_BUILTIN = {  # kind -> "module:function", imported on first use
    "vae": "msgld.models.vae:build_vae",
    "vocoder": "msgld.models.vocoder:build_vocoder",
    "ldm": "msgld.models.unet3d:build_ldm",
    "demucs": "msgld.models.htdemucs:build_htdemucs",
    "refiner": "msgld.models.mask_refiner:build_refiner",
}
RESERVED = {"format", "version", "kind", "config", "mel", "msgld_version", "training", "dtype", "sha256"}


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
    try:
        with atomic_output(tensors_path) as tmp:
            save_file(state, str(tmp), metadata={"kind": kind, "format": "msgld-weights"})
            info["sha256"] = file_hash(tmp, full=True)  # loading refuses tensors changed after this
    except Exception as e:  # safetensors reports a full disk as SafetensorError
        raise write_error(tensors_path, e) from e
    atomic_write_text(json_path, json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    for path in (tensors_path, json_path):
        path.chmod(0o644)  # temporary files are created private; weights are for everyone to read
    return tensors_path, json_path


def file_hash(path: str | os.PathLike, full: bool = False) -> str:
    """sha256 (16 hex digits, the `vae_hash` that latents and LDMs record; all 64 if `full`)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest() if full else h.hexdigest()[:16]


def read_info(path: str | os.PathLike) -> dict:
    """The JSON half of a weights pair."""
    _, json_path = weight_paths(path)
    if not json_path.exists():
        raise WeightsError(f"{json_path}: weights config not found")
    try:
        info = json.loads(json_path.read_text())
    except json.JSONDecodeError as e:
        raise WeightsError(f"{json_path}: not valid JSON ({e})") from e
    if not isinstance(info, dict):
        raise WeightsError(f"{json_path}: not an msgld weights config (not a JSON object)")
    if info.get("format", "msgld-weights") != "msgld-weights":
        raise WeightsError(f"{json_path}: not an msgld weights config (format {info['format']!r})")
    for key in ("kind", "config", "version"):
        if key not in info:
            raise WeightsError(f"{json_path}: missing {key!r}")
    version = info["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise WeightsError(f"{json_path}: format version {version!r} is not a whole number")
    if version > FORMAT_VERSION:
        raise WeightsError(f"{json_path}: format version {version} is newer than this msgld reads "
                           f"({FORMAT_VERSION}); upgrade msgld")
    if version < FORMAT_VERSION:
        raise WeightsError(f"{json_path}: format version {version} is older than this msgld reads "
                           f"({FORMAT_VERSION}); export the weights again")
    if not isinstance(info["config"], dict):
        raise WeightsError(f"{json_path}: 'config' is not a mapping")
    return info


def check_tensors_file(path: Path) -> None:
    """Refuse anything but a safetensors file before it is parsed: pickles (a `torch.save` file
    renamed) are named as such and never opened by an unpickler."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:4] == b"PK\x03\x04":
            raise WeightsError(f"{path}: a PyTorch pickle archive (torch.save), not safetensors; msgld never "
                               "unpickles weights: convert it where you trust it (safetensors.torch.save_file)")
        if head[:1] == b"\x80":
            raise WeightsError(f"{path}: a Python pickle, not safetensors; msgld never unpickles weights")
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        header = f.read(length) if 0 < length <= size - 8 else b""
    try:
        if not isinstance(json.loads(header), dict):
            raise ValueError("not a mapping")
    except ValueError:
        raise WeightsError(f"{path}: not a safetensors file (no valid header; truncated or another format)") from None


def read_tensors(tensors_path: Path, info: dict) -> dict[str, torch.Tensor]:
    """The tensors, refused when damaged, changed since they were saved (the JSON's `sha256`),
    of another model kind, or holding NaN/Inf."""
    check_tensors_file(tensors_path)
    if "sha256" in info and file_hash(tensors_path, full=True) != info["sha256"]:
        raise WeightsError(f"{tensors_path}: its bytes differ from the ones its JSON records (sha256): "
                           "the file was changed or damaged after it was saved")
    try:
        with safe_open(str(tensors_path), framework="pt") as f:
            stored_kind = (f.metadata() or {}).get("kind")
        state = load_file(str(tensors_path))
    except Exception as e:  # safetensors raises SafetensorError and others
        raise WeightsError(f"{tensors_path}: damaged safetensors file ({e})") from e
    if stored_kind is not None and stored_kind != info["kind"]:
        raise WeightsError(f"{tensors_path}: holds a {stored_kind!r} model but its JSON says {info['kind']!r}")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise WeightsError(f"{tensors_path}: NaN or Inf values in {len(bad)} tensor(s), e.g. {bad[0]}")
    return state


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
    factory = factory_for(info["kind"])
    state = read_tensors(tensors_path, info)
    try:
        model = factory(info["config"])
    except Exception as e:  # a config no model can be built from
        raise WeightsError(f"{json_path}: its config does not build a {info['kind']!r} model "
                           f"({type(e).__name__}: {e})") from e
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
