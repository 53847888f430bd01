"""`msgld train refiner`: the loss falls on a tiny estimate cache, the CLI exports weights that a
packed model loads, and separation then uses them (unless told not to)."""

import lightning as L
import pytest
import torch

from msgld.cli import main
from msgld.config import load_config, merge
from msgld.data.estimate_cache import write_estimates
from msgld.inference import Separator
from msgld.inference.bundle import load_bundle
from msgld.inference.debug_model import make_debug_model
from msgld.models.pack import pack_model
from msgld.testing import make_multitrack_folder
from msgld.training.refiner_module import RefinerModule
from msgld.training.trainer import RunOptions
from msgld.weights import load_model
from tests.helpers import randomise

SMALL = {"model": {"channels": 8, "groups": 4, "dilations": [[1, 1], [2, 2]]}, "data": {"crop_frames": 64},
         "train": {"limit_val_batches": 1}}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("refiner")
    data = make_multitrack_folder(root / "data", {"train": 3, "validation": 1}, seconds=3.0)
    model = make_debug_model(root / "model")
    sep = Separator(model)
    for split in ("train", "validation"):
        write_estimates(sep, data, root / "cache", split, min_active_stems=0)
    return root / "cache", model


def test_a_few_steps_raise_the_si_sdr(cache, tmp_path):
    L.seed_everything(0)
    module = RefinerModule(merge(load_config("refiner", "tiny"), {**SMALL, "optim": {"lr": 3e-3}}))
    train_loader, val_loader = module.build_loaders(cache[0], RunOptions(out=tmp_path, batch_size=3))
    assert val_loader is not None
    batch = next(iter(train_loader))
    assert batch["log_mels"].shape == (3, 4, 64, 64) and batch["mixture"].shape == (3, 64 * 160)
    opt = module.configure_optimizers()
    losses = []
    for step in range(15):
        loss = module.training_step(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0] - 0.1, losses  # the SI-SDR of the masked stems rose


def test_cli_trains_exports_and_separation_uses_it(cache, tmp_path):
    data, model = cache
    out = tmp_path / "run"
    assert main(["train", "refiner", "--data", str(data), "--out", str(out), "--max-steps", "2", "--no-progress",
                 "--set", "model.channels=8", "--set", "model.groups=4", "--set", "data.crop_frames=64",
                 "--set", "train.batch_size=2"]) == 0
    weights = out / "weights" / "final" / "refiner"
    refiner = load_model(weights, kind="refiner")
    randomise(refiner)  # two steps move it too little to tell; a random one must change the stems
    from msgld.weights import save_model

    save_model(refiner, tmp_path / "random" / "refiner", "refiner", refiner.config,
               training=load_model(weights, kind="refiner").weights_info["training"])
    packed = pack_model(tmp_path / "packed", model / "vae", model / "ldm", refiner=tmp_path / "random" / "refiner")
    bundle = load_bundle(packed)
    assert bundle.refiner is not None
    sep = Separator(bundle)
    mix = torch.randn(16000 * 3) * 0.1
    on = sep.separate(mix, sample_rate=16000)
    off = sep.separate(mix, sample_rate=16000, mask_refiner="none")
    assert not torch.allclose(on, off)
    torch.testing.assert_close(on.sum(0), mix, atol=1e-4, rtol=0)  # the stems still sum to the input
    torch.testing.assert_close(off, Separator(model).separate(mix, sample_rate=16000))  # off: the LDM alone
    assert load_bundle(packed, checkpoint=model / "ldm").refiner is None  # another LDM: not its refiner


def test_pack_refuses_a_refiner_of_another_ldm(cache, tmp_path):
    data, model = cache
    out = tmp_path / "run"
    assert main(["train", "refiner", "--data", str(data), "--out", str(out), "--max-steps", "1", "--no-progress",
                 "--set", "model.channels=8", "--set", "model.groups=4", "--set", "data.crop_frames=64"]) == 0
    other = make_debug_model(tmp_path / "other", seed=4)
    with pytest.raises(ValueError, match="estimates of LDM"):
        pack_model(tmp_path / "bad", other / "vae", other / "ldm", refiner=out / "weights" / "final" / "refiner")


def test_blind_ablation_ignores_the_estimate_and_does_not_pack(cache, tmp_path):
    data, model = cache
    module = RefinerModule(merge(load_config("refiner", "tiny"), {**SMALL, "data": {"crop_frames": 64, "blind": True}}))
    train_loader, _ = module.build_loaders(data, RunOptions(out=tmp_path, batch_size=2))
    batch = next(iter(train_loader))
    a = module.separate(batch["log_mels"], batch["mixture"])
    b = module.separate(batch["log_mels"] + torch.randn_like(batch["log_mels"]), batch["mixture"])
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    out = tmp_path / "run"
    assert main(["train", "refiner", "--data", str(data), "--out", str(out), "--max-steps", "1", "--no-progress",
                 "--set", "model.channels=8", "--set", "model.groups=4", "--set", "data.crop_frames=64",
                 "--set", "data.blind=true"]) == 0
    with pytest.raises(ValueError, match="blind"):
        pack_model(tmp_path / "bad", model / "vae", model / "ldm", refiner=out / "weights" / "final" / "refiner")
