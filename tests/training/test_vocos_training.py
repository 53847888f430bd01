"""`msgld train vocoder` with the Vocos architecture: GAN steps, --resume, export."""

from __future__ import annotations

import json

import torch

from msgld.cli import main
from msgld.config import load_config, merge
from msgld.models.vocos import Vocos
from msgld.training.run import export_run, train
from msgld.training.trainer import RunOptions
from msgld.weights import load_model, read_info

TINY_VOCOS = {
    "model": {"dim": 32, "intermediate_dim": 64, "num_layers": 2},
    "discriminator": {"mpd_width": 0.03, "periods": [2, 3], "mrd_width": 0.125,
                      "mrd_resolutions": [[256, 64, 256], [512, 128, 512]]},
    "data": {"segment": 3200, "val_segment": 3200, "waves_per_batch": 4},
    "loss": {"adversarial_start": 1},
}


def ckpt_step(path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def test_vocos_trains_resumes_and_exports(stems_dir, tmp_path):
    out = tmp_path / "vocos"
    config = merge(load_config("vocoder", "vocos-tiny"), TINY_VOCOS)
    opts = RunOptions(out=out, max_steps=2, batch_size=2, num_workers=0, checkpoint_every=1, val_every=2,
                      log_every=1, limit_val_batches=1, progress=False)
    paths = train("vocoder", stems_dir, config, opts)
    assert ckpt_step(out / "checkpoints" / "last.ckpt") == 2  # generator steps; the discriminator's not counted
    metrics = (out / "logs" / "csv" / "launch-00" / "metrics.csv").read_text()
    assert "train/d_loss" in metrics and "val/log_mel_l1" in metrics

    # --resume from the command line continues the run (its saved config, step and optimizers)
    assert main(["train", "vocoder", "--data", str(stems_dir), "--config", "vocos-tiny", "--out", str(out),
                 "--resume", "--max-steps", "3", "--batch-size", "2", "--num-workers", "0", "--checkpoint-every", "1",
                 "--val-every", "1", "--log-every", "1", "--limit-val-batches", "1", "--no-progress"]) == 0
    assert ckpt_step(out / "checkpoints" / "last.ckpt") == 3
    assert (out / "logs" / "csv" / "launch-01" / "metrics.csv").exists()
    assert json.loads((out / "config.json").read_text())["config"]["model"]["dim"] == 32

    info = read_info(out / "weights" / "final" / "vocoder")
    assert info["config"]["arch"] == "vocos" and info["training"]["steps"] == 3
    gen = load_model(out / "weights" / "final" / "vocoder", kind="vocoder")
    assert isinstance(gen, Vocos)
    with torch.no_grad():
        assert gen(torch.randn(1, 4, 64) - 5).shape == (1, 640)
        again = load_model(export_run(out, "last", tmp_path / "exported"), kind="vocoder")
        mel = torch.randn(1, 9, 64) - 5
        assert torch.equal(again(mel), gen(mel))
    assert paths["final"].exists()
