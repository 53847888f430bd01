import numpy as np
import pytest
import soundfile as sf
import torch

from msgld.data.stems_dataset import DatasetError, MultiStemDataset
from tests.helpers import tone_stems, write_track

SEG = 16000  # 1 s segments keep the tests fast


def test_slakh_train_segments(slakh_dir, tmp_path):
    ds = MultiStemDataset(slakh_dir, "train", "slakh2100", segment=SEG, seed=1, cache_dir=tmp_path / "cache")
    assert ds.stems == ["bass", "drums", "guitar", "piano"]
    assert len(ds) == 3 + 4 + 5  # whole 1 s segments per track (3 s, 4 s, 5 s)
    item = ds[0]
    assert item["stems"].shape == (4, SEG) and item["stems"].dtype == torch.float32
    torch.testing.assert_close(item["mixture"], item["stems"].sum(0))
    # deterministic given seed and epoch; the shift changes with the epoch
    again = MultiStemDataset(slakh_dir, "train", segment=SEG, seed=1, cache_dir=tmp_path / "cache")
    assert again[5]["start"] == ds[5]["start"]
    starts = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        starts.add(ds[5]["start"])
    assert len(starts) > 1


def test_resampled_content_matches_source(slakh_dir, tmp_path):
    ds = MultiStemDataset(slakh_dir, "test", mode="eval", segment=SEG, cache_dir=tmp_path)
    item = ds[0]
    assert item["start"] == 0
    bass, sr = sf.read(slakh_dir / "test" / "Track00100" / "bass.wav", dtype="float32")
    from msgld.audio.io import resample

    expected = resample(bass, sr, 16000)[:SEG]
    np.testing.assert_allclose(item["stems"][0].numpy()[100:-100], expected[100:-100], atol=2e-3)
    # guitar.wav is missing in this track: silence
    assert torch.all(item["stems"][2] == 0)


def test_eval_segments_fixed_and_non_overlapping(slakh_dir, tmp_path):
    ds = MultiStemDataset(slakh_dir, "train", mode="eval", segment=SEG, cache_dir=tmp_path)
    assert len(ds) == 12
    starts = [(ds[i]["track"], ds[i]["start"]) for i in range(len(ds))]
    assert starts[:3] == [("Track00000", 0), ("Track00000", SEG), ("Track00000", 2 * SEG)]


def test_min_active_stems_filter_cached_outside_dataset(tmp_path):
    root = tmp_path / "data"
    stems = tone_stems(3.0, 16000, 0)
    for name in ("guitar", "piano"):
        stems[name][16000:] = 0  # second and third seconds: only bass and drums
    write_track(root / "test" / "Track00001", stems, 16000)
    cache = tmp_path / "cache"
    ds = MultiStemDataset(root, "test", mode="eval", segment=SEG, min_active_stems=3, cache_dir=cache)
    assert [ds[i]["start"] for i in range(len(ds))] == [0]
    assert list((cache / "index").glob("*.json"))
    assert sorted(p.name for p in (root / "test" / "Track00001").iterdir()) == [
        "bass.wav", "drums.wav", "guitar.wav", "piano.wav"]  # nothing written into the data
    train = MultiStemDataset(root, "test", mode="train", segment=SEG, min_active_stems=3, cache_dir=cache, seed=3)
    for i in range(len(train)):
        assert train[i]["start"] < 16000  # redrawn until 3 stems are active


def test_musdb_preset_stereo_44k(musdb_dir, tmp_path):
    ds = MultiStemDataset(musdb_dir, "test", "musdb18hq", mode="eval", segment=SEG, cache_dir=tmp_path)
    assert ds.stems == ["bass", "drums", "other", "vocals"]
    item = ds[0]
    assert item["stems"].shape == (4, SEG)
    # stereo (x, x/2) folds to 0.75 x
    src, sr = sf.read(musdb_dir / "test" / "Some Artist - Song" / "vocals.wav", dtype="float32")
    assert np.abs(item["stems"][3].numpy()).max() == pytest.approx(np.abs(src.mean(1)).max(), rel=0.05)


def test_different_lengths_error_or_pad(tmp_path):
    root = tmp_path / "bad"
    stems = tone_stems(2.0, 16000, 0)
    stems["piano"] = stems["piano"][:8000]
    write_track(root / "train" / "Track00007", stems, 16000)
    with pytest.raises(DatasetError, match="Track00007.*different lengths"):
        MultiStemDataset(root, "train", segment=SEG, cache_dir=tmp_path)
    ds = MultiStemDataset(root, "train", segment=SEG, pad_mismatched=True, cache_dir=tmp_path, mode="eval")
    assert torch.all(ds[1]["stems"][3] == 0)


def test_missing_split_and_short_track(tmp_path):
    with pytest.raises(DatasetError, match="split folder not found"):
        MultiStemDataset(tmp_path, "train", cache_dir=tmp_path)
    write_track(tmp_path / "d" / "test" / "T1", tone_stems(0.5, 16000, 0), 16000)
    ds = MultiStemDataset(tmp_path / "d", "test", mode="eval", segment=SEG, cache_dir=tmp_path)
    assert len(ds) == 1 and ds[0]["stems"].shape == (4, SEG)
    assert torch.all(ds[0]["stems"][:, 8000:] == 0)
