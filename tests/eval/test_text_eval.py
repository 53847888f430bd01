"""`msgld evaluate text` and its measures: the tempo estimator on click tracks of known tempo,
the attribute probe on separable synthetic "styles", and the command end to end on the debug
model with a text pathway (weight-free `keywords` encoder)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from msgld.cli import main
from msgld.eval import tempo as T
from msgld.eval.text_control import plan_pieces
from msgld.inference.debug_model import make_debug_model
from msgld.training.attribute_probe import fit_probe, split_features, train_probe
from msgld.weights import load_model

SR = 16000


def clicks(bpm: float, seconds: float, seed: int = 0, pitch: float = 220.0) -> np.ndarray:
    """Noise bursts on every beat (accented every fourth), over a quiet tone."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = 0.02 * np.sin(2 * np.pi * pitch * np.arange(n) / SR)
    burst = rng.standard_normal(800) * np.exp(-np.arange(800) / 120)
    for k, start in enumerate(np.arange(0, seconds, 60.0 / bpm)):
        i = int(start * SR)
        m = min(800, n - i)
        out[i : i + m] += (0.6 if k % 4 == 0 else 0.35) * burst[:m]
    return out.astype(np.float32)


STYLE_SOUND = {  # two "styles" a probe can tell apart: slow and low against fast and bright
    "jazz": {"bpm": 70, "pitch": 110.0, "bass": "upright bass", "guitar": "jazz guitar"},
    "metal": {"bpm": 140, "pitch": 660.0, "bass": "picked bass", "guitar": "distorted guitar"},
}


def synth_stems(style: str, seed: int, seconds: float = 12.0) -> dict[str, np.ndarray]:
    spec = STYLE_SOUND[style]
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    pitch = spec["pitch"] * (1 + 0.05 * rng.random())
    return {"drums": clicks(spec["bpm"] * (1 + 0.03 * rng.standard_normal()), seconds, seed),
            "bass": 0.2 * np.sin(2 * np.pi * pitch / 2 * t), "guitar": 0.1 * np.sign(np.sin(2 * np.pi * pitch * t)),
            "piano": 0.05 * np.sin(2 * np.pi * 2 * pitch * t)}


def write_synth_track(folder, style: str, seed: int, seconds: float = 12.0) -> None:
    spec = STYLE_SOUND[style]
    folder.mkdir(parents=True)
    for name, wave in synth_stems(style, seed, seconds).items():
        sf.write(folder / f"{name}.wav", np.asarray(wave, np.float32), SR, subtype="FLOAT")
    meta = {"track": folder.name, "style": style, "tempo": {"bpm": spec["bpm"], "beat": "quarter"}, "meter": "4/4",
            "stems": {"bass": {"instrument": spec["bass"]}, "guitar": {"instrument": spec["guitar"]},
                      "piano": {"instrument": "grand piano"}, "drums": {"instrument": "Standard kit"}},
            "missing_stems": []}
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory):
    """train: 4 tracks per style; test: 2 per style (SynthSlakh layout with metadata.yaml)."""
    root = tmp_path_factory.mktemp("synth-styles")
    for split, count, offset in (("train", 4, 0), ("test", 2, 100)):
        for k in range(2 * count):
            style = ("jazz", "metal")[k % 2]
            write_synth_track(root / split / f"Track{offset + k:05d}", style, offset + k)
    return root


