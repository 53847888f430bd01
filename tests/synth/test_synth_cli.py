"""`msgld data synth` + `msgld data check` end to end on the Debian-free path, and the checker's
errors on bad folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from msgld.cli import main

STEMS = ("bass", "drums", "guitar", "piano")


def write(path: Path, wave, sr: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(wave, np.float32), sr, subtype="PCM_16")


def good_track(folder: Path, seconds: float = 1.0, sr: int = 16000) -> None:
    t = np.arange(int(seconds * sr)) / sr
    for i, s in enumerate(STEMS):
        write(folder / f"{s}.wav", 0.1 * np.sin(2 * np.pi * 110 * (i + 1) * t), sr)


def test_synth_then_check_via_cli(tmp_path, capsys):
    out = tmp_path / "synth"
    args = ["data", "synth", "--out", str(out), "--tracks", "4", "--seed", "0", "--workers", "1",
            "--backend", "tinysoundfont", "--duration-range", "5", "7", "--quiet"]
    assert main(args) == 0
    assert "4 tracks (4 made" in capsys.readouterr().out
    assert main(["data", "check", str(out), "--sample-rate", "16000", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "slakh2100 layout" in text and "OK: 0 errors" in text
    assert main(args) == 0  # rerun: nothing to do
    assert "(0 made, 4 already there)" in capsys.readouterr().out


def test_check_reports_bad_folders(tmp_path, capsys):
    root = tmp_path / "bad"
    good_track(root / "train" / "Track00001")
    short = root / "train" / "Track00002"
    good_track(short)
    write(short / "piano.wav", np.zeros(8000) + 0.1)  # half as long
    (root / "train" / "Track00003").mkdir(parents=True)  # no stems
    broken = root / "validation" / "Track00004"
    good_track(broken)
    (broken / "drums.wav").write_bytes(b"RIFF not really a wav")
    good_track(root / "test" / "Track00001")  # also in train
    assert main(["data", "check", str(root), "--quiet"]) == 1
    text = capsys.readouterr().out
    assert "Track00002: stems have different lengths" in text
    assert "Track00003: no stem file" in text
    assert "drums.wav: unreadable audio" in text
    assert "also in split 'train'" in text
    assert "FAILED: 4 errors" in text


def test_check_layout_rate_silence_and_clipping(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "check", str(empty), "--quiet"]) == 1
    assert "no split folder" in capsys.readouterr().out
    assert main(["data", "check", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "dataset folder not found" in capsys.readouterr().err

    root = tmp_path / "odd"
    good_track(root / "train" / "Track00001", sr=22050)
    write(root / "train" / "Track00001" / "guitar.wav", np.zeros(22050), 22050)  # silent
    write(root / "train" / "Track00001" / "piano.wav", np.ones(22050), 22050)  # clipped
    assert main(["data", "check", str(root), "--quiet"]) == 0  # warnings only
    text = capsys.readouterr().out
    assert "guitar.wav: silent stem" in text and "piano.wav: clipping" in text and "mixture" in text
    assert main(["data", "check", str(root), "--quiet", "--strict"]) == 1
    capsys.readouterr()
    assert main(["data", "check", str(root), "--quiet", "--sample-rate", "16000"]) == 1
    assert "sample rate 22050 Hz, expected 16000 Hz" in capsys.readouterr().out


def test_check_accepts_the_shared_fixtures(slakh_dir, musdb_dir, capsys):
    assert main(["data", "check", str(slakh_dir), "--quiet"]) == 0
    assert "slakh2100 layout" in capsys.readouterr().out
    assert main(["data", "check", str(musdb_dir), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "musdb18hq layout" in text and "mixture.wav" not in text
