"""Train `stemfit` (msgld.models.stemfit): real mixtures against time-shifted and swapped stems
(and, with `kind_p` giving weight to `mute` and `mute=0`, against mixtures with stems missing:
`stemfit-complete`).

A plain loop (the model is small; no Lightning needed). Reading and mixing the stems costs far
more than a step, so the examples are made once: a pool of `pool` training examples (chunk c
of 256 drawn from `default_rng([seed, 2**21 + c])`), their features kept in
`RUN/pool.safetensors`; batch k takes `batch_size` of them by `default_rng([seed, k])`. So the
run is deterministic and a resumed run continues exactly as an uninterrupted one would (same
thread count). Every `every` steps: the loss and accuracy on a fixed set of examples of the
validation split (drawn once with the seed), and a checkpoint:
`RUN/checkpoint.safetensors` (model and Adam state) + `RUN/checkpoint.json` (step, history,
settings), written atomically. `export_stemfit` writes the weights pair that
`msgld.eval.embeddings` loads (`msgld/pretrained/stemfit/stemfit.{safetensors,json}`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from msgld.atomic import atomic_output, atomic_write_text
from msgld.models.stemfit import DEFAULT_CONFIG, StemFitNet, build_stemfit
from msgld.training.stemfit_data import KINDS, FitExamples
from msgld.weights import save_model

log = logging.getLogger("msgld.stemfit")
VAL_SEED = 1 << 20
POOL_SEED = 1 << 21
CHUNK = 256


def features(model: StemFitNet, examples: FitExamples, rng: np.random.Generator, count: int) -> tuple:
    """(feature windows [count, 12 + bands, window], labels [count], kinds) of `count` new examples."""
    mix, labels, kinds = examples.batch(rng, count)
    with torch.no_grad():
        feats = model.front(mix)[..., : model.window]
    return feats, labels, kinds


def example_pool(run: Path, model: StemFitNet, examples: FitExamples, size: int, seed: int, progress: bool) -> tuple:
    """The training pool (made once, in chunks, and kept in RUN/pool.safetensors)."""
    path = run / "pool.safetensors"
    if path.exists():
        stored = load_file(str(path))
        if stored["labels"].shape[0] == size and int(stored["seed"][0]) == seed:
            return stored["features"], stored["labels"]
    parts, labels = [], []
    for c, first in enumerate(range(0, size, CHUNK)):
        f, y, _ = features(model, examples, np.random.default_rng([seed, POOL_SEED + c]), min(CHUNK, size - first))
        parts.append(f)  # float32: chroma power overflows float16
        labels.append(y)
        if progress:
            log.info("example pool: %d / %d", first + f.shape[0], size)
    out = {"features": torch.cat(parts).contiguous(), "labels": torch.cat(labels).contiguous(),
           "seed": torch.tensor([seed])}
    with atomic_output(path) as tmp:
        save_file(out, str(tmp))
    return out["features"].float(), out["labels"]


def save_checkpoint(run: Path, model: StemFitNet, opt: torch.optim.Optimizer, state: dict) -> None:
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    for index, entry in opt_state["state"].items():
        for name, value in entry.items():
            tensors[f"opt.{index}.{name}"] = torch.as_tensor(value).detach().contiguous()
    with atomic_output(run / "checkpoint.safetensors") as tmp:
        save_file(tensors, str(tmp))
    atomic_write_text(run / "checkpoint.json", json.dumps({**state, "param_groups": opt_state["param_groups"]}, indent=2) + "\n")


def load_checkpoint(run: Path, model: StemFitNet, opt: torch.optim.Optimizer) -> dict:
    state = json.loads((run / "checkpoint.json").read_text())
    tensors = load_file(str(run / "checkpoint.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    per_param: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, index, name = key.split(".", 2)
            per_param.setdefault(int(index), {})[name] = value
    opt.load_state_dict({"state": per_param, "param_groups": state.pop("param_groups")})
    return state


@torch.no_grad()
def validate(model: StemFitNet, feats: torch.Tensor, labels: torch.Tensor, kinds: list[str]) -> dict:
    model.eval()
    logits = torch.cat([model(feats[i : i + 64]) for i in range(0, len(feats), 64)])
    model.train()
    right = (logits > 0).float() == labels
    out = {"val_loss": float(F.binary_cross_entropy_with_logits(logits, labels)), "val_acc": float(right.float().mean())}
    for kind in KINDS:
        sel = torch.tensor([k == kind for k in kinds])
        if sel.any():
            out[f"val_acc_{kind}"] = float(right[sel].float().mean())
    return out


def train_stemfit(data: str | Path, out: str | Path, steps: int = 1500, batch_size: int = 32, lr: float = 3e-3,
                  seed: int = 0, every: int = 250, val_examples: int = 256, pool: int = 6144,
                  max_minutes: float | None = None, mute: float = 0.2, kind_p=(0.5, 0.25, 0.25, 0.0),
                  resume: bool = False, config: dict | None = None, preset: str = "slakh2100",
                  progress: bool = True) -> dict:
    """Train until `steps` (or `max_minutes` of wall time; the checkpoint is saved); returns the state."""
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    torch.manual_seed(seed)
    model = build_stemfit(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    window_samples = cfg["window"] * cfg["hop"]
    train_set = FitExamples(data, "train", preset, window=window_samples, mute=mute, kind_p=kind_p)
    val_set = FitExamples(data, "validation", preset, window=window_samples, mute=mute, kind_p=kind_p)
    settings = {"data": str(Path(data).resolve()), "seed": seed, "batch_size": batch_size, "lr": lr, "steps": steps,
                "config": cfg, "train": train_set.settings(), "validation": val_set.settings(),
                "val_examples": val_examples, "pool": pool,
                "batch_rng": "numpy default_rng([seed, step]) over the pool"}
    state = {"step": 0, "cpu_seconds": 0.0, "history": [], "settings": settings}
    if resume and (run / "checkpoint.json").exists():
        state = load_checkpoint(run, model, opt)
        if (state["settings"]["seed"] != seed or state["settings"]["config"] != cfg
                or state["settings"]["train"] != train_set.settings()):
            raise ValueError(f"{run}: its checkpoint has another seed, config or examples; use another --out")
        state["settings"]["steps"] = steps
        log.info("resumed %s at step %d", run, state["step"])
    started, cpu0 = time.time(), time.process_time()
    val_feats, val_labels, val_kinds = features(model, val_set, np.random.default_rng([seed, VAL_SEED]), val_examples)
    pool_feats, pool_labels = example_pool(run, model, train_set, pool, seed, progress)
    model.train()
    while state["step"] < steps:
        step = state["step"]
        index = torch.from_numpy(np.random.default_rng([seed, step]).choice(pool, batch_size, replace=False))
        loss = F.binary_cross_entropy_with_logits(model(pool_feats[index]), pool_labels[index])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"stemfit: loss {float(loss)} at step {step}; the last checkpoint is in {run}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["step"] = step + 1
        out_of_time = max_minutes is not None and time.time() - started > 60 * max_minutes
        if state["step"] % every == 0 or state["step"] == steps or out_of_time:
            state["cpu_seconds"] = round(state["cpu_seconds"] + time.process_time() - cpu0, 1)
            cpu0 = time.process_time()
            record = {"step": state["step"], "train_loss": float(loss.detach()), **validate(model, val_feats, val_labels, val_kinds),
                      "cpu_seconds": state["cpu_seconds"]}
            state["history"].append(record)
            save_checkpoint(run, model, opt, state)
            if progress:
                log.info(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        if out_of_time:
            break
    return state


def export_stemfit(run: str | Path, to: str | Path) -> Path:
    """The run's last checkpoint as the weights pair `to` (`.../stemfit` -> stemfit.safetensors + .json)."""
    run = Path(run)
    state = json.loads((run / "checkpoint.json").read_text())
    model = build_stemfit(state["settings"]["config"])
    tensors = load_file(str(run / "checkpoint.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    last = state["history"][-1] if state["history"] else {}
    training = {"step": state["step"], "cpu_seconds": state["cpu_seconds"], "last": last,
                **{k: v for k, v in state["settings"].items() if k != "config"}}
    tensors_path, _ = save_model(model, to, kind="stemfit", config=state["settings"]["config"], training=training)
    return tensors_path
