"""Dataset writer: Slakh layout, metadata, byte-identical reruns, resumption, splits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from msgld.synth.writer import split_of, synthesize, tracks_for_hours

STEMS = ("bass", "drums", "guitar", "piano")


def make(out: Path, cfg: dict, tracks: int = 4, seed: int = 0, workers: int = 1):
    return synthesize(out, tracks=tracks, seed=seed, workers=workers, backend="tinysoundfont",
                      config=cfg, progress=False)


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def track_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/Track*") if p.is_dir())


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, short_config) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    make(out, short_config)
    return out


def test_layout_and_metadata(dataset, short_config):
    tracks = track_dirs(dataset)
    assert [t.name for t in sorted(tracks, key=lambda t: t.name)] == [f"Track{i:05d}" for i in range(1, 5)]
    assert {t.parent.name for t in tracks} <= {"train", "validation", "test"}
    for t in tracks:
        meta = yaml.safe_load((t / "metadata.yaml").read_text())
        for key in ("style", "tempo", "meter", "key", "progression", "seed", "caption", "stems", "sections"):
            assert key in meta, key
        present = [s for s in STEMS if (t / f"{s}.wav").exists()]
        assert present == list(meta["stems"]) and sorted(meta["missing_stems"]) == sorted(set(STEMS) - set(present))
        lengths = set()
        mix = 0
        for s in present:
            audio, sr = sf.read(t / f"{s}.wav", dtype="float32")
            assert sr == 16000 and audio.ndim == 1 and np.abs(audio).mean() > 1.5e-5
            lengths.add(audio.shape[0])
            mix = mix + audio
            assert (t / "MIDI" / f"{s}.mid").exists() and meta["stems"][s]["soundfont"] == "TimGM6mb.sf2"
        assert len(lengths) == 1 and lengths == {meta["samples"]}
        assert np.abs(mix).max() < 1.0
    assert not list(dataset.rglob(".*partial*"))


def test_same_seed_gives_byte_identical_files(dataset, tmp_path, short_config):
    make(tmp_path / "again", short_config)
    assert digest(tmp_path / "again") == digest(dataset)


def test_workers_do_not_change_the_result(dataset, tmp_path, short_config):
    make(tmp_path / "parallel", short_config, workers=2)
    assert digest(tmp_path / "parallel") == digest(dataset)


def test_resume_completes_and_never_rewrites(dataset, tmp_path, short_config):
    out = tmp_path / "partial"
    make(out, short_config, tracks=3)
    tracks = track_dirs(out)
    removed = tracks[0]
    for f in removed.rglob("*"):
        if f.is_file():
            f.unlink()
    for d in sorted(removed.rglob("*"), reverse=True):
        d.rmdir()
    removed.rmdir()
    stale = removed.parent / f".{removed.name}.partial-999"
    (stale / "MIDI").mkdir(parents=True)
    (stale / "bass.wav").write_bytes(b"half a file")
    kept = {p: p.stat().st_mtime_ns for t in tracks[1:] for p in t.rglob("*") if p.is_file()}

    summary = make(out, short_config, tracks=4)
    assert (summary.made, summary.skipped) == (2, 2)
    assert all(p.stat().st_mtime_ns == m for p, m in kept.items())  # finished tracks untouched
    assert not stale.exists()
    assert digest(out) == digest(dataset)


def test_rerun_with_other_settings_is_refused(dataset, short_config):
    with pytest.raises(ValueError, match="other settings"):
        make(dataset, short_config, seed=1)


def test_track_found_in_another_split_is_refused(dataset, tmp_path, short_config):
    """A folder made by a writer that split differently must not leak a song into two splits."""
    import shutil

    out = tmp_path / "moved"
    shutil.copytree(dataset, out)
    track = track_dirs(out)[0]
    other = next(s for s in short_config["splits"] if s != track.parent.name)
    (out / other).mkdir(exist_ok=True)
    track.rename(out / other / track.name)
    with pytest.raises(ValueError, match=f"{track.name}: this track belongs to split"):
        make(out, short_config)


def test_hours_and_splits(short_config):
    n = tracks_for_hours(0.01, 0, short_config)  # 36 s of 6-8 s songs (+ tail)
    assert 2 <= n <= 7
    counts = {}
    for i in range(3000):
        s = split_of(0, i, short_config["splits"])
        counts[s] = counts.get(s, 0) + 1
    assert split_of(0, 5, short_config["splits"]) == split_of(0, 5, short_config["splits"])
    assert abs(counts["train"] / 3000 - 0.8) < 0.03 and abs(counts["test"] / 3000 - 0.1) < 0.02


@pytest.mark.skipif(not __import__("msgld.synth.soundfonts", fromlist=["x"]).fluidsynth_importable()
                    or not Path("/usr/share/sounds/sf2/TimGM6mb.sf2").exists(),
                    reason="Debian fluidsynth and soundfonts not installed")
def test_fluidsynth_dataset_is_byte_identical(tmp_path, short_config):
    fonts = [p for p in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
             if Path(p).exists()]
    for name in ("a", "b"):
        synthesize(tmp_path / name, tracks=2, seed=4, backend="fluidsynth", soundfonts=fonts,
                   config=short_config, progress=False)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert len(track_dirs(tmp_path / "a")) == 2


def test_float_wavs_carry_no_write_time(tmp_path):
    """libsndfile's PEAK chunk stores the time of writing; save_audio zeroes it."""
    from msgld.audio.io import save_audio

    path = save_audio(tmp_path / "x.wav", np.full(100, 0.25, np.float32), subtype="float32")
    raw = path.read_bytes()
    i = raw.find(b"PEAK")
    assert i > 0 and raw[i + 12:i + 16] == b"\0\0\0\0"


def test_test_only_config_puts_every_track_in_test():
    from msgld.config import load_config

    ratios = load_config("synth", "test-only")["splits"]
    assert {split_of(2, i, ratios) for i in range(200)} == {"test"}
