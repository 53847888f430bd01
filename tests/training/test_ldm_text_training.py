"""Text-conditioned LDM training: warm-started from a text-free export (step 0 is exactly that
model), trains, resumes, exports weights whose JSON names the encoder, and loads for prompts."""

from __future__ import annotations

import copy
import json
import os

import pytest
import torch
import yaml

from msgld.cli import main
from msgld.data.latent_cache import encode_dataset
from msgld.data.text_cache import encode_captions
from msgld.training.ldm_module import LDMModule
from msgld.weights import load_model
from tests.helpers import save_tiny_vae
from tests.training.conftest import SMALL

TEXT = ["--set", "model.text_dim=256", "--set", "text.encoder=keywords", "--set", "text.dropout=0.5"]


@pytest.fixture
def text_cache(slakh_dir, tmp_path):
    save_tiny_vae(tmp_path)
    for k, style in enumerate(("jazz", "metal", "funk")):
        meta = {"track": f"Track{k:05d}", "style": style, "tempo": {"bpm": 90 + 30 * k}, "meter": "4/4",
                "key": "C major", "caption": f"a {style} band in C major at {90 + 30 * k} BPM",
                "stems": {s: {"instrument": s} for s in ("bass", "drums", "guitar", "piano")}, "missing_stems": []}
        (slakh_dir / "train" / f"Track{k:05d}" / "metadata.yaml").write_text(yaml.safe_dump(meta))
    cache = tmp_path / "cache"
    encode_dataset(slakh_dir, tmp_path / "vae", cache, splits=["train"])
    os.symlink(cache / "train", cache / "validation")
    encode_captions(slakh_dir, cache / "text" / "keywords", "keywords", splits=["train"], variants=3)
    os.symlink(cache / "text" / "keywords" / "train", cache / "text" / "keywords" / "validation")
    return cache


def test_text_fine_tune_warm_starts_trains_resumes_and_exports(text_cache, tmp_path):
    base = ["train", "ldm", "--data", str(text_cache), "--batch-size", "2", "--no-progress", "--checkpoint-every", "1",
            "--val-every", "2", "--limit-val-batches", "1", *SMALL]
    plain = tmp_path / "plain"
    assert main([*base, "--out", str(plain), "--max-steps", "1"]) == 0
    source = plain / "weights" / "final" / "ldm"
    run = tmp_path / "text"
    args = [*base, "--out", str(run), *TEXT, "--set", f"train.init_from={source}"]

    # step 0: the text pathway is added at zero, so the module computes what the source does, any text
    from msgld.config import load_config
    from msgld.cli.train import parse_overrides

    cfg = load_config("ldm", "tiny", parse_overrides([v for a, v in zip(args, args[1:]) if a == "--set"]))
    module = LDMModule(cfg)
    src = load_model(source, kind="ldm")
    x, c = torch.randn(2, 4, 8, 32, 16), torch.randn(2, 8, 32, 16)
    with torch.no_grad():
        torch.testing.assert_close(module.ema(x, torch.tensor([5, 700]), c, text=torch.randn(2, 256)),
                                   src(x, torch.tensor([5, 700]), c), rtol=0, atol=0)

    assert main([*args, "--max-steps", "2"]) == 0
    assert main([*args, "--max-steps", "3", "--resume"]) == 0
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["global_step"] == 3
    info = json.loads((run / "weights" / "final" / "ldm.json").read_text())
    assert info["config"]["text"] == {"encoder": "keywords", "dim": 256, "dropout": 0.5}
    net = load_model(run / "weights" / "final" / "ldm")
    assert net.has_text and net.text_info["encoder"] == "keywords"
    assert net.text_embed.fc2.weight.abs().max() > 0  # the pathway was trained


