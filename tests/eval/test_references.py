"""The FAD tables' protocol: sets A/B, bootstrap intervals, the time-shifted control and the
decoder ceilings (on the debug model), end to end through `msgld evaluate`."""

import json

import numpy as np
import pytest
import torch

from msgld.cli import main
from msgld.data.shifts import draw_shift, read_cyclic
from msgld.eval.bootstrap import ClipFrames, FadBootstrap, fast_frechet
from msgld.eval.clips import open_split
from msgld.eval.comparison import split_sets
from msgld.eval.fad import frechet_distance
from msgld.eval.methods import MethodContext, get_entry
from msgld.inference.debug_model import make_debug_model
from msgld.testing import SLAKH_STEMS

FAST = ["--segment-seconds", "4", "--no-progress", "--embedding", "logmel", "--bootstrap", "30"]


@pytest.fixture(scope="module")
def debug_model(tmp_path_factory):
    return make_debug_model(tmp_path_factory.mktemp("debug-model"))


def clips(rng, n, frames=40, dim=3, shift=0.0):
    return ClipFrames(dim).add(rng.standard_normal((n, frames, dim)) + shift)


def test_fast_frechet_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((200, 6)), rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6)) + 1
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert fast_frechet(*args) == pytest.approx(frechet_distance(*args), rel=1e-8)


def test_bootstrap_interval_and_paired_draws():
    rng = np.random.default_rng(1)
    reference, same, moved = clips(rng, 30), clips(rng, 30), clips(rng, 30, shift=0.5)
    boot = FadBootstrap(reference, draws=100, seed=0)
    same_row, moved_row = boot.row(same), boot.row(moved)
    assert same_row["clips_a"] == 30 and same_row["frames_b"] == 1200 and same_row["bootstrap"] == 100
    lo, hi = same_row["ci95"]
    assert lo < hi and hi < moved_row["ci95"][0]  # a mean shift of 0.5 per dimension: |d|^2 = 0.75
    assert moved_row["fad"] == pytest.approx(0.75, abs=0.15)
    assert boot.p_above(moved, same) == 1.0 and boot.p_above(same, moved) == 0.0
    assert boot.p_above(moved, clips(rng, 29)) is None  # other sizes: other draws
    again = FadBootstrap(reference, draws=100, seed=0).row(same)
    assert again["ci95"] == same_row["ci95"]  # seeded


def test_bootstrap_interval_brackets_the_point_value():
    # few clips of few frames: resampling with duplicates inflates every draw's FAD, so raw
    # percentiles would lie entirely above the point value; the bias-corrected interval does not
    rng = np.random.default_rng(2)
    reference, few = clips(rng, 40, frames=8, dim=4), clips(rng, 8, frames=4, dim=4, shift=0.1)
    row = FadBootstrap(reference, draws=200, seed=0).row(few)
    raw = FadBootstrap(reference, draws=200, seed=0)
    raw.row(few)
    assert np.percentile(raw._values[few], 2.5) > row["fad"]  # the inflation this corrects
    lo, hi = row["ci95"]
    assert 0 <= lo <= row["fad"] <= hi and row["bias"] > 0


def test_split_sets_are_disjoint_and_seeded():
    a, b = split_sets(11, None, seed=3)
    assert len(a) == 6 and len(b) == 5 and sorted(a + b) == list(range(11))
    assert (a, b) == split_sets(11, None, seed=3) and (a, b) != split_sets(11, None, seed=4)
    assert len(split_sets(11, 4, seed=3)[0]) == 4
    with pytest.raises(ValueError, match="set B at least 2"):
        split_sets(4, 3, seed=0)


def test_read_cyclic_wraps_and_shifts_avoid_zero(stems_folder):
    track = open_split(stems_folder).tracks[0]
    whole = read_cyclic(track, ["bass"], 0, track.length)[0]
    wrapped = read_cyclic(track, ["bass"], track.length - 100, 300)[0]
    np.testing.assert_array_equal(wrapped, np.concatenate([whole[-100:], whole[:200]]))
    shifts = [draw_shift(np.random.default_rng(i), track.length) for i in range(50)]
    assert min(shifts) >= 16000 and max(shifts) <= track.length - 16000


def test_time_shifted_moves_only_missing_stems(stems_folder):
    dataset = open_split(stems_folder, segment=4 * 16000)
    shifted = get_entry("arrangement", "time-shifted").factory(MethodContext(list(SLAKH_STEMS), seed=2, dataset=dataset))
    item = dataset[1]
    keep = torch.tensor([True, False, True, False])
    out = shifted(item["stems"][None], keep, {"index": [1]})[0]
    assert torch.equal(out[0], item["stems"][0]) and torch.equal(out[2], item["stems"][2])
    t, start = dataset.eval_items[1]
    track = dataset.tracks[t]
    shift = draw_shift(np.random.default_rng([2, 1, 1]), track.length)
    expected = read_cyclic(track, ["drums"], start + shift, item["stems"].shape[-1])[0]
    np.testing.assert_array_equal(out[1].numpy(), expected)
    assert not torch.equal(out[1], item["stems"][1])


