"""Train a model kind end to end: run folder, Lightning fit (or resume), export of weights.

A task is a LightningModule class with `kind`, `monitor` (validation metric or None), a
`model` (the pure nn.Module that is exported), `model_config`, `build_loaders(data, opts)`
and `prepare_export(train_loader) -> dict` (e.g. the VAE measures its scale factor).
Other kinds (the diffusion model) add theirs with `register_task`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import time
from pathlib import Path

import lightning as L

from msgld.audio.mel import MelConfig
from msgld.training.trainer import (
    RunOptions, best_checkpoint, build_trainer, last_checkpoint, load_training_state, prepare_run, resume_path,
)
from msgld.weights import save_model

log = logging.getLogger(__name__)

_TASKS = {
    "vae": "msgld.training.vae_module:VAEModule",
    "vocoder": "msgld.training.vocoder_module:VocoderModule",
    "ldm": "msgld.training.ldm_module:LDMModule",
    "demucs": "msgld.training.demucs_module:DemucsModule",
    "refiner": "msgld.training.refiner_module:RefinerModule",
}


def register_task(kind: str, target: str | type) -> None:
    """`target`: a LightningModule class or "module:Class"."""
    _TASKS[kind] = target


def task_class(kind: str) -> type[L.LightningModule]:
    target = _TASKS.get(kind)
    if target is None:
        raise ValueError(f"unknown training kind {kind!r}; known: {sorted(_TASKS)}")
    if isinstance(target, str):
        module, name = target.split(":")
        target = getattr(importlib.import_module(module), name)
    return target


def export(module, out: Path, name: str, train_loader, info: dict) -> tuple[Path, Path]:
    """Save `module.model` as out/NAME.safetensors + .json, after `prepare_export`."""
    extra = module.prepare_export(train_loader) or {}
    return save_model(module.model.cpu(), out / name, module.kind, module.model_config, MelConfig(),
                      training={**info, **extra})


def from_checkpoint(config: dict) -> dict:
    """The config to build a module whose state a checkpoint then replaces: without
    `train.init_from`, whose weights would be overwritten anyway and may have changed or gone
    since the run started (e.g. the shipped model it was warm-started from). The run's saved
    config keeps it."""
    train = {k: v for k, v in config.get("train", {}).items() if k != "init_from"}
    return {**config, "train": train}


def train(kind: str, data: str | Path, config: dict, opts: RunOptions, name: str | None = None) -> dict[str, Path]:
    """Fit (or resume) and export `weights/final/NAME` and `weights/best/NAME` (when validated).

    On resume the run folder's saved config replaces `config`."""
    saved = opts.out / "config.json"
    if opts.resume and saved.exists():
        config = json.loads(saved.read_text())["config"]
    prepare_run(opts, kind, config, data)
    L.seed_everything(opts.seed, workers=True)
    ckpt = resume_path(opts)
    module = task_class(kind)(from_checkpoint(config) if ckpt else config)
    train_loader, val_loader = module.build_loaders(data, opts)
    trainer = build_trainer(opts, module.monitor if val_loader is not None else None)
    started = time.time()
    # a resumed checkpoint is read as tensors only (where fit takes the flag; torch >= 2.6 defaults to it)
    safe = {"weights_only": True} if "weights_only" in inspect.signature(trainer.fit).parameters else {}
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt, **safe)
    if not trainer.is_global_zero:
        return {}
    info = {"steps": int(trainer.global_step), "seed": opts.seed, "data": str(data), "run": str(opts.out),
            "precision": opts.precision, "seconds_this_launch": round(time.time() - started, 1),
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}}
    name = name or kind
    paths = {"final": export(module, opts.out / "weights" / "final", name, train_loader, info)[0]}
    best = best_checkpoint(trainer)
    if best is not None and best.exists():
        step = load_training_state(module, best)
        paths["best"] = export(module, opts.out / "weights" / "best", name, train_loader,
                               {**info, "steps": step, "checkpoint": best.name})[0]
    for which, path in paths.items():
        log.info("exported %s weights: %s", which, path)
    return paths


def export_run(run: str | Path, which: str = "last", out: str | Path | None = None, name: str | None = None,
               data: str | Path | None = None, batch_size: int | None = None) -> Path:
    """Export weights from a run's checkpoint (`last`, `best`, or a .ckpt path) without training:
    for runs stopped early or still going."""
    run = Path(run)
    record = json.loads((run / "config.json").read_text())
    kind, config = record["kind"], record["config"]
    ckpt = Path(which) if which.endswith(".ckpt") else (
        last_checkpoint(run) if which == "last" else run / "checkpoints" / f"{which}.ckpt")
    if not ckpt.exists():
        raise FileNotFoundError(f"{ckpt}: checkpoint not found")
    module = task_class(kind)(from_checkpoint(config))
    step = load_training_state(module, ckpt)
    opts = RunOptions.from_config(run, record.get("run", {}), batch_size=batch_size, num_workers=0)
    train_loader, _ = module.build_loaders(data or record["data"], opts)
    info = {"steps": step, "seed": opts.seed, "data": str(data or record["data"]), "run": str(run),
            "checkpoint": ckpt.name, "precision": opts.precision}
    target = Path(out) if out else run / "weights" / ckpt.stem
    path = export(module, target, name or kind, train_loader, info)[0]
    log.info("exported %s (step %d): %s", ckpt.name, step, path)
    return path
