"""The shared Lightning setup for every model kind (the VAE, the vocoder, the diffusion model).

A run folder holds everything about one training run:

```
RUN/
  config.json            the resolved config, the run options (seed included), data path, version
  checkpoints/last.ckpt  Lightning training state every `checkpoint_every` steps (atomic writes)
  checkpoints/best.ckpt  the best by the module's `monitor` metric (when there is validation)
  logs/csv/launch-NN/metrics.csv  one CSV per launch (a resume starts the next), and
  logs/tensorboard/      (when tensorboard is installed; event files of all launches)
  weights/{final,best}/NAME.safetensors + NAME.json   exported by msgld.weights
```

`--resume` continues from `checkpoints/last.ckpt` (global step, optimizer, loops).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from msgld import __version__
from msgld.atomic import atomic_output, write_error
from msgld.config import save_config


@dataclass
class RunOptions:
    """How to train (not what): the same fields for every model kind. Config `train:` sections
    give the defaults; command-line flags override them."""

    out: Path
    max_steps: int = 1000
    max_minutes: float | None = None  # wall-time limit of this launch (equal-time ablations)
    batch_size: int = 4
    num_workers: int = 0
    seed: int = 0
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    precision: str = "32-true"
    resume: bool = False
    fork: str | None = None  # the run folder this run started from (`--fork`)
    checkpoint_every: int = 500
    val_every: int = 500
    log_every: int = 10
    limit_val_batches: int = 8
    progress: bool = True

    @classmethod
    def from_config(cls, out: str | Path, train_cfg: dict, **overrides) -> "RunOptions":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in (train_cfg or {}).items() if k in names}
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("precision") == "auto":
            values["precision"] = auto_precision(values.get("accelerator", "auto"))
        return cls(out=Path(out), **{k: v for k, v in values.items() if k != "out"})

    def to_dict(self) -> dict:
        return {**asdict(self), "out": str(self.out)}


def auto_precision(accelerator: str) -> str:
    """Precision "auto": bf16-mixed where the training device computes bfloat16 natively (CPUs
    with AVX512-BF16 or AMX, CUDA sm80+; 1.4x faster LDM steps on such a CPU,
    benchmarks/bench_ldm_train.py), else 32-true (emulated bf16 is slower than fp32)."""
    from msgld.diffusion.sampling import native_bf16

    gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if native_bf16("cuda" if gpu else "cpu") else "32-true"


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line flags of RunOptions (defaults None: the config's `train:` decides)."""
    parser.add_argument("--out", required=True, type=Path, help="run folder (config, checkpoints, logs, weights)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.ckpt")
    parser.add_argument("--fork", metavar="RUN", help="start --out from RUN's last checkpoint and config (--config "
                        "is ignored; --set changes it): an ablation arm that continues RUN with one setting changed")
    parser.add_argument("--max-steps", type=int, help="total optimizer steps (counting those already done)")
    parser.add_argument("--max-minutes", type=float,
                        help="stop this launch after so many minutes of wall time (the last checkpoint is saved)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--num-workers", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (precision bf16-mixed; CPU too)")
    parser.add_argument("--precision", help="any Lightning precision, e.g. 32-true, bf16-mixed, 16-mixed; auto: bf16-mixed where "
                        "the device has native bfloat16, else 32-true")
    parser.add_argument("--accelerator", help="cpu, gpu, auto (default auto)")
    parser.add_argument("--devices", help="number of devices or 'auto' (DDP when more than one)")
    parser.add_argument("--strategy", help="Lightning strategy, e.g. ddp, ddp_find_unused_parameters_true")
    parser.add_argument("--checkpoint-every", type=int)
    parser.add_argument("--val-every", type=int)
    parser.add_argument("--log-every", type=int)
    parser.add_argument("--limit-val-batches", type=int)
    parser.add_argument("--no-progress", dest="progress", action="store_const", const=False)


def options_from_args(args: argparse.Namespace, train_cfg: dict) -> RunOptions:
    precision = args.precision or ("bf16-mixed" if args.bf16 else None)
    if precision and precision.startswith("bf16") and auto_precision(args.accelerator or "auto") != "bf16-mixed":
        print(f"msgld train: warning: precision {precision} on a device without native bfloat16: autocast is "
              "emulated and slower than fp32 here (--precision auto picks fp32)", file=sys.stderr)
    devices = args.devices
    if devices is not None and devices != "auto":
        devices = int(devices)
    return RunOptions.from_config(
        args.out, train_cfg, max_steps=args.max_steps, max_minutes=args.max_minutes, batch_size=args.batch_size, num_workers=args.num_workers,
        seed=args.seed, accelerator=args.accelerator, devices=devices, strategy=args.strategy,
        precision=precision, resume=args.resume, fork=getattr(args, "fork", None),
        checkpoint_every=args.checkpoint_every,
        val_every=args.val_every, log_every=args.log_every, limit_val_batches=args.limit_val_batches,
        progress=args.progress,
    )


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save into a temporary file in the same folder, fsync, then os.replace: a crash
    never leaves a half-written checkpoint under the final name."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except (RuntimeError, OSError) as e:  # a full disk: torch.save says "unexpected pos"
            raise write_error(path, e) from e
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


class SetEpoch(Callback):
    """Tell the training dataset the epoch (MultiStemDataset draws its shifts from it)."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        dataset = getattr(trainer.train_dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(trainer.current_epoch)


class LaunchTimer(Callback):
    """Stop after `minutes` of wall time of this launch and save the last checkpoint.
    (Lightning's `max_time` restores its clock from a resumed checkpoint, so it counts earlier
    launches too and a resumed run over its budget stops at once.)"""

    def __init__(self, minutes: float, out: Path):
        self.seconds, self.out = 60 * minutes, Path(out)
        self.started = None

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not trainer.should_stop and time.monotonic() - self.started >= self.seconds:
            trainer.should_stop = True
            trainer.save_checkpoint(last_checkpoint(self.out), weights_only=False)  # the full state, to resume


def checkpoint_dir(out: Path) -> Path:
    return Path(out) / "checkpoints"


def last_checkpoint(out: Path) -> Path:
    return checkpoint_dir(out) / "last.ckpt"


def fork_run(source: Path, out: Path, kind: str) -> dict:
    """Start the run folder `out` from `source`'s last checkpoint (weights, EMA, optimizer and
    step): the checkpoint is copied, and `source`'s config is returned for the caller to change
    (an ablation arm that continues a run with one setting changed). Refuses an `out` that
    already has checkpoints, and a source of another kind or without a checkpoint."""
    source, out = Path(source), Path(out)
    record = source / "config.json"
    if not last_checkpoint(source).exists() or not record.exists():
        raise ValueError(f"{source}: not a run folder with a last checkpoint to fork from")
    saved = json.loads(record.read_text())
    if saved.get("kind") != kind:
        raise ValueError(f"{source}: a {saved.get('kind')} run, not {kind}")
    if last_checkpoint(out).exists():
        raise ValueError(f"{out}: already has checkpoints; choose a new --out to fork into")
    checkpoint_dir(out).mkdir(parents=True, exist_ok=True)
    with atomic_output(last_checkpoint(out)) as tmp:
        shutil.copyfile(last_checkpoint(source), tmp)
    return saved["config"]


def prepare_run(opts: RunOptions, kind: str, config: dict, data: str | Path | None) -> Path:
    """Create the run folder and save the resolved config; refuse to start over an existing run
    without --resume. On resume the saved config is the one that counts (returned unchanged)."""
    out = opts.out
    saved = out / "config.json"
    if last_checkpoint(out).exists() and not opts.resume:
        raise ValueError(f"{out}: already has checkpoints; pass --resume to continue or choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    if int(os.environ.get("LOCAL_RANK", 0)) or int(os.environ.get("NODE_RANK", 0)):
        return saved  # DDP: the other processes re-run the command; rank 0 writes the record
    record = {
        "kind": kind, "config": config, "run": opts.to_dict(), "data": str(data) if data else None,
        "msgld_version": __version__, "command": sys.argv,
    }
    if opts.resume and saved.exists():
        previous = json.loads(saved.read_text())
        record["history"] = previous.get("history", []) + [{"run": previous.get("run"), "command": previous.get("command")}]
    save_config(record, saved)
    return saved


def build_trainer(opts: RunOptions, monitor: str | None = None, mode: str = "min",
                  callbacks: list[Callback] | None = None) -> L.Trainer:
    """A Trainer with step-based checkpoints (last + best by `monitor`), CSV and TensorBoard
    logs, a progress bar, and DDP / precision from the options."""
    ckpt = checkpoint_dir(opts.out)
    cbs: list[Callback] = [
        ModelCheckpoint(dirpath=ckpt, filename="step{step:08d}", auto_insert_metric_name=False,
                        every_n_train_steps=opts.checkpoint_every, save_top_k=0, save_last=True,
                        enable_version_counter=False),  # a forked run's copied last.ckpt is overwritten
        SetEpoch(),
    ]
    if opts.max_minutes is not None:
        cbs.append(LaunchTimer(opts.max_minutes, opts.out))
    if monitor:
        cbs.append(ModelCheckpoint(dirpath=ckpt, filename="best", monitor=monitor, mode=mode, save_top_k=1,
                                   enable_version_counter=False, auto_insert_metric_name=False))
    if opts.progress:
        cbs.append(TQDMProgressBar(refresh_rate=max(1, min(10, opts.log_every))))
    launch = len(list((opts.out / "logs" / "csv").glob("launch-*")))
    loggers = [CSVLogger(opts.out / "logs", name="csv", version=f"launch-{launch:02d}")]
    try:
        from lightning.pytorch.loggers import TensorBoardLogger
        import tensorboard  # noqa: F401

        loggers.append(TensorBoardLogger(opts.out / "logs", name="tensorboard", version="", default_hp_metric=False))
    except ImportError:
        pass
    return L.Trainer(
        default_root_dir=opts.out,
        max_steps=opts.max_steps,
        max_epochs=-1,
        accelerator=opts.accelerator,
        devices=opts.devices,
        strategy=opts.strategy,
        precision=opts.precision,
        callbacks=cbs + list(callbacks or []),
        logger=loggers,
        plugins=[AtomicCheckpointIO()],
        val_check_interval=opts.val_every,
        check_val_every_n_epoch=None,
        limit_val_batches=opts.limit_val_batches,
        log_every_n_steps=opts.log_every,
        num_sanity_val_steps=0,
        enable_progress_bar=opts.progress,
        enable_model_summary=True,
    )


def resume_path(opts: RunOptions) -> Path | None:
    path = last_checkpoint(opts.out)
    return path if opts.resume and path.exists() else None


def best_checkpoint(trainer: L.Trainer) -> Path | None:
    for cb in trainer.checkpoint_callbacks:
        if cb.monitor and cb.best_model_path:
            return Path(cb.best_model_path)
    return None


def load_training_state(module: L.LightningModule, path: str | Path) -> int:
    """Load a checkpoint's module weights (tensors only: weights_only=True), with the module's own
    `on_load_checkpoint` hook, as Lightning calls it (what the module keeps beside its weights).
    Returns its global step."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    module.on_load_checkpoint(ckpt)
    module.load_state_dict(ckpt["state_dict"])
    return int(ckpt.get("global_step", 0))
