"""The written-stems readings: onset correlation ranks a part on the song's beat above the same
part shifted or silent; level reads dB against the real part; inactive originals are skipped."""

import numpy as np
import pytest
import torch

from msgld.eval.written_stems import FLOOR_DB, level_db, onset_correlation, read_written, summarize

SR = 16000


def clicks(period: float, seconds: float = 4.0, offset: float = 0.0, seed: int = 0) -> np.ndarray:
    """Decaying noise bursts every `period` seconds from `offset` (a drum part)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR), dtype=np.float32)
    burst = (rng.standard_normal(800) * np.exp(-np.arange(800) / 120)).astype(np.float32)
    for t in np.arange(offset, seconds - 0.06, period):
        i = int(t * SR)
        out[i : i + 800] += burst
    return 0.3 * out


def test_onset_correlation_ranks_the_beat():
    real = clicks(0.5)
    assert onset_correlation(real, real, SR) == pytest.approx(1.0)
    on_beat = clicks(0.5, seed=1)  # other sounds, same times
    off_beat = clicks(0.5, offset=0.25, seed=1)  # the same part half a beat late
    other_tempo = clicks(0.37, seed=1)
    assert onset_correlation(on_beat, real, SR) > 0.8
    assert onset_correlation(off_beat, real, SR) < 0.3
    assert onset_correlation(other_tempo, real, SR) < 0.3
    assert onset_correlation(np.zeros_like(real), real, SR) == 0.0


def test_level_db():
    real = clicks(0.5)
    assert level_db(real, real) == pytest.approx(0.0, abs=1e-9)
    assert level_db(0.5 * real, real) == pytest.approx(-6.0206, abs=1e-3)
    assert level_db(np.zeros_like(real), real) == FLOOR_DB


def test_read_written_skips_silent_originals_and_summarizes():
    stems = ["bass", "drums", "guitar", "piano"]
    real = torch.zeros(2, 4, 4 * SR)
    real[:, 1] = torch.from_numpy(clicks(0.5))
    real[0, 0] = torch.from_numpy(clicks(1.0, seed=3))  # bass active in clip 0 only
    written = real.clone()
    written[1, 1] = 0.0  # clip 1's drums left silent
    got = read_written(written, real, stems, ("bass", "drums"), SR)
    assert [(x["stem"]) for x in got] == ["bass", "drums", "drums"]
    s = summarize(got)
    assert s["n"] == 3 and s["by_stem"]["drums"]["n"] == 2 and s["by_stem"]["bass"]["onset_corr"] == pytest.approx(1.0)
    assert s["by_stem"]["drums"]["onset_corr"] == pytest.approx(0.5)
    assert s["level_db"] == pytest.approx(0.0, abs=1e-6)
    assert summarize([]) == {"onset_corr": None, "level_db": None, "n": 0, "by_stem": {}}
