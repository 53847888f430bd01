"""stemfit: its examples, deterministic resumable training, export and the FAD embedding."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from msgld.cli import main
from msgld.eval.embeddings import get_embedding, get_embeddings
from msgld.models.stemfit import build_stemfit
from msgld.testing import make_multitrack_folder
from msgld.training.stemfit import export_stemfit, train_stemfit
from msgld.training.stemfit_data import FitExamples


@pytest.fixture(scope="module")
def fit_folder(tmp_path_factory):
    return make_multitrack_folder(tmp_path_factory.mktemp("fit"), {"train": 3, "validation": 2}, seconds=6.0)


def test_model_windows_and_shapes():
    model = build_stemfit({}).eval()
    wave = 0.1 * torch.randn(2, 163840, generator=torch.Generator().manual_seed(0))  # 10.24 s
    feats = model.front(wave)
    assert feats.shape == (2, 20, 512)
    windows = model.windows(wave)
    assert windows.shape == (2, 13, 20, 128)
    torch.testing.assert_close(windows[1, 3], feats[1, :, 96:224])
    assert model.embed(windows[0]).shape == (13, 64) and model(windows[0]).shape == (13,)
    assert model.windows(wave[:, :8000]).shape == (2, 1, 20, 128)  # shorter than a window: padded
    # level does not matter: each window is normalised by its own level
    quiet = model.windows(wave / 8)
    torch.testing.assert_close(model.embed(quiet[0]), model.embed(windows[0]), rtol=1e-3, atol=1e-3)


def test_examples_are_seeded_and_fakes_differ(fit_folder):
    examples = FitExamples(fit_folder, "train")
    first = examples.batch(np.random.default_rng(5), 24)
    again = examples.batch(np.random.default_rng(5), 24)
    assert torch.equal(first[0], again[0]) and first[2] == again[2]
    assert first[0].shape == (24, 40960) and set(first[2]) <= {"real", "shift", "swap"}
    assert set(first[2]) > {"real"}
    assert all((y == 1.0) == (k == "real") for y, k in zip(first[1].tolist(), first[2]))


def test_mute_examples_leave_stems_out(fit_folder):
    """`mute` fakes are the real window with some audible stems left out; with mute=0 a real
    example keeps every stem."""
    only_mute = FitExamples(fit_folder, "train", mute=0.0, kind_p=(0, 0, 0, 1), gain_db=(0.0, 0.0))
    full = FitExamples(fit_folder, "train", mute=0.0, kind_p=(1, 0, 0, 0), gain_db=(0.0, 0.0))
    muted, labels, kinds = only_mute.batch(np.random.default_rng(2), 8)
    real, real_labels, real_kinds = full.batch(np.random.default_rng(2), 8)
    assert set(kinds) == {"mute"} and not labels.any() and set(real_kinds) == {"real"} and real_labels.all()
    # same track and start (the kind draw uses one number either way): quieter, never louder
    assert bool((muted.square().mean(1) < real.square().mean(1)).all())
    with pytest.raises(ValueError, match="kind_p"):
        FitExamples(fit_folder, "train", kind_p=(0, 0, 0, 0))
    with pytest.raises(ValueError, match="kind_p"):
        FitExamples(fit_folder, "train", kind_p=(1, -1, 0, 0))


def test_training_resumes_exactly_and_exports(fit_folder, tmp_path):
    common = dict(batch_size=4, every=2, val_examples=8, pool=12, progress=False)
    straight = train_stemfit(fit_folder, tmp_path / "a", steps=4, **common)
    train_stemfit(fit_folder, tmp_path / "b", steps=2, **common)
    resumed = train_stemfit(fit_folder, tmp_path / "b", steps=4, resume=True, **common)
    assert straight["step"] == resumed["step"] == 4 and [h["step"] for h in resumed["history"]] == [2, 4]
    a, b = load_file(str(tmp_path / "a" / "checkpoint.safetensors")), load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("opt.") for k in a)
    pool = load_file(str(tmp_path / "b" / "pool.safetensors"))  # made once, reused on resume
    assert pool["features"].dtype == torch.float32 and bool(torch.isfinite(pool["features"]).all())
    for key in a:
        assert torch.equal(a[key], b[key]), key
    with pytest.raises(ValueError, match="another seed, config or examples"):
        train_stemfit(fit_folder, tmp_path / "b", steps=6, seed=1, resume=True, **common)
    with pytest.raises(ValueError, match="another seed, config or examples"):
        train_stemfit(fit_folder, tmp_path / "b", steps=6, mute=0.0, resume=True, **common)

    weights = tmp_path / "export" / "stemfit"
    export_stemfit(tmp_path / "a", weights)
    emb = get_embedding("stemfit", str(weights))
    frames = emb(0.1 * torch.randn(2, 163840, generator=torch.Generator().manual_seed(0)))
    assert frames.shape == (2, 13, 64) and emb.name == "stemfit" and emb.dim == 64
    assert emb.settings()["training"]["step"] == 4 and len(emb.settings()["sha256"]) == 64
    p = emb.fit(torch.zeros(1, 163840))
    assert p.shape == (1, 13) and bool(((p >= 0) & (p <= 1)).all())
    assert [e.name for e in get_embeddings("logmel,stemfit", str(weights))] == ["logmel", "stemfit"]
    complete = get_embedding("stemfit-complete", str(weights))
    assert complete.name == "stemfit-complete" and complete.settings()["name"] == "stemfit-complete"


def test_cli_train_and_export(fit_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["embedding", "train", "--data", str(fit_folder), "--out", str(run), "--steps", "2",
                 "--batch-size", "2", "--every", "2", "--val-examples", "4", "--pool", "6",
                 "--mute", "0", "--kinds", "real=0.5,mute=0.5"]) == 0
    assert "step 2:" in capsys.readouterr().out
    settings = json.loads((run / "checkpoint.json").read_text())["settings"]["train"]
    assert settings["mute"] == 0.0 and settings["kind_p"] == {"real": 0.5, "shift": 0.0, "swap": 0.0, "mute": 0.5}
    with pytest.raises(SystemExit, match="unknown kind 'fake'"):
        main(["embedding", "train", "--data", str(fit_folder), "--out", str(run), "--kinds", "fake=1"])
    assert main(["embedding", "export", str(run), "--to", str(tmp_path / "w" / "stemfit")]) == 0
    assert (tmp_path / "w" / "stemfit.safetensors").exists() and (tmp_path / "w" / "stemfit.json").exists()


@pytest.mark.parametrize("name", ["stemfit", "stemfit-complete"])
def test_shipped_weights_load_and_embed(name):
    emb = get_embedding(name)
    assert emb.settings()["training"]["step"] > 0 and emb.settings()["weights"].endswith(f"{name}.safetensors")
    frames = emb(0.1 * torch.randn(1, 163840, generator=torch.Generator().manual_seed(1)))
    assert frames.shape == (1, 13, 64) and bool(torch.isfinite(frames).all())


def test_shipped_complete_weights_hear_missing_stems():
    """stemfit-complete was trained with mute=0 and `mute` fakes (recorded in its weights)."""
    info = get_embedding("stemfit-complete").model.weights_info["training"]
    assert info["train"]["mute"] == 0.0 and info["train"]["kind_p"]["mute"] > 0
