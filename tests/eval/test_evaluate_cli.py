"""`msgld evaluate` end to end on a small synthetic Slakh-layout folder (4 s clips)."""

import json

import numpy as np
import pytest
import torch

from msgld.audio.io import save_audio
from msgld.cli import main
from msgld.eval.methods import register_generator, register_separation_method
from msgld.testing import SLAKH_STEMS

FAST = ["--segment-seconds", "4", "--no-progress"]


def run(args, tmp_path, name):
    out = tmp_path / f"{name}.json"
    assert main([*args, "--out", str(out), *FAST]) == 0
    assert out.with_suffix(".md").read_text().startswith("# ")
    return json.loads(out.read_text())


def check_record(result, data, method, clips):
    assert result["data"] == str(data.resolve()) and result["split"] == "test"
    assert result["method"] == method and result["clips"] == clips
    for key in ("model", "config", "seed", "git_commit", "embedding", "stems", "created"):
        assert key in result
    assert result["seed"] == 0 and result["model"] is None and result["config"] is None


def test_separation_mixture_and_oracle(stems_folder, tmp_path):
    mix = run(["evaluate", "separation", "--data", str(stems_folder), "--method", "mixture"], tmp_path, "mix")
    check_record(mix, stems_folder, "mixture", 6)
    assert mix["task"] == "separation" and mix["embedding"] is None
    assert set(mix["per_stem"]) == set(SLAKH_STEMS)
    for stem in SLAKH_STEMS:
        assert mix["per_stem"][stem]["si_sdri_wave"] == pytest.approx(0.0, abs=1e-9)
    assert mix["counts"]["guitar"]["windows"] < mix["counts"]["bass"]["windows"]  # guitar's silent stretch

    oracle = run(["evaluate", "separation", "--data", str(stems_folder), "--method", "oracle-mel-mask", "--limit", "3"],
                 tmp_path, "oracle")
    check_record(oracle, stems_folder, "oracle-mel-mask", 3)
    for stem in SLAKH_STEMS:
        assert oracle["per_stem"][stem]["si_sdri_wave"] > 5.0
        assert oracle["per_stem"][stem]["mel_mse"] < mix["per_stem"][stem]["mel_mse"]
    assert "| **mean** |" in (tmp_path / "oracle.md").read_text()


def test_registered_separation_methods_get_references_only_if_oracle(stems_folder, tmp_path):
    seen = {}

    def cheat(ctx):
        def separate(mixture, references):
            seen["cheat"] = references
            return references

        return separate

    def blind(ctx):
        def separate(mixture, references):
            seen["blind"] = references
            return torch.zeros(mixture.shape[0], len(ctx.stems), mixture.shape[-1])

        separate.settings = {"steps": 2}
        return separate

    register_separation_method("test-cheat", cheat, oracle=True)
    register_separation_method("test-blind", blind)
    perfect = run(["evaluate", "separation", "--data", str(stems_folder), "--method", "test-cheat", "--limit", "1"],
                  tmp_path, "cheat")
    assert perfect["mean"]["si_sdr_wave"] > 90 and seen["cheat"] is not None
    blind_result = run(["evaluate", "separation", "--data", str(stems_folder), "--method", "test-blind", "--limit", "1"],
                       tmp_path, "blind")
    assert seen["blind"] is None and blind_result["method_settings"] == {"steps": 2}


def test_unknown_method_is_a_one_line_error(stems_folder, tmp_path, capsys):
    code = main(["evaluate", "separation", "--data", str(stems_folder), "--method", "nope", "--out", str(tmp_path / "x.json")])
    assert code == 2 and "unknown separation method 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def make_samples(folder, data):
    """Two pieces as stems (one with a missing stem) and one as a mix."""
    rng = np.random.default_rng(0)
    for piece in ("a", "b"):
        for stem in SLAKH_STEMS[: 4 if piece == "a" else 3]:
            save_audio(folder / piece / f"{stem}.wav", (0.05 * rng.standard_normal(3 * 16000)).astype(np.float32))
    save_audio(folder / "c.wav", (0.1 * rng.standard_normal(2 * 16000)).astype(np.float32))


def test_generation_from_folder(stems_folder, tmp_path):
    samples = tmp_path / "samples"
    make_samples(samples, stems_folder)
    result = run(["evaluate", "generation", "--data", str(stems_folder), "--samples", str(samples), "--limit", "4",
                  "--references", "time-shifted,random-pairing", "--bootstrap", "20"], tmp_path, "gen")
    check_record(result, stems_folder, None, 4)
    assert result["source"] == "folder" and result["generated"] == 3 and result["embedding"] == "crepe-tiny"
    names = [r["name"] for r in result["rows"]]
    assert names == ["generated", "real", "time-shifted", "random pairing", "train vs test"]
    assert all(r["embedding"] == "crepe-tiny" and r["fad"] >= 0 for r in result["rows"])
    assert sorted(result["sets"]["a"] + result["sets"]["b"]) == [0, 1, 2, 3] and len(result["sets"]["a"]) == 2
    by = {r["name"]: r for r in result["rows"]}
    assert by["real"]["clips_a"] == 2 and by["real"]["clips_b"] == 2 and by["generated"]["clips_a"] == 3
    # noise is further from the music than real music is from itself
    assert result["fad"] > by["real"]["fad"] and result["fad"] > by["train vs test"]["fad"]
    assert "FAD (crepe-tiny) [95% CI]" in (tmp_path / "gen.md").read_text()


