"""Size and cost of a model: parameters, input/output shapes and FLOPs of one forward on a
10.24 s segment, counted on the meta device (no memory, no compute: the paper-size U-Net
is summarised in a second on a laptop)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from msgld.config import load_config
from msgld.weights import factory_for, read_info

SEGMENT_FRAMES = 1024  # mel frames of 10.24 s


def model_config(kind: str, config_or_weights: str) -> tuple[dict, str]:
    """(the factory's config, where it came from) for a config name/file or a weights path."""
    path = Path(config_or_weights)
    if path.with_suffix(".json").exists() or (path.suffix == ".json" and path.exists() and "kind" in path.read_text()):
        info = read_info(path)
        if info["kind"] != kind:
            raise ValueError(f"{path}: holds a {info['kind']!r} model, not a {kind!r} model")
        return info["config"], f"weights {path}"
    cfg = load_config(kind, config_or_weights)
    if kind == "ldm":
        return {"model": cfg["model"], "diffusion": cfg["diffusion"]}, f"config {config_or_weights}"
    return cfg["model"], f"config {config_or_weights}"


def example_inputs(kind: str, model, frames: int = SEGMENT_FRAMES) -> tuple:
    if kind == "vae":
        return (torch.zeros(1, 1, frames, 64),)
    if kind == "vocoder":
        return (torch.zeros(1, frames, 64),)
    if kind == "ldm":
        t = frames // 4
        return torch.zeros(1, len(model.stems), 8, t, 16), torch.zeros(1, dtype=torch.long), torch.zeros(1, 8, t, 16)
    raise ValueError(f"unknown model kind {kind!r}; choose vae, vocoder or ldm")


def shapes(out) -> list:
    if isinstance(out, torch.Tensor):
        return list(out.shape)
    if isinstance(out, (tuple, list)):
        return [shapes(o) for o in out if isinstance(o, (torch.Tensor, tuple, list))]
    return [list(out.mean.shape)] if hasattr(out, "mean") else []


def summarize(kind: str, config_or_weights: str) -> dict:
    config, source = model_config(kind, config_or_weights)
    with torch.device("meta"):
        model = factory_for(kind)(config)
        inputs = example_inputs(kind, model)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            out = model(*inputs)
    params = sum(p.numel() for p in model.parameters())
    return {
        "kind": kind, "source": source, "parameters": params, "parameters_millions": round(params / 1e6, 3),
        "segment_seconds": 10.24, "input_shapes": [list(x.shape) for x in inputs], "output_shapes": shapes(out),
        "flops_per_forward": int(counter.get_total_flops()),
        "gflops_per_forward": round(counter.get_total_flops() / 1e9, 2),
    }
