"""Lightning training end to end on a tiny folder: steps, resume, atomic checkpoints, export."""

from __future__ import annotations

import json

import pytest
import torch

from msgld.cli import main
from msgld.config import load_config, merge
from msgld.training.run import export_run, train
from msgld.training.trainer import AtomicCheckpointIO, RunOptions
from msgld.weights import load_model, read_info
from tests.training.conftest import TINY_VAE, TINY_VOCODER


def options(out, **kw):
    base = dict(max_steps=2, batch_size=2, num_workers=0, checkpoint_every=1, val_every=2, log_every=1,
                limit_val_batches=1, progress=False)
    return RunOptions(out=out, **{**base, **kw})


def ckpt_step(path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def test_vae_trains_resumes_and_exports(stems_dir, tmp_path):
    out = tmp_path / "run"
    config = merge(load_config("vae", "tiny"), TINY_VAE)
    paths = train("vae", stems_dir, config, options(out))
    assert ckpt_step(out / "checkpoints" / "last.ckpt") == 2
    assert set(paths) == {"final", "best"}
    saved = json.loads((out / "config.json").read_text())
    assert saved["kind"] == "vae" and saved["run"]["seed"] == 0 and saved["config"]["model"]["channels"] == 8
    assert (out / "logs" / "csv" / "launch-00" / "metrics.csv").exists()
    assert not list((out / "checkpoints").glob("*.part"))

    with pytest.raises(ValueError, match="--resume"):
        train("vae", stems_dir, config, options(out, max_steps=3))
    train("vae", stems_dir, config, options(out, max_steps=4, resume=True))
    assert ckpt_step(out / "checkpoints" / "last.ckpt") == 4  # continued, not restarted
    assert "0,1," in (out / "logs" / "csv" / "launch-00" / "metrics.csv").read_text()  # first launch's log kept
    assert "0,3," in (out / "logs" / "csv" / "launch-01" / "metrics.csv").read_text()

    info = read_info(out / "weights" / "final" / "vae")
    assert info["training"]["steps"] == 4 and info["kind"] == "vae"
    vae = load_model(out / "weights" / "final" / "vae")
    assert vae.scale_factor == info["scale_factor"] and vae.scale_factor != 1.0
    assert len(json.loads((out / "config.json").read_text())["history"]) == 1

    exported = export_run(out, "last", tmp_path / "exported")
    again = load_model(exported)
    x = torch.randn(1, 1, 16, 64) - 5
    with torch.no_grad():
        assert torch.equal(again(x, sample=False)[0], vae(x, sample=False)[0])


def test_vae_decoder_finetune_keeps_encoder_and_scale_factor(stems_dir, tmp_path):
    config = merge(load_config("vae", "tiny"), TINY_VAE)
    first = train("vae", stems_dir, config, options(tmp_path / "first"))["final"]
    start = load_model(first)
    tuned_config = merge(config, {"train": {"init_from": str(first), "freeze_encoder": True}})
    tuned = load_model(train("vae", stems_dir, tuned_config, options(tmp_path / "tuned", max_steps=3))["final"])
    assert tuned.scale_factor == start.scale_factor
    for name, value in start.state_dict().items():
        same = torch.equal(value, tuned.state_dict()[name])
        assert same == name.startswith(("encoder.", "quant_conv.")), name  # only the decoder side moved
    from msgld.weights import file_hash, weight_paths

    # LDMs trained on the first VAE's latents still load with the fine-tune (msgld.inference.bundle)
    assert tuned.weights_info["training"]["encoder_hash"] == file_hash(weight_paths(first)[0])


def test_vocoder_counts_generator_steps(stems_dir, tmp_path):
    out = tmp_path / "voc"
    config = merge(load_config("vocoder", "tiny"), {**TINY_VOCODER, "loss": {"adversarial_start": 1}})
    paths = train("vocoder", stems_dir, config, options(out, max_steps=3, val_every=3))
    assert ckpt_step(out / "checkpoints" / "last.ckpt") == 3  # discriminator steps not counted
    gen = load_model(paths["final"], kind="vocoder")
    assert gen(torch.randn(1, 4, 64) - 5).shape == (1, 640)
    metrics = (out / "logs" / "csv" / "launch-00" / "metrics.csv").read_text()
    assert "train/d_loss" in metrics and "val/log_mel_l1" in metrics


def test_cli_train_vae(stems_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["train", "vae", "--data", str(stems_dir), "--config", "tiny", "--out", str(out), "--max-steps", "2",
            "--batch-size", "2", "--num-workers", "0", "--checkpoint-every", "1", "--val-every", "1",
            "--limit-val-batches", "1", "--no-progress", "--bf16", "--seed", "3",
            "--set", "model.channels=8", "--set", "model.norm_groups=4", "--set", "data.segment=5120",
            "--set", "data.val_segment=5120", "--set", "scale_factor.batches=1"]
    assert main(args) == 0
    assert "final:" in capsys.readouterr().out
    saved = json.loads((out / "config.json").read_text())
    assert saved["run"]["precision"] == "bf16-mixed" and saved["run"]["seed"] == 3
    assert load_model(out / "weights" / "final" / "vae").config["channels"] == 8
    assert main(["train", "export", str(out), "--which", "best", "--to", str(tmp_path / "exp")]) == 0
    assert (tmp_path / "exp" / "vae.safetensors").exists()


def test_atomic_checkpoint_io(tmp_path):
    io = AtomicCheckpointIO()
    io.save_checkpoint({"a": torch.ones(2)}, tmp_path / "x.ckpt")
    assert torch.equal(torch.load(tmp_path / "x.ckpt", weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["x.ckpt"]


def test_vae_adversarial_option_counts_autoencoder_steps(stems_dir, tmp_path):
    out = tmp_path / "adv"
    config = merge(load_config("vae", "tiny"),
                   {**TINY_VAE, "loss": {"adversarial": {"weight": 0.5, "start": 1, "channels": 8, "layers": 2}}})
    train("vae", stems_dir, config, options(out, max_steps=3, val_every=3))
    assert ckpt_step(out / "checkpoints" / "last.ckpt") == 3
    metrics = (out / "logs" / "csv" / "launch-00" / "metrics.csv").read_text()
    assert "train/d_loss" in metrics and "train/adv_weight" in metrics
    assert "discriminator" not in "".join(read_info(out / "weights" / "final" / "vae")["config"])


@pytest.mark.parametrize("native, expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_precision_auto_picks_bf16_only_where_it_is_native(monkeypatch, tmp_path, native, expected):
    import msgld.diffusion.sampling as sampling

    monkeypatch.setattr(sampling, "native_bf16", lambda device: native)
    assert RunOptions.from_config(tmp_path, {"precision": "auto"}).precision == expected
    assert RunOptions.from_config(tmp_path, {"precision": "auto"}, precision="32-true").precision == "32-true"
    assert load_config("ldm", "tiny-v-text")["train"]["precision"] == "auto"


@pytest.mark.parametrize("native", [True, False])
def test_asking_for_bf16_without_native_bfloat16_warns(monkeypatch, tmp_path, capsys, native):
    import argparse

    import msgld.diffusion.sampling as sampling
    from msgld.training.trainer import add_run_arguments, options_from_args

    monkeypatch.setattr(sampling, "native_bf16", lambda device: native)
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    opts = options_from_args(parser.parse_args(["--out", str(tmp_path), "--bf16"]), {})
    assert opts.precision == "bf16-mixed"  # as asked
    assert ("emulated" in capsys.readouterr().err) is not native
