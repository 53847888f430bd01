import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from msgld.cli import main
from msgld.weights import load_model, save_model
from tests.training.conftest import SMALL


def test_cli_trains_resumes_and_exports(cache, tmp_path):
    run = tmp_path / "run"
    args = ["train", "ldm", "--data", str(cache), "--out", str(run), "--batch-size", "2", "--no-progress",
            "--checkpoint-every", "1", "--val-every", "2", "--limit-val-batches", "1", *SMALL]
    assert main([*args, "--max-steps", "2"]) == 0
    assert main([*args, "--max-steps", "3", "--resume"]) == 0
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["global_step"] == 3
    net = load_model(run / "weights" / "final" / "ldm")
    assert net.stems == ["bass", "drums", "guitar", "piano"]
    assert net.latent_info["scale_factor"] == 1.0 and net.diffusion_config["beta_schedule"] == "scaled_linear"
    info = json.loads((run / "weights" / "final" / "ldm.json").read_text())
    assert info["kind"] == "ldm" and info["training"]["steps"] == 3
    assert main([*args, "--max-steps", "4"]) == 2  # refuses to start over a run without --resume


def test_two_processes_hold_the_same_weights(cache, tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
         str(worker), str(cache), str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "world 2" in proc.stdout + proc.stderr
    r0, r1 = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    assert r0.keys() == r1.keys()
    for k in r0:
        torch.testing.assert_close(r0[k], r1[k], rtol=0, atol=0)


def test_init_from_exported_weights_copies_net_and_ema(tmp_path):
    from msgld.config import load_config
    from msgld.models.unet3d import build_ldm
    from msgld.training.ldm_module import LDMModule
    from msgld.weights import save_model

    cfg = load_config("ldm", "tiny")
    cfg["model"] = {**cfg["model"], "channels": 8, "channel_mult": [1, 2], "attention_levels": [], "norm_groups": 4}
    source = build_ldm({"model": cfg["model"], "diffusion": cfg["diffusion"]})
    for p in source.parameters():
        torch.nn.init.normal_(p, std=0.01)
    save_model(source, tmp_path / "ldm", "ldm", {"model": cfg["model"], "diffusion": cfg["diffusion"]})
    tuned = {**cfg, "diffusion": {**cfg["diffusion"], "prediction_type": "v_prediction"},
             "train": {**cfg["train"], "init_from": str(tmp_path / "ldm")}}
    module = LDMModule(tuned)
    for a, b, c in zip(source.parameters(), module.net.parameters(), module.ema.parameters()):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, c)
    other = {**tuned, "model": {**cfg["model"], "channels": 16, "norm_groups": 8}}
    with pytest.raises(ValueError, match="U-Net config differs"):
        LDMModule(other)


def test_init_from_a_text_model_drops_its_text_pathway(tmp_path):
    from msgld.config import load_config
    from msgld.models.unet3d import TEXT_PREFIX, build_ldm
    from msgld.training.ldm_module import LDMModule

    cfg = load_config("ldm", "tiny")
    model = {**cfg["model"], "channels": 8, "channel_mult": [1, 2], "attention_levels": [], "norm_groups": 4}
    source = build_ldm({"model": {**model, "text_dim": 16}, "diffusion": cfg["diffusion"]})
    for p in source.parameters():
        torch.nn.init.normal_(p, std=0.01)
    save_model(source, tmp_path / "ldm", "ldm", {"model": {**model, "text_dim": 16}, "diffusion": cfg["diffusion"]})
    module = LDMModule({**cfg, "model": model, "train": {**cfg["train"], "init_from": str(tmp_path / "ldm")}})
    kept = {k: v for k, v in source.state_dict().items() if not k.startswith(TEXT_PREFIX)}
    assert set(kept) == set(module.net.state_dict()) and len(kept) < len(source.state_dict())
    for k, v in kept.items():
        torch.testing.assert_close(module.ema.state_dict()[k], v)


def test_init_from_grows_a_trained_model_without_changing_it(tmp_path):
    from msgld.config import load_config
    from msgld.models.unet3d import EXTRA_INFIX, build_ldm
    from msgld.training.ldm_module import LDMModule

    cfg = load_config("ldm", "tiny")
    model = {**cfg["model"], "channels": 8, "channel_mult": [1, 2], "attention_levels": [], "norm_groups": 4,
             "text_dim": 16}
    source = build_ldm({"model": model, "diffusion": cfg["diffusion"]})
    for p in source.parameters():
        torch.nn.init.normal_(p, std=0.01)
    save_model(source, tmp_path / "ldm", "ldm", {"model": model, "diffusion": cfg["diffusion"]})
    grown = {**model, "extra_blocks": [0, 1], "text_film": True}
    module = LDMModule({**cfg, "model": grown, "train": {**cfg["train"], "init_from": str(tmp_path / "ldm")}})
    assert any(EXTRA_INFIX in k for k in module.net.state_dict())
    g = torch.Generator().manual_seed(0)
    x, c, text = torch.randn(1, 4, 8, 16, 16, generator=g), torch.randn(1, 8, 16, 16, generator=g), torch.randn(1, 16)
    with torch.no_grad():
        torch.testing.assert_close(module.ema(x, torch.tensor([700]), c, text=text),
                                   source(x, torch.tensor([700]), c, text=text), rtol=0, atol=0)
    shrunk = {**cfg, "model": {**model, "num_res_blocks": 2}, "train": {**cfg["train"], "init_from": str(tmp_path / "ldm")}}
    with pytest.raises(ValueError, match="U-Net config differs"):
        LDMModule(shrunk)

