import json

import numpy as np
import soundfile as sf

from msgld.cli import main


def test_generate(debug_model, tmp_path):
    out = tmp_path / "gen"
    assert main(["generate", "-n", "2", "--duration", "2.0", "--seed", "5", "-o", str(out), "--model", str(debug_model),
                 "--steps", "2", "--sampler", "ddim", "--eta", "1.0", "--overlap", "0.32", "--repaint", "1", "--precision", "bf16", "--batch-size", "2",
                 "-q"]) == 0
    for i, seed in ((0, 5), (1, 6)):
        folder = out / f"sample_{i:03d}"
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["bass.wav", "drums.wav", "guitar.wav", "mix.wav", "piano.wav", "run.json"]
        mix, sr = sf.read(folder / "mix.wav")
        assert sr == 16000 and mix.shape == (32000,)
        assert json.loads((folder / "run.json").read_text())["seed"] == seed


def test_arrange_given_files_and_track_folder(debug_model, tmp_path):
    rng = np.random.default_rng(0)
    drums = (0.1 * rng.standard_normal(20000)).astype(np.float32)
    sf.write(tmp_path / "drums.wav", drums, 16000, subtype="FLOAT")
    out = tmp_path / "arr"
    assert main(["arrange", "--given", f"drums={tmp_path / 'drums.wav'}", "--generate", "bass,piano", "-o", str(out),
                 "--model", str(debug_model), "--steps", "2", "-q"]) == 0
    np.testing.assert_allclose(sf.read(out / "drums.wav")[0], drums, atol=1e-6)
    assert np.all(sf.read(out / "guitar.wav")[0] == 0)
    assert np.abs(sf.read(out / "bass.wav")[0]).max() > 0
    run = json.loads((out / "run.json").read_text())
    assert run["generated"] == ["bass", "piano"]

    track = tmp_path / "track"
    track.mkdir()
    sf.write(track / "drums.wav", drums, 16000, subtype="FLOAT")
    sf.write(track / "bass.wav", drums[::-1].copy(), 16000, subtype="FLOAT")
    out2 = tmp_path / "arr2"
    assert main(["arrange", "--track", str(track), "--generate", "bass", "-o", str(out2), "--model", str(debug_model),
                 "--steps", "1", "-q"]) == 0
    assert json.loads((out2 / "run.json").read_text())["given"].keys() == {"drums"}


def test_arrange_refuses_unknown_stem(debug_model, tmp_path, capsys):
    assert main(["arrange", "--given", "vocals=x.wav", "-o", str(tmp_path), "--model", str(debug_model)]) == 2
    assert "unknown stem 'vocals'" in capsys.readouterr().err