def test_decoder_ceilings_on_debug_model(stems_folder, debug_model):
    from msgld.audio.mel import log_mel
    from msgld.weights import load_model

    dataset = open_split(stems_folder, segment=4 * 16000)
    ctx = MethodContext(list(SLAKH_STEMS), dataset=dataset, model=str(debug_model))
    voc_ceiling = get_entry("arrangement", "vocoder-ceiling").factory(ctx)
    vae_ceiling = get_entry("arrangement", "vae-ceiling").factory(ctx)
    stems = dataset[0]["stems"][None]
    keep = torch.tensor([True, False, False, True])
    with torch.inference_mode():
        out = voc_ceiling(stems, keep, {"index": [0]})
        vocoder = load_model(debug_model / "vocoder", kind="vocoder")
        direct = vocoder(log_mel(stems[:, 1:3]))[..., : stems.shape[-1]]
        torch.testing.assert_close(out[:, 1:3], direct, rtol=1e-4, atol=1e-5)
        assert torch.equal(out[:, 0], stems[:, 0]) and torch.equal(out[:, 3], stems[:, 3])
        through_vae = vae_ceiling(stems, keep, {"index": [0]})
    assert not torch.allclose(through_vae[:, 1:3], out[:, 1:3])
    assert vae_ceiling.settings["vae"].endswith("vae.safetensors")
    assert voc_ceiling.settings["mel_match"] == 0  # the pipelines' default


def test_decoder_ceilings_mel_match_as_the_evaluated_method(stems_folder, debug_model):
    from msgld.audio.mel import log_mel
    from msgld.audio.mel_match import match_mel
    from msgld.eval.methods import shared_options
    from msgld.weights import load_model

    assert shared_options({"mel_match": "2", "steps": "20"}) == {"mel_match": "2"}
    dataset = open_split(stems_folder, segment=4 * 16000)
    ctx = MethodContext(list(SLAKH_STEMS), dataset=dataset, model=str(debug_model), options={"mel_match": "2"})
    ceiling = get_entry("arrangement", "vocoder-ceiling").factory(ctx)
    assert ceiling.settings["mel_match"] == 2
    stems = dataset[0]["stems"][None]
    keep = torch.tensor([True, False, True, True])
    with torch.inference_mode():
        out = ceiling(stems, keep, {"index": [0]})
        mels = log_mel(stems[:, 1:2])
        vocoder = load_model(debug_model / "vocoder", kind="vocoder")
        expected = match_mel(vocoder(mels)[..., : stems.shape[-1]], mels, 2)
    torch.testing.assert_close(out[:, 1:2], expected, rtol=1e-4, atol=1e-5)


def run(args, tmp_path, name):
    out = tmp_path / f"{name}.json"
    assert main([*args, "--out", str(out), *FAST]) == 0
    return json.loads(out.read_text()), out.with_suffix(".md").read_text()


def test_generation_table_has_ceilings_controls_and_stability(stems_folder, debug_model, tmp_path):
    result, md = run(["evaluate", "generation", "--data", str(stems_folder), "--samples", "msgld",
                      "--model", str(debug_model), "--num-samples", "2", "--option", "steps=2"], tmp_path, "gen")
    names = [r["name"] for r in result["rows"]]
    assert names == ["generated", "real", "real, 2 clips", "vocoder ceiling", "first-stage ceiling", "time-shifted",
                     "random pairing", "train vs test"]
    for row in result["rows"]:
        assert row["embedding"] == "logmel" and row["fad"] >= 0 and row["bootstrap"] == 30
        assert len(row["ci95"]) == 2 and row["clips_b"] == 3 and row["frames_b"] == 3 * 400
    by = {r["name"]: r for r in result["rows"]}
    assert by["generated"]["clips_a"] == 2 and by["real"]["clips_a"] == 3 and by["vocoder ceiling"]["clips_a"] == 3
    assert by["generated"]["p_above_real"] is not None and 0 <= by["time-shifted"]["p_above_real"] <= 1
    # the debug model's random vocoder is noise: far from the real mixtures
    assert by["vocoder ceiling"]["fad"] > 2 * by["real"]["fad"] and by["vocoder ceiling"]["p_above_real"] == 1.0
    assert [r["name"] for r in result["stability"]] == ["real, 3 clips"]
    assert result["reference_settings"]["random-pairing"]["options"] == {"donor": "stem"}
    assert "| vocoder ceiling |" in md and "FAD (logmel) [95% CI]" in md and "P(> real) (logmel)" in md


def test_arrangement_references_in_one_pass(stems_folder, debug_model, tmp_path):
    result, md = run(["evaluate", "arrangement", "--data", str(stems_folder), "--method", "given-only",
                      "--model", str(debug_model), "--subsets", "B,DGP",
                      "--references", "random-pairing,time-shifted,vocoder-ceiling"], tmp_path, "arr")
    assert result["references"] == ["random-pairing", "time-shifted", "vocoder-ceiling"]
    assert {(r["method"], r["label"]) for r in result["rows"]} == {
        (m, s) for m in ["given-only", *result["references"]] for s in ("B", "DGP")}
    assert result["real"][0]["clips_a"] == 3 and all(r["clips_b"] == 3 for r in result["rows"])
    wins = result["wins"]["logmel"]
    assert set(wins) == set(result["references"]) and all(w["of"] == 2 for w in wins.values())
    by = {(r["method"], r["label"]): r["fad"] for r in result["rows"]}
    # silence for three stems is further from real mixtures than three stems of another song
    assert by["given-only", "DGP"] > by["random-pairing", "DGP"]
    assert wins["random-pairing"]["lower"] == sum(by["given-only", s] < by["random-pairing", s] for s in ("B", "DGP"))
    assert "## Embedding logmel" in md and "`vocoder-ceiling`" in md
    written = result["written"]
    assert set(written) == {"given-only", *result["references"]} and set(written["given-only"]) == {"B", "DGP"}
    # silence follows no beat and reads the floor; a time shift of the song's own part keeps its level
    assert written["given-only"]["DGP"]["n"] > 0 and written["given-only"]["DGP"]["onset_corr"] == 0.0
    assert written["given-only"]["DGP"]["level_db"] == -60.0 and abs(written["time-shifted"]["DGP"]["level_db"]) < 1.0
    assert "## Written stems against the song's own" in md
