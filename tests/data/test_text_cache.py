"""Caption embeddings beside a latent cache: made once, read by LatentDataset; a cache without
them reads exactly as before."""

from __future__ import annotations

import pytest
import torch
import yaml

from msgld.data.latent_cache import LatentDataset, encode_dataset
from msgld.data.stems_dataset import DatasetError
from msgld.data.text_cache import TextCache, default_text_folder, encode_captions
from msgld.models.vae import build_vae
from msgld.weights import save_model

VAE_CFG = {"channels": 8, "channel_mult": [1, 2, 4], "num_res_blocks": 1, "norm_groups": 4, "mid_attention": False}


def write_metadata(root, split, track, style, bpm):
    meta = {"track": track, "style": style, "tempo": {"bpm": bpm}, "meter": "4/4", "key": "C major",
            "caption": f"a {style} band in C major at {bpm} BPM with root-note upright bass and swing drums",
            "stems": {"bass": {"instrument": "upright bass"}, "drums": {"instrument": "Jazz kit"}},
            "missing_stems": ["guitar", "piano"]}
    (root / split / track / "metadata.yaml").write_text(yaml.safe_dump(meta))


@pytest.fixture
def cache(slakh_dir, tmp_path):
    torch.manual_seed(0)
    vae = build_vae(VAE_CFG)
    save_model(vae, tmp_path / "vae", "vae", vae.config)
    encode_dataset(slakh_dir, tmp_path / "vae", tmp_path / "cache", splits=["train"])
    write_metadata(slakh_dir, "train", "Track00000", "jazz", 100)
    write_metadata(slakh_dir, "train", "Track00002", "metal", 150)  # Track00001 has no metadata
    return tmp_path / "cache"


def test_captions_encoded_read_and_resumed(slakh_dir, cache):
    folder = default_text_folder(cache, "keywords")
    info = encode_captions(slakh_dir, folder, "keywords", splits=["train"], variants=4, seed=0)
    assert info["encoder"] == "keywords" and info["dim"] == 256
    files = sorted(p.name for p in (folder / "train").iterdir())
    assert files == ["Track00000.safetensors", "Track00002.safetensors"]
    text = TextCache(folder)
    emb = text.get("train", "Track00000")
    assert emb.shape == (5, 256) and text.get("train", "Track00001") is None
    prompts = text.prompts("train", "Track00000")
    assert prompts[0].startswith("a jazz band") and len(prompts) == 5
    stamp = (folder / "train" / "Track00000.safetensors").stat().st_mtime_ns
    encode_captions(slakh_dir, folder, "keywords", splits=["train"], variants=4, seed=0)
    assert (folder / "train" / "Track00000.safetensors").stat().st_mtime_ns == stamp  # finished: skipped
    with pytest.raises(DatasetError, match="made otherwise"):
        encode_captions(slakh_dir, folder, "keywords", splits=["train"], variants=8, seed=0)


def test_dataset_with_and_without_text(slakh_dir, cache):
    folder = default_text_folder(cache, "keywords")
    encode_captions(slakh_dir, folder, "keywords", splits=["train"], variants=4, seed=0)
    plain = LatentDataset(cache, "train", frames=32, seed=0)
    texted = LatentDataset(cache, "train", frames=32, seed=0, text=folder)
    assert "text" not in plain[0] and len(plain) == len(texted)
    for i in range(len(plain)):  # the latents are what they are without text
        a, b = plain[i], texted[i]
        torch.testing.assert_close(a["stems"], b["stems"])
        torch.testing.assert_close(a["mixture"], b["mixture"])
        assert b["text"].shape == (256,)
    names = [texted.names[t] for t, _ in texted.items]
    no_caption = [i for i, n in enumerate(names) if n == "Track00001"]
    assert no_caption and all(torch.equal(texted[i]["text"], torch.zeros(256)) for i in no_caption)
    jazz = TextCache(folder).get("train", "Track00000")
    for i in (i for i, n in enumerate(names) if n == "Track00000"):  # items draw one of the track's prompts
        assert any(torch.equal(row, texted[i]["text"]) for row in jazz)
    fixed = LatentDataset(cache, "train", frames=32, fixed=True, text=folder)
    first = next(i for i, (t, _) in enumerate(fixed.items) if fixed.names[t] == "Track00000")
    torch.testing.assert_close(fixed[first]["text"], jazz[0])  # fixed: the caption itself


def test_missing_text_folder_is_explained(cache, tmp_path):
    with pytest.raises(DatasetError, match="encode-text"):
        LatentDataset(cache, "train", frames=32, text=tmp_path / "nothing")


def test_encode_text_cli(slakh_dir, cache):
    from msgld.cli import main

    assert main(["data", "encode-text", "--data", str(slakh_dir), "--cache", str(cache), "--encoder", "keywords",
                 "--variants", "2", "--splits", "train", "--quiet"]) == 0
    assert TextCache(cache / "text" / "keywords").get("train", "Track00002").shape == (3, 256)