def test_freeze_base_trains_the_text_pathway_alone(text_cache, tmp_path):
    base = ["train", "ldm", "--data", str(text_cache), "--batch-size", "2", "--no-progress", "--checkpoint-every", "1",
            "--val-every", "5", "--limit-val-batches", "1", *SMALL]
    from msgld.cli.train import parse_overrides
    from msgld.config import load_config
    from msgld.models.unet3d import build_ldm
    from msgld.weights import save_model

    cfg = load_config("ldm", "tiny", parse_overrides([v for a, v in zip(SMALL, SMALL[1:]) if a == "--set"]))
    model = build_ldm(cfg)  # a trained-looking source: a fresh one's zero-initialised convs pass no gradient
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    source = tmp_path / "source" / "ldm"
    save_model(model, source, "ldm", {"model": cfg["model"], "diffusion": cfg["diffusion"]})
    run = tmp_path / "text"
    assert main([*base, "--out", str(run), "--max-steps", "3", *TEXT, "--set", f"train.init_from={source}",
                 "--set", "optim.freeze_base=true", "--set", "objective.cfg_dropout=1.0",
                 "--set", "optim.text_lr_scale=10"]) == 0
    src, net = load_model(source, kind="ldm"), load_model(run / "weights" / "final" / "ldm")
    trained = net.state_dict()
    for k, v in src.state_dict().items():  # every base weight (and so the EMA exported) as it was loaded
        torch.testing.assert_close(trained[k], v, rtol=0, atol=0)
    assert net.text_embed.fc2.weight.abs().max() > 0
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    groups = ckpt["optimizer_states"][0]["param_groups"]
    assert len(groups) == 1 and len(groups[0]["params"]) == len(list(net.text_embed.parameters()))
    assert main([*base, "--out", str(tmp_path / "bad"), "--max-steps", "1", "--set", "optim.freeze_base=true"]) == 2


def test_text_run_refuses_embeddings_of_another_encoder(text_cache, tmp_path):
    args = ["train", "ldm", "--data", str(text_cache), "--out", str(tmp_path / "r"), "--batch-size", "2",
            "--no-progress", "--max-steps", "1", *SMALL, "--set", "model.text_dim=384",
            "--set", "text.encoder=all-MiniLM-L6-v2", "--set", f"text.cache={text_cache / 'text' / 'keywords'}"]
    assert main(args) == 2


def test_fork_with_a_text_learning_rate_scale_splits_the_optimizer_keeping_its_moments(text_cache, tmp_path):
    base = ["train", "ldm", "--data", str(text_cache), "--batch-size", "2", "--no-progress", "--checkpoint-every", "1",
            "--val-every", "5", "--limit-val-batches", "1", *SMALL, *TEXT, "--set", "optim.warmup_steps=1"]
    assert main([*base, "--out", str(tmp_path / "a"), "--max-steps", "2"]) == 0
    source = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    config = copy.deepcopy(source["hyper_parameters"]["config"])
    config["optim"]["text_lr_scale"] = 30.0
    module = LDMModule(config)
    names = [n for n, _ in module.net.named_parameters()]
    text = [i for i, n in enumerate(names) if n.startswith("text_embed.")]
    assert len(source["optimizer_states"][0]["param_groups"]) == 1 and text

    moved = copy.deepcopy(source)
    module.on_load_checkpoint(moved)  # what the fork does before the optimizer is restored
    groups = moved["optimizer_states"][0]["param_groups"]
    lr = source["optimizer_states"][0]["param_groups"][0]["lr"]
    assert [len(g["params"]) for g in groups] == [len(names) - len(text), len(text)]
    assert groups[0]["lr"] == pytest.approx(lr) and groups[1]["lr"] == pytest.approx(30 * lr)
    old, new = source["optimizer_states"][0]["state"], moved["optimizer_states"][0]["state"]
    rest = [i for i in range(len(names)) if i not in text]
    for k, i in enumerate(rest + text):
        torch.testing.assert_close(new[k]["exp_avg_sq"], old[i]["exp_avg_sq"])
    opt = module.configure_optimizers()["optimizer"]
    opt.load_state_dict(moved["optimizer_states"][0])  # the shapes line up with the new groups

    assert main([*base, "--out", str(tmp_path / "b"), "--fork", str(tmp_path / "a"), "--max-steps", "3",
                 "--set", "optim.text_lr_scale=30"]) == 0
    ckpt = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["global_step"] == 3
    assert [g["lr"] for g in ckpt["optimizer_states"][0]["param_groups"]] == pytest.approx([lr, 30 * lr])
    assert ckpt["lr_schedulers"][0]["base_lrs"] == pytest.approx([lr, 30 * lr])
