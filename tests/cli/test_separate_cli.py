import json

import numpy as np
import pytest
import soundfile as sf

from msgld.cli import main

STEMS = ["bass", "drums", "guitar", "piano"]


def sep(debug_model, *args):
    return main(["separate", "--model", str(debug_model), "--steps", "1", "-q", *map(str, args)])


def test_folder_recursive_mirrors_and_sums_to_input(debug_model, songs, tmp_path):
    out = tmp_path / "out"
    assert sep(debug_model, songs, "-o", out, "--recursive") == 0
    for rel in ("a", "b", "sub/a"):
        files = sorted(p.name for p in (out / rel).iterdir())
        assert files == ["bass.wav", "drums.wav", "guitar.wav", "piano.wav", "run.json"]
    stems = np.stack([sf.read(out / "b" / f"{s}.wav")[0] for s in STEMS])
    np.testing.assert_allclose(stems.sum(0), sf.read(songs / "b.flac")[0], atol=1e-4)
    run = json.loads((out / "run.json").read_text())
    assert run["failures"] == [] and set(run["timings"]) == {"a", "b", "sub/a"}
    assert len(run["weights_hash"]) == 16 and run["settings"]["seed"] == 0
    one = json.loads((out / "b" / "run.json").read_text())
    assert one["settings"]["steps"] == 1 and one["audio_seconds"] == 1.5


def test_not_recursive_takes_top_level_only(debug_model, songs, tmp_path):
    assert sep(debug_model, songs, "-o", tmp_path / "o", "--extensions", "wav") == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if p.is_dir()) == ["a"]


def test_colliding_names_refused(debug_model, songs, tmp_path, capsys):
    assert sep(debug_model, songs / "a.wav", songs / "sub" / "a.wav", "-o", tmp_path / "o") == 2
    assert "would both be written" in capsys.readouterr().err


def test_all_sampler_flags_and_formats(debug_model, songs, tmp_path):
    out = tmp_path / "o"
    assert sep(debug_model, songs / "b.flac", "-o", out, "--sampler", "ddim", "--eta", "0.5", "--guidance-scale", "1.5",
               "--overlap", "0.2", "--batch-size", "2", "--seed", "7", "--format", "flac", "--device", "cpu", "--precision", "bf16",
               "--ensemble", "2") == 0
    assert (out / "b" / "drums.flac").exists()
    s = json.loads((out / "b" / "run.json").read_text())["settings"]
    assert (s["sampler"], s["eta"], s["guidance"], s["overlap"], s["batch_size"], s["seed"], s["precision"],
            s["ensemble"]) == ("ddim", 0.5, 1.5, 0.2, 2, 7, "bf16", 2)
    assert sep(debug_model, songs / "b.flac", "-o", out, "--format", "mp3", "--reconstruct", "vocoder",
               "--sampler", "plms") == 0
    assert sf.info(out / "b" / "bass.mp3").format == "MP3"
    assert sep(debug_model, songs / "b.flac", "-o", out, "--method", "dirac", "--sampler", "dpmsolver++") == 0


def test_skip_existing_skips_only_complete(debug_model, songs, tmp_path):
    out = tmp_path / "o"
    assert sep(debug_model, songs / "b.flac", songs / "a.wav", "-o", out) == 0
    (out / "a" / "piano.wav").unlink()  # as if killed before the last stem
    before = (out / "b" / "bass.wav").stat().st_mtime_ns
    assert sep(debug_model, songs / "b.flac", songs / "a.wav", "-o", out, "--skip-existing") == 0
    assert (out / "b" / "bass.wav").stat().st_mtime_ns == before
    assert (out / "a" / "piano.wav").exists()


def test_bad_file_reported_batch_goes_on(debug_model, songs, tmp_path, capsys):
    bad = songs / "broken.wav"
    bad.write_bytes(b"RIFF....garbage")
    assert sep(debug_model, bad, songs / "b.flac", "-o", tmp_path / "o") == 1
    assert "broken.wav" in capsys.readouterr().out
    assert (tmp_path / "o" / "b" / "bass.wav").exists()
    assert json.loads((tmp_path / "o" / "run.json").read_text())["failures"]


def test_silence_and_short_input(debug_model, tmp_path):
    sf.write(tmp_path / "quiet.wav", np.zeros(3000), 16000)
    assert sep(debug_model, tmp_path / "quiet.wav", "-o", tmp_path / "o") == 0
    assert np.all(sf.read(tmp_path / "o" / "quiet" / "bass.wav")[0] == 0)


@pytest.mark.parametrize("flags,message", [
    (["--sampler", "euler"], "invalid choice"),
    (["--steps", "0"], "--steps"),
    (["--overlap", "99"], "overlap"),
    (["--model", "no-such-model"], "unknown model"),
])
def test_impossible_settings_refused(debug_model, songs, tmp_path, capsys, flags, message):
    args = ["separate", str(songs / "b.flac"), "-o", str(tmp_path / "o"), "-q", "--model", str(debug_model), *flags]
    with pytest.raises(SystemExit) if message == "invalid choice" else _no_raise():
        assert main(args) == 2
    assert message in capsys.readouterr().err


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_shards_by_rank(debug_model, songs, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    out = tmp_path / "o"
    assert sep(debug_model, songs, "-o", out, "--recursive") == 0
    done = sorted(str(p.parent.relative_to(out)) for p in out.rglob("bass.wav"))
    assert done == ["b"]  # files a, b, sub/a sorted; rank 1 of 2 takes the second
    assert (out / "run.rank1.json").exists()


def test_checkpoint_replaces_the_models_ldm(debug_model, songs, tmp_path):
    import shutil

    ckpt = tmp_path / "other"
    ckpt.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(debug_model / f"ldm{suffix}", ckpt / f"ldm{suffix}")
    out = tmp_path / "o"
    assert sep(debug_model, songs / "b.flac", "-o", out, "--checkpoint", ckpt / "ldm") == 0
    assert json.loads((out / "run.json").read_text())["weights_hash"]
    assert main(["separate", str(songs / "b.flac"), "-o", str(out), "-q", "--model", str(debug_model),
                 "--checkpoint", str(tmp_path / "missing")]) == 2
