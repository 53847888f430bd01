"""`msgld train demucs`: the loss falls, runs checkpoint, resume and export weights that load."""

from __future__ import annotations

import json

import lightning as L
import torch

from msgld.cli import main
from msgld.config import load_config, merge
from msgld.models.htdemucs import separate_waves
from msgld.testing import make_multitrack_folder
from msgld.training.demucs_module import DemucsModule
from msgld.training.run import train
from msgld.training.trainer import RunOptions
from msgld.weights import load_model, read_info

SMALL = {"model": {"segment": 0.5, "channels": 8, "t_layers": 1, "t_heads": 2}, "train": {"limit_val_batches": 1}}


def folder(tmp_path_factory):
    return make_multitrack_folder(tmp_path_factory.mktemp("demucs-data"), {"train": 2, "validation": 1}, seconds=3.0)


def test_a_few_steps_lower_the_loss(tmp_path_factory):
    data = folder(tmp_path_factory)
    L.seed_everything(0)
    module = DemucsModule(merge(load_config("demucs", "tiny"), {**SMALL, "optim": {"lr": 3e-3}}))
    train_loader, val_loader = module.build_loaders(data, RunOptions(out=tmp_path_factory.mktemp("o"), batch_size=4))
    assert val_loader is not None
    batch = next(iter(train_loader))
    assert batch["stems"].shape == (4, 4, 8000)
    opt = module.configure_optimizers()
    losses = []
    for step in range(12):
        loss = module.training_step(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.96 * losses[0], losses
    assert sum(losses[-3:]) < sum(losses[:3])


def test_augmented_step_runs(tmp_path_factory):
    data = folder(tmp_path_factory)
    config = merge(load_config("demucs", "tiny"), {**SMALL, "augment": {"enabled": True, "shift_seconds": 0.25}})
    module = DemucsModule(config)
    train_loader, _ = module.build_loaders(data, RunOptions(out=tmp_path_factory.mktemp("o"), batch_size=4))
    batch = next(iter(train_loader))
    assert batch["stems"].shape[-1] == 8000 + 4000  # crops longer by the shift
    loss = module.training_step(batch, 0)
    assert torch.isfinite(loss)


def test_cli_trains_resumes_and_exports(tmp_path_factory, tmp_path):
    data = folder(tmp_path_factory)
    out = tmp_path / "run"
    args = ["train", "demucs", "--data", str(data), "--config", "tiny", "--out", str(out),
            "--set", "model.segment=0.5", "--set", "model.channels=8", "--set", "model.t_layers=1",
            "--set", "model.t_heads=2", "--set", "train.limit_val_batches=1",
            "--batch-size", "2", "--checkpoint-every", "1", "--val-every", "2", "--no-progress"]
    assert main([*args, "--max-steps", "2"]) == 0
    assert json.loads((out / "config.json").read_text())["kind"] == "demucs"
    for which in ("final", "best"):
        assert (out / "weights" / which / "demucs.safetensors").exists()
    assert main([*args, "--max-steps", "3", "--resume"]) == 0
    info = read_info(out / "weights" / "final" / "demucs")
    assert info["kind"] == "demucs" and info["training"]["steps"] == 3
    assert info["config"]["sources"] == ["bass", "drums", "guitar", "piano"] and info["config"]["segment"] == 0.5
    model = load_model(out / "weights" / "final" / "demucs")
    mix = 0.1 * torch.randn(1, 12000)
    assert separate_waves(model, mix).shape == (1, 4, 12000)


def test_train_function_matches_export(tmp_path_factory, tmp_path):
    data = folder(tmp_path_factory)
    config = merge(load_config("demucs", "tiny"), SMALL)
    opts = RunOptions(out=tmp_path / "run", max_steps=1, batch_size=2, checkpoint_every=1, val_every=1,
                      log_every=1, limit_val_batches=1, progress=False)
    paths = train("demucs", data, config, opts)
    model = load_model(paths["final"])
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, state["state_dict"][f"model.{name}"])
