"""A tiny 16 kHz Slakh-layout folder and tiny model overrides, so training runs take seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import tone_stems, write_track

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