@pytest.fixture(scope="module")
def probe_weights(synth_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    _, record = train_probe(synth_data, [(str(synth_data), "test")], folder / "attribute-probe", folder / "cache",
                            tracks=8, clips=2, steps=200, progress=False)
    return folder / "attribute-probe", record


def test_tempo_orders_a_70_and_a_140_bpm_click_track():
    prior = T.tempo_prior(70, 140)
    assert prior["start_bpm"] == pytest.approx(98.99, abs=0.01)
    slow = [T.measure_tempo(clicks(70, 10.24, s), SR, **prior) for s in range(3)]
    fast = [T.measure_tempo(clicks(140, 10.24, s), SR, **prior) for s in range(3)]
    assert [T.octave_class(m, 70) for m in slow] == ["right"] * 3
    assert [T.octave_class(m, 140) for m in fast] == ["right"] * 3
    assert T.paired_order(list(zip(slow, fast)), draws=100)["share"] == 1.0
    assert T.paired_order(list(zip(fast, slow)), draws=100)["share"] == 0.0  # the measure can fail
    assert T.octave_class(141.0, 70) == "double" and T.octave_class(36.0, 70) == "half"
    assert T.measure_tempo(np.zeros(SR * 4, np.float32)) is None  # silence has no tempo


def test_ties_and_unmeasured_count_half_and_groups_give_the_auc():
    r = T.paired_order([(70.0, 140.0), (100.0, 100.0), (None, 120.0), (150.0, 75.0)], draws=200, seed=1)
    assert r["share"] == pytest.approx((1 + 0.5 + 0.5 + 0) / 4)
    assert r["ties"] == 1 and r["unmeasured"] == 1 and r["ci95"][0] <= r["share"] <= r["ci95"][1]
    g = T.group_order([60.0, 70.0, 150.0], [140.0, 150.0], draws=200)
    assert g["pairs"] == 6 and g["share"] == pytest.approx((2 + 2 + 0.5) / 6)
    assert T.summary([70.0, 140.0, None], 70)["octave"] == {"right": 1 / 3, "double": 1 / 3, "none": 1 / 3}


def test_probe_beats_chance_on_separable_styles_and_is_deterministic(synth_data, probe_weights):
    path, record = probe_weights
    held = record["scores"][f"{synth_data.name}/test"]
    assert held["style"]["accuracy"] == 1.0 and held["style"]["majority"] == 0.5
    assert held["guitar"]["accuracy"] == 1.0 and "piano" not in held  # one piano class only: no head
    probe = load_model(path, kind="attribute-probe")
    assert probe.classes["style"] == ["jazz", "metal"]
    mixes = [torch.from_numpy(sum(synth_stems(style, 999, 10.24).values()).astype(np.float32)) for style in STYLE_SOUND]
    assert probe.predict(torch.stack(mixes))["style"] == list(STYLE_SOUND)
    cached = split_features(synth_data, "train", True, 8, 2, 0, path.parent / "cache", progress=False)
    again = fit_probe(cached, steps=200)  # the same seed and features: the same weights
    for k, v in probe.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v, rtol=0, atol=0)


def test_pairs_differ_only_in_tempo_and_share_their_seed():
    styles = ["jazz", "metal", "funk"]
    pieces = plan_pieces(6, 3, 2, 5, (70.0, 140.0), styles, [("bass", "upright bass"), ("guitar", "jazz guitar")])
    tempo = [p for p in pieces if p.kind == "tempo"]
    assert len(tempo) == 12
    for slow, fast in zip(tempo[0::2], tempo[1::2]):
        assert slow.seed == fast.seed and slow.request["style"] == fast.request["style"]
        assert slow.request["template"] == fast.request["template"] and slow.prompt != fast.prompt
        assert slow.prompt.replace("70", "140").replace("slow", "fast") == fast.prompt
    assert len({p.seed for p in tempo}) == 6
    twins = {p.index: p.seed for p in pieces if p.kind == "none"}
    assert len(twins) == 6 and all(twins[p.index] == p.seed for p in pieces if p.kind != "none")
    assert [p.prompt for p in pieces if p.kind == "instrument"] == ["with an upright bass", "a song featuring a jazz guitar"]