def test_resume_and_export_need_not_find_init_from_again(cache, tmp_path):
    # a run warm-started from weights that have since changed or gone (e.g. the shipped model
    # was replaced): its checkpoint holds the state, so resume and export must not reload them
    source = tmp_path / "start"
    first = ["train", "ldm", "--data", str(cache), "--batch-size", "2", "--no-progress", "--val-every", "5",
             "--limit-val-batches", "1", "--checkpoint-every", "1", *SMALL]
    assert main([*first, "--out", str(source), "--max-steps", "1"]) == 0
    run = tmp_path / "warm"
    warm = [*first, "--out", str(run), "--set", f"train.init_from={source / 'weights' / 'final' / 'ldm'}"]
    assert main([*warm, "--max-steps", "1"]) == 0
    for f in (source / "weights" / "final").iterdir():
        f.unlink()
    assert main([*warm, "--max-steps", "2", "--resume"]) == 0
    assert main(["train", "export", str(run), "--which", "last", "--to", str(tmp_path / "export")]) == 0
    assert json.loads((tmp_path / "export" / "ldm.json").read_text())["training"]["steps"] == 2


def test_trains_on_remixes_and_records_the_augmentation(cache, tmp_path):
    run = tmp_path / "aug"
    args = ["train", "ldm", "--data", str(cache), "--out", str(run), "--batch-size", "2", "--no-progress",
            "--max-steps", "1", "--val-every", "1", "--limit-val-batches", "1", *SMALL,
            "--set", "data.augment.remix=1.0", "--set", "data.augment.gain_db=3"]
    assert main(args) == 0
    info = json.loads((run / "weights" / "final" / "ldm.json").read_text())
    assert info["training"]["augment"] == {"remix": 1.0, "gain_db": 3.0}


def test_fork_continues_a_run_with_a_changed_setting(cache, tmp_path):
    base = ["train", "ldm", "--data", str(cache), "--batch-size", "2", "--no-progress", "--val-every", "5",
            "--limit-val-batches", "1", "--checkpoint-every", "1"]
    assert main([*base, "--out", str(tmp_path / "a"), "--max-steps", "2", *SMALL]) == 0
    arm = ["--out", str(tmp_path / "b"), "--fork", str(tmp_path / "a"), "--max-steps", "3",
           "--set", "data.augment.remix=1.0"]
    assert main([*base, *arm]) == 0
    ckpt = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["global_step"] == 3  # continued from the source's step 2
    record = json.loads((tmp_path / "b" / "config.json").read_text())
    assert record["run"]["fork"] == str(tmp_path / "a")
    assert record["config"]["data"]["augment"] == {"remix": 1.0}
    assert record["config"]["model"]["channels"] == 8  # the source's config, not --config's
    source = json.loads((tmp_path / "a" / "config.json").read_text())
    assert "augment" not in source["config"]["data"]
    assert main([*base, *arm]) == 2  # refuses to fork over checkpoints


def test_fork_that_anneals_decays_the_learning_rate_from_the_source_step(cache, tmp_path):
    base = ["train", "ldm", "--data", str(cache), "--batch-size", "2", "--no-progress", "--val-every", "5",
            "--limit-val-batches", "1", "--checkpoint-every", "1"]
    assert main([*base, "--out", str(tmp_path / "a"), "--max-steps", "2", *SMALL, "--set", "optim.warmup_steps=1"]) == 0
    lr = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True,
                    map_location="cpu")["optimizer_states"][0]["param_groups"][0]["lr"]
    assert main([*base, "--out", str(tmp_path / "b"), "--fork", str(tmp_path / "a"), "--max-steps", "4",
                 "--set", "optim.anneal_start=2", "--set", "optim.anneal_steps=4", "--set", "optim.anneal_floor=0.2"]) == 0
    ckpt = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["global_step"] == 4
    # two of the four decay steps done: halfway down the cosine from 1 to the floor
    assert ckpt["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(lr * (0.2 + 0.8 * 0.5))


def test_max_minutes_counts_this_launch_only(cache, tmp_path):
    args = ["train", "ldm", "--data", str(cache), "--out", str(tmp_path / "t"), "--batch-size", "2", "--no-progress",
            "--max-steps", "100", "--max-minutes", "0.00001", "--val-every", "50", "--checkpoint-every", "50", *SMALL]
    assert main(args) == 0  # out of time after its first step: that step is checkpointed
    step = torch.load(tmp_path / "t" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["global_step"]
    assert step == 1
    assert main([*args, "--resume"]) == 0  # a resumed launch gets its own minutes, not the earlier ones'
    step = torch.load(tmp_path / "t" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["global_step"]
    assert step == 2
