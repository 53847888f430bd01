"""Config is data: YAML files shipped in `msgld/configs/<kind>/<name>.yaml`, resolved to plain
dicts, and saved next to every output (and with every set of weights)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from msgld.atomic import atomic_write_text

CONFIG_ROOT = Path(__file__).parent / "configs"


def available(kind: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_ROOT / kind).glob("*.yaml"))


def merge(base: dict, override: dict) -> dict:
    """Deep merge: nested dicts are merged, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(kind: str, name_or_path: str | Path, overrides: dict | None = None) -> dict[str, Any]:
    """A named config of `kind` (e.g. `vae`, `tiny`) or a YAML/JSON file path.

    A file may say `base: <name>` to start from a named config of the same kind.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml", ".json"):
        path = CONFIG_ROOT / kind / f"{name_or_path}.yaml"
        if not path.exists():
            raise ValueError(f"unknown {kind} config {name_or_path!r}; available: {available(kind)}")
    elif not path.exists():
        raise ValueError(f"{path}: config file not found")
    try:
        data = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a valid config file ({e})") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config must be a mapping, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is not None:
        data = merge(load_config(kind, base), data)
    return merge(data, overrides or {})


def parse_value(text: str):
    """A KEY=VALUE value (`--set`, `--option`): YAML, except that numbers YAML 1.1 leaves as
    strings ("5e-4") become floats."""
    value = yaml.safe_load(text) if isinstance(text, str) else text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def split_pairs(items: list[str] | None, flag: str, key_help: str = "KEY") -> dict[str, str]:
    """["a=1", "b.c=x"] -> {"a": "1", "b.c": "x"} (values still text), with a clear error."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} {item!r}: expected {key_help}=VALUE")
        out[key] = value
    return out


def save_config(config: dict, path: str | Path) -> Path:
    """Write a resolved config as JSON (atomically)."""
    return atomic_write_text(path, json.dumps(config, indent=2, sort_keys=True, default=str) + "\n")
