"""A tiny 16 kHz Slakh-layout folder and tiny model overrides, so training runs take seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import save_tiny_vae, tone_stems, write_track

SMALL = ["--set", "model.channels=8", "--set", "model.channel_mult=[1,2]", "--set", "model.attention_levels=[1]",
         "--set", "model.head_dim=8", "--set", "model.norm_groups=4", "--set", "data.latent_frames=32"]
"""`msgld train ldm` overrides that make a U-Net train in seconds."""

TINY_VAE = {
    "model": {"channels": 8, "num_res_blocks": 1, "norm_groups": 4},
    "data": {"segment": 5120, "val_segment": 5120, "max_images": 6},
    "scale_factor": {"batches": 2},
}
TINY_VOCODER = {
    "model": {"upsample_initial_channel": 32},
    "discriminator": {"mpd_width": 0.03, "msd_width": 0.03, "periods": [2, 3]},
    "data": {"segment": 3200, "val_segment": 3200, "waves_per_batch": 4},
}


@pytest.fixture(scope="session")
def stems_dir(tmp_path_factory) -> Path:
    """train: 2 tracks of 1.5 s (one with a silent guitar); validation: 1 track."""
    root = tmp_path_factory.mktemp("stems16k")
    for k in range(2):
        stems = tone_stems(1.5, 16000, k)
        if k == 1:
            stems["guitar"] *= 0
        write_track(root / "train" / f"Track{k:05d}", stems, 16000)
    write_track(root / "validation" / "Track00100", tone_stems(1.0, 16000, 5), 16000)
    return root


@pytest.fixture
def cache(slakh_dir, tmp_path):
    """A latent cache of the Slakh fixture's train split, which doubles as validation (the
    fixture's test split, 2.5 s, is too short for a crop)."""
    import os

    from msgld.data.latent_cache import encode_dataset

    save_tiny_vae(tmp_path)
    encode_dataset(slakh_dir, tmp_path / "vae", tmp_path / "cache", splits=["train"])
    os.symlink(tmp_path / "cache" / "train", tmp_path / "cache" / "validation")
    return tmp_path / "cache"