def test_generation_without_reference_split_still_writes(stems_folder, tmp_path):
    """A held-out set with only a test split: the reference row carries a note, not a crash."""
    samples = tmp_path / "samples"
    make_samples(samples, stems_folder)
    result = run(["evaluate", "generation", "--data", str(stems_folder), "--samples", str(samples), "--limit", "4",
                  "--embedding", "logmel", "--reference-split", "validation", "--references", "none"], tmp_path, "gen")
    last = result["rows"][-1]
    assert last["name"] == "validation vs test" and last["fad"] is None and last["note"]
    assert "validation vs test" in (tmp_path / "gen.md").read_text()


def test_generation_from_registered_generator(stems_folder, tmp_path):
    def factory(ctx):
        def generate(count, length, seed):
            g = torch.Generator().manual_seed(seed)
            return 0.05 * torch.randn(count, len(ctx.stems), length, generator=g)

        return generate

    register_generator("test-noise", factory)
    saved = tmp_path / "saved"
    args = ["evaluate", "generation", "--data", str(stems_folder), "--samples", "test-noise", "--num-samples", "3",
            "--embedding", "logmel", "--save-samples", str(saved), "--references", "none"]
    first = run(args, tmp_path, "gen1")
    again = run(args, tmp_path, "gen2")
    assert first["source"] == "method" and first["method"] == "test-noise" and first["embedding"] == "logmel"
    assert first["fad"] == pytest.approx(again["fad"], rel=1e-12)  # seeded
    assert sorted(p.name for p in saved.iterdir()) == ["00000", "00001", "00002"]
    assert sorted(p.name for p in (saved / "00000").iterdir()) == [f"{s}.wav" for s in SLAKH_STEMS]


def test_arrangement_reference_methods(stems_folder, tmp_path):
    given = run(["evaluate", "arrangement", "--data", str(stems_folder), "--method", "given-only",
                 "--embedding", "logmel", "--references", "none"], tmp_path, "given")
    check_record(given, stems_folder, "given-only", 6)
    labels = [r["label"] for r in given["rows"]]
    assert len(labels) == 14 and labels[:4] == ["B", "D", "G", "P"] and labels[-1] == "DGP"
    assert all(r["embedding"] == "logmel" and np.isfinite(r["fad"]) for r in given["rows"])
    row = {r["label"]: r for r in given["rows"]}
    assert row["BDG"]["given"] == ["piano"] and row["BDG"]["generated"] == ["bass", "drums", "guitar"]
    assert row["BDG"]["fad"] > row["B"]["fad"]  # silencing three stems is further from real than one

    args = ["evaluate", "arrangement", "--data", str(stems_folder), "--method", "random-pairing",
            "--embedding", "logmel", "--subsets", "B,DGP", "--seed", "3", "--references", "none"]
    paired = run(args, tmp_path, "pair")
    assert [r["label"] for r in paired["rows"]] == ["B", "DGP"] and paired["seed"] == 3
    assert paired["rows"][1]["fad"] < row["DGP"]["fad"]  # other tracks' stems beat silence
    assert run(args, tmp_path, "pair2")["rows"][1]["fad"] == pytest.approx(paired["rows"][1]["fad"], rel=1e-12)


def test_random_pairing_donors_come_from_other_tracks(stems_folder):
    from msgld.eval.clips import open_split
    from msgld.eval.methods import MethodContext, get_entry

    dataset = open_split(stems_folder, segment=4 * 16000)
    pairing = get_entry("arrangement", "random-pairing").factory(MethodContext(list(SLAKH_STEMS), seed=1, dataset=dataset))
    for i in range(len(dataset)):
        assert pairing.track_of[pairing.donor(i)] != pairing.track_of[i]
    item = dataset[0]
    keep = torch.tensor([True, False, True, True])
    out = pairing(item["stems"][None], keep, {"index": [0]})
    donor = dataset[pairing.donor(0)]["stems"]
    assert torch.equal(out[0, 1], donor[1]) and torch.equal(out[0, 0], item["stems"][0])


def test_generator_name_wins_over_same_named_folder(tmp_path, monkeypatch):
    from msgld.eval.generation import samples_folder

    register_generator("test-name", lambda ctx: None)
    (tmp_path / "test-name").mkdir()
    monkeypatch.chdir(tmp_path)
    assert samples_folder("test-name") is None
    assert samples_folder("./test-name").resolve() == (tmp_path / "test-name").resolve()
    with pytest.raises(ValueError, match="neither a folder nor a registered generator"):
        samples_folder("absent")