def test_cli_text_end_to_end_records_the_seed(synth_data, probe_weights, tmp_path):
    model = make_debug_model(tmp_path / "text-model", text_encoder="keywords")
    out = tmp_path / "text.json"
    args = ["evaluate", "text", "--model", str(model), "--data", str(synth_data), "--num-pairs", "2", "--num-style", "2",
            "--num-instrument", "2", "--segment-seconds", "1.28", "--option", "steps=1", "--option", "text_guidance=2",
            "--seed", "3", "--probe", str(probe_weights[0]), "--bootstrap", "50", "--no-progress",
            "--save-samples", str(tmp_path / "pieces"), "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert result["task"] == "text" and result["seed"] == 3 and result["tempi"] == [70.0, 140.0]
    assert result["settings"]["steps"] == 1 and result["settings"]["text_guidance"] == 2.0
    assert result["settings"]["prompt"] is None and result["text"]["encoder"] == "keywords"
    assert result["tempo"]["prompted"]["pairs"] == 2 and result["tempo"]["unprompted"]["pairs"] == 1
    assert result["style"]["prompted"]["n"] == 2 and result["instrument"]["prompted"]["n"] == 2
    assert result["real"]["real"]["clips"] == 4 and result["real"]["first stage"]["clips"] == 4
    assert result["real"]["real"]["probe"]["style"]["accuracy"] is not None
    assert result["tempo_estimator"]["start_bpm"] == pytest.approx(98.99, abs=0.01)
    assert len(result["pieces"]) == 4 + 2 + 2 + 2 and result["git_commit"] is not None
    assert (tmp_path / "pieces" / "tempo-000-slow" / "drums.wav").exists()
    assert out.with_suffix(".md").read_text().startswith("# Text control")


def test_a_model_without_text_is_refused_clearly(tmp_path, capsys):
    model = make_debug_model(tmp_path / "plain-model")
    out = tmp_path / "text.json"
    assert main(["evaluate", "text", "--model", str(model), "--num-pairs", "1", "--num-style", "0",
                 "--no-progress", "--out", str(out)]) == 2
    assert "has no text pathway" in capsys.readouterr().err and not out.exists()


def test_cli_text_probe_through_a_model_records_it(synth_data, tmp_path):
    model = make_debug_model(tmp_path / "model")
    out = tmp_path / "probe.json"
    assert main(["evaluate", "text-probe", "--data", str(synth_data), "--held-out", "test", "--tracks", "8",
                 "--steps", "50", "--seed", "2", "--through-model", str(model), "--no-progress", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["seed"] == 2 and result["settings"]["through"]["model"] == str(model)
    assert set(result["scores"]) == {"train", f"{synth_data.name}/test"} and result["classes"]["style"] == ["jazz", "metal"]
    probe = load_model(tmp_path / "probe-weights" / "attribute-probe", kind="attribute-probe")
    assert probe.weights_info["training"]["through"]["weights_hash"] == result["settings"]["through"]["weights_hash"]
    assert (tmp_path / "probe-features").is_dir() and out.with_suffix(".md").read_text().startswith("# Attribute probe")


def test_probe_features_ignore_the_level_and_the_shipped_probe_loads():
    from msgld.eval.text_control import DEFAULT_PROBE, STYLES, load_probe
    from msgld.models.attribute_probe import ClipFeatures

    mix = torch.from_numpy(sum(synth_stems("jazz", 5, 10.24).values()).astype(np.float32))[None]
    front = ClipFeatures()
    torch.testing.assert_close(front(mix / 4), front(mix), rtol=1e-3, atol=2e-3)
    assert front(mix[:, :8000]).isfinite().all()  # shorter than the longest rhythm lag
    probe = load_probe(None, "cpu")
    assert probe.weights_path == str(DEFAULT_PROBE.with_name("attribute-probe.safetensors"))
    assert tuple(probe.classes["style"]) == STYLES and set(probe.classes) == {"style", "bass", "guitar", "piano"}
    training = probe.weights_info["training"]
    assert training["seed"] == 0 and training["tracks"] == 300 and training["clips"] == 600
    assert training["scores"]["synth20/test"]["style"]["accuracy"] > 0.6  # what the README reports
    assert probe.predict(mix)["style"][0] in STYLES


def test_real_audio_rows_alone_need_no_text_model(synth_data, tmp_path):
    model = make_debug_model(tmp_path / "plain-model")
    out = tmp_path / "ceiling.json"
    assert main(["evaluate", "text", "--model", str(model), "--data", str(synth_data), "--num-pairs", "0",
                 "--num-style", "0", "--no-first-stage", "--bootstrap", "20", "--no-progress", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["pieces"] == [] and "tempo" not in result and set(result["real"]) == {"real"}
    tempo = result["real"]["real"]["tempo"]["all"]
    assert (tempo["slow"], tempo["fast"], tempo["share"]) == (2, 2, 1.0)  # click tracks at 70 and 140 BPM
    assert "real clips, all meters (2 x 2)" in out.with_suffix(".md").read_text()
