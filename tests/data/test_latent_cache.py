import json

import pytest
import torch

from msgld.data.latent_cache import LatentDataset, encode_dataset
from msgld.data.stems_dataset import DatasetError
from msgld.models.vae import build_vae
from msgld.weights import save_model

VAE_CFG = {"channels": 8, "channel_mult": [1, 2, 4], "num_res_blocks": 1, "norm_groups": 4, "mid_attention": False}


@pytest.fixture
def vae_weights(tmp_path):
    torch.manual_seed(0)
    vae = build_vae(VAE_CFG)
    vae.scale_factor = 2.0
    save_model(vae, tmp_path / "vae", "vae", vae.config)
    return tmp_path / "vae"


def test_encode_and_read_crops(slakh_dir, vae_weights, tmp_path):
    cache = tmp_path / "cache"
    info = encode_dataset(slakh_dir, vae_weights, cache)
    assert info["splits"] == ["train", "test"] and info["scale_factor"] == 2.0
    files = sorted(p.name for p in (cache / "train").iterdir())
    assert files == ["Track00000.safetensors", "Track00001.safetensors", "Track00002.safetensors"]
    ds = LatentDataset(cache, "train", frames=32, seed=0)
    item = ds[0]
    assert item["stems"].shape == (4, 8, 32, 16) and item["mixture"].shape == (8, 32, 16)
    # 3 s, 4 s, 5 s tracks: 300, 400, 500 mel frames -> 75, 100, 125 latent frames -> 2 + 3 + 3 crops
    assert len(ds) == 8
    torch.testing.assert_close(ds[3]["stems"], LatentDataset(cache, "train", frames=32, seed=0)[3]["stems"])
    fixed = LatentDataset(cache, "train", frames=32, fixed=True)
    torch.testing.assert_close(fixed[1]["mixture"], fixed[1]["mixture"])


def test_encode_resumes_and_refuses_another_vae(slakh_dir, vae_weights, tmp_path):
    cache = tmp_path / "cache"
    encode_dataset(slakh_dir, vae_weights, cache, splits=["train"])
    target = cache / "train" / "Track00001.safetensors"
    stamp = target.stat().st_mtime_ns
    (cache / "train" / "Track00002.safetensors").unlink()  # as if killed before the last track
    encode_dataset(slakh_dir, vae_weights, cache, splits=["train"])
    assert target.stat().st_mtime_ns == stamp
    assert (cache / "train" / "Track00002.safetensors").exists()
    other = build_vae(VAE_CFG)
    save_model(other, tmp_path / "other", "vae", other.config)
    with pytest.raises(DatasetError, match="another VAE"):
        encode_dataset(slakh_dir, tmp_path / "other", cache, splits=["train"])
    assert json.loads((cache / "cache.json").read_text())["stems"] == ["bass", "drums", "guitar", "piano"]


def test_not_a_cache(tmp_path):
    with pytest.raises(DatasetError, match="not a latent cache"):
        LatentDataset(tmp_path)


def test_encode_cli(slakh_dir, vae_weights, tmp_path):
    from msgld.cli import main

    assert main(["data", "encode", "--data", str(slakh_dir), "--vae", str(vae_weights), "--out", str(tmp_path / "c"),
                 "--splits", "test", "--quiet"]) == 0
    assert (tmp_path / "c" / "test" / "Track00100.safetensors").exists()


def test_shards_together_equal_one_run(slakh_dir, vae_weights, tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    encode_dataset(slakh_dir, vae_weights, whole, splits=["train"])
    encode_dataset(slakh_dir, vae_weights, parts, splits=["train"], shard=(1, 2))
    names = sorted(p.name for p in (whole / "train").iterdir())
    assert sorted(p.name for p in (parts / "train").iterdir()) == names[1::2]
    encode_dataset(slakh_dir, vae_weights, parts, splits=["train"], shard=(0, 2))
    for name in names:
        assert (whole / "train" / name).read_bytes() == (parts / "train" / name).read_bytes()
    with pytest.raises(ValueError, match="shard"):
        encode_dataset(slakh_dir, vae_weights, parts, splits=["train"], shard=(2, 2))
