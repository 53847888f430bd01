"""`msgld data estimate`: the separator's own estimates of fixed segments, resumable and shardable."""

import pytest
import torch

from msgld import SAMPLE_RATE
from msgld.cli import main
from msgld.data.estimate_cache import EstimateDataset, write_estimates
from msgld.data.stems_dataset import DatasetError, read_segment
from msgld.inference import Separator
from msgld.inference.debug_model import make_debug_model
from msgld.testing import make_multitrack_folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("est")
    data = make_multitrack_folder(root / "data", {"train": 4, "validation": 1}, seconds=3.0)
    return data, Separator(make_debug_model(root / "model"))


def test_estimates_match_the_separator_and_reruns_skip(setup, tmp_path):
    data, sep = setup
    out = tmp_path / "cache"
    info = write_estimates(sep, data, out, "train", tracks=([0, 1, 3], 4), min_active_stems=0, seed=5)
    files = sorted((out / "train").glob("*.safetensors"))
    assert info["splits"]["train"]["items"] == 3 and [f.name for f in files] == ["Track00000@0.safetensors", "Track00001@0.safetensors",
                                                              "Track00003@0.safetensors"]
    stamps = [f.stat().st_mtime_ns for f in files]
    write_estimates(sep, data, out, "train", tracks=([0, 1, 3], 4), min_active_stems=0, seed=5)
    assert [f.stat().st_mtime_ns for f in files] == stamps  # nothing redone
    items = EstimateDataset(out, "train")
    item = items[1]
    track = items.dataset.tracks[1]
    mix = read_segment(track, items.stems, 0, items.dataset.segment).sum(0)
    expected = sep.estimate(mix, sample_rate=SAMPLE_RATE, seed=5 + 1).log_mels  # its number in the selection: 1
    torch.testing.assert_close(item["log_mels"], expected.half().float())
    assert item["stems"].shape == (4, items.dataset.segment)
    torch.testing.assert_close(item["mixture"], item["stems"].sum(0))


def test_shards_share_the_work(setup, tmp_path):
    data, sep = setup
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    write_estimates(sep, data, whole, "train", min_active_stems=0)
    for k in range(2):
        write_estimates(sep, data, parts, "train", min_active_stems=0, shard=(k, 2))
    a, b = EstimateDataset(whole, "train"), EstimateDataset(parts, "train")
    assert len(a) == len(b) == 4
    for i in range(4):
        torch.testing.assert_close(a[i]["log_mels"], b[i]["log_mels"], rtol=0, atol=0)


def test_another_model_into_the_same_cache_is_refused(setup, tmp_path):
    data, sep = setup
    out = tmp_path / "cache"
    write_estimates(sep, data, out, "train", limit=1, min_active_stems=0)
    other = Separator(make_debug_model(tmp_path / "other", seed=3))
    with pytest.raises(DatasetError, match="another model"):
        write_estimates(other, data, out, "validation", min_active_stems=0)
    with pytest.raises(DatasetError, match="another selection"):
        write_estimates(sep, data, out, "train", limit=2, min_active_stems=0)
    with pytest.raises(DatasetError, match="not an estimate cache"):
        EstimateDataset(tmp_path / "nothing")


def test_cli(setup, tmp_path, capsys):
    data, sep = setup
    out = tmp_path / "cli"
    assert main(["data", "estimate", "--data", str(data), "--out", str(out), "--model", str(sep.bundle.folder),
                 "--split", "validation", "--quiet"]) == 0
    assert len(EstimateDataset(out, "validation")) == 1
    assert main(["data", "estimate", "--data", str(data), "--out", str(out), "--tracks", "5/4"]) == 2
    assert "--tracks '5/4'" in capsys.readouterr().err
