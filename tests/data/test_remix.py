import shutil

import pytest
import torch

from msgld.data.latent_cache import LatentDataset, encode_dataset, encode_signals
from msgld.data.remix import AugmentedLatents, augment_settings
from msgld.data.stems_dataset import DatasetError
from msgld.diffusion.objective import drop_condition
from tests.helpers import save_tiny_vae

FRAMES = 32


@pytest.fixture
def cache(slakh_dir, tmp_path):
    save_tiny_vae(tmp_path)
    encode_dataset(slakh_dir, tmp_path / "vae", tmp_path / "cache", splits=["train"])
    return tmp_path / "cache"


def test_off_is_the_base_dataset(cache):
    base = LatentDataset(cache, "train", FRAMES, seed=3)
    aug = AugmentedLatents(LatentDataset(cache, "train", FRAMES, seed=3), remix=0.0, gain_db=0.0, seed=3)
    for i in range(len(base)):
        item = aug[i]
        assert item["remixed"] is False
        torch.testing.assert_close(item["stems"], base[i]["stems"], rtol=0, atol=0)
        torch.testing.assert_close(item["mixture"], base[i]["mixture"], rtol=0, atol=0)


def test_remixed_stems_are_cached_crops_and_the_mixture_their_audio(cache):
    base = LatentDataset(cache, "train", FRAMES, sample=False)
    aug = AugmentedLatents(base, remix=1.0, seed=1)
    items = [aug[i] for i in range(len(aug))]
    assert all(item["remixed"] for item in items)
    crops = [(t, s, start) for t, track in enumerate(base.tracks) for s in range(4)
             for start in range(track["stems_mean"].shape[2] - FRAMES + 1)]
    sources = set()
    for item in items:
        for s in range(4):  # every stem is one cached crop of that stem, at some track and frame
            match = [(t, start) for t, ss, start in crops if ss == s and torch.equal(
                item["stems"][s], base.read(t, "stems", start, None)[s])]
            assert match, f"stem {s} is no cached crop"
            sources.add(match[0][0])
    assert len(sources) > 1  # stems come from more than one song
    # the remixed mixture is the VAE's encoding of the summed audio of those crops: with one song's
    # stems at one position it matches the cached mixture away from the crop's edges, at that
    # position and not one latent frame beside it
    t, start = 2, 40
    audio = sum(aug._audio(t, s, start) for s in range(4))
    mean, _ = encode_signals(aug.vae, aug.front, torch.from_numpy(audio[None]))
    inner = slice(4, FRAMES - 4)

    def error(shift):
        return (mean[0].float() * base.scale - base.read(t, "mix", start + shift, None))[:, inner].abs().mean()

    assert error(0) < 0.05 and error(0) < error(-1) / 3 and error(0) < error(1) / 3


def test_draws_repeat_per_epoch_and_change_across_epochs(cache):
    def items(epoch):
        aug = AugmentedLatents(LatentDataset(cache, "train", FRAMES, seed=0), remix=0.5, gain_db=6.0, seed=0)
        aug.set_epoch(epoch)
        return [aug[i] for i in range(4)]

    a, b, c = items(0), items(0), items(1)
    for x, y in zip(a, b):
        torch.testing.assert_close(x["stems"], y["stems"], rtol=0, atol=0)
        assert x["remixed"] == y["remixed"]
    assert any(not torch.equal(x["stems"], z["stems"]) for x, z in zip(a, c))


def test_gain_reencodes_the_stems(cache):
    base = LatentDataset(cache, "train", FRAMES, sample=False)
    aug = AugmentedLatents(base, remix=0.0, gain_db=12.0, seed=0)
    item, plain = aug[0], base[0]
    assert item["remixed"] is False and item["stems"].shape == plain["stems"].shape
    assert not torch.allclose(item["stems"], plain["stems"], atol=0.05)


def test_missing_audio_and_bad_settings_are_refused(cache, slakh_dir):
    with pytest.raises(ValueError, match="probability"):
        augment_settings({"remix": 1.5})
    with pytest.raises(ValueError, match="unknown keys"):
        augment_settings({"remixing": 0.5})
    shutil.rmtree(slakh_dir / "train")
    with pytest.raises(DatasetError, match="audio the cache was encoded from"):
        AugmentedLatents(LatentDataset(cache, "train", FRAMES), remix=0.5)


def test_remixes_keep_their_condition():
    cond = torch.ones(6, 2, 3)
    keep = torch.tensor([True, False, True, False, False, False])
    out = drop_condition(cond, 1.0, torch.Generator().manual_seed(0), keep)
    assert out[keep].eq(1).all() and out[~keep].eq(0).all()
