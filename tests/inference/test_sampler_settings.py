"""Separation's spacing and warm-start refinement settings, on the debug model."""

from pathlib import Path

import numpy as np
import pytest
import torch

from msgld.inference import Separator

SR = 16000


def music(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 3 * 440 * t)).astype(np.float32)


def counted(bundle, monkeypatch):
    calls = []
    forward = bundle.ldm.forward

    def spy(z, t, cond):
        calls.append(int(t.flatten()[0]))
        return forward(z, t, cond)

    monkeypatch.setattr(bundle.ldm, "forward", spy)
    return calls


@pytest.mark.parametrize("spacing, first", [("trailing", 999), ("leading", 1)])
def test_one_step_spacing(bundle, monkeypatch, spacing, first):
    calls = counted(bundle, monkeypatch)
    stems = Separator(bundle).separate(music(1.0), sample_rate=SR, steps=1, guidance=1.0, spacing=spacing)
    assert calls == [first]
    torch.testing.assert_close(stems.sum(0), torch.from_numpy(music(1.0)), atol=1e-4, rtol=0)


def test_refine_runs_k_more_steps_below_t0(bundle, monkeypatch):
    calls = counted(bundle, monkeypatch)
    sep = Separator(bundle)
    sep.separate(music(1.0), sample_rate=SR, steps=1, guidance=1.0, spacing="trailing", refine=2,
                 refine_strength=0.3)
    assert calls[0] == 999 and len(calls) == 3
    assert all(t < 300 for t in calls[1:]) and calls[1] > calls[2]
    with pytest.raises(ValueError, match="refine"):
        sep.separate(music(1.0), sample_rate=SR, refine=1, refine_strength=0.0)


def test_a_model_folder_may_take_missing_parts_from_its_base(debug_model, tmp_path):
    import json
    import shutil

    from msgld.inference.bundle import load_bundle

    derived = tmp_path / "derived"
    derived.mkdir()
    for ext in (".json", ".safetensors"):
        shutil.copy(debug_model / f"ldm{ext}", derived / f"ldm{ext}")
    from msgld.weights import WeightsError

    with pytest.raises(WeightsError, match="vae.json"):
        load_bundle(derived)
    (derived / "model.json").write_text(json.dumps({"base": str(debug_model)}))
    b = load_bundle(derived)
    assert Path(b.vae.weights_path).parent == debug_model and Path(b.ldm.weights_path).parent == derived


def test_last_pass_skip_saves_the_pass_at_t_1(bundle, monkeypatch):
    from msgld.inference.settings import SettingError

    calls = counted(bundle, monkeypatch)
    stems = Separator(bundle).separate(music(1.0), sample_rate=SR, steps=3, guidance=1.0, spacing="leading",
                                       last_pass="skip")
    assert calls == [667, 334]
    torch.testing.assert_close(stems.sum(0), torch.from_numpy(music(1.0)), atol=1e-4, rtol=0)
    for bad in (dict(sampler="dpmsolver++"), dict(steps=1), dict(refine=1)):
        with pytest.raises(SettingError, match="last pass|pass to skip"):
            Separator(bundle).separate(music(1.0), sample_rate=SR, last_pass="skip", **bad)


def test_separation_default_skips_the_pass_at_t_1_and_other_samplers_still_work(bundle, monkeypatch):
    calls = counted(bundle, monkeypatch)
    Separator(bundle).separate(music(1.0), sample_rate=SR, guidance=1.0)
    assert calls == [667, 334]  # the defaults: DDIM, 3 leading steps
    calls.clear()
    Separator(bundle).separate(music(1.0), sample_rate=SR, guidance=1.0, sampler="dpmsolver++")
    assert len(calls) == 3
    calls.clear()
    Separator(bundle).separate(music(1.0), sample_rate=SR, guidance=1.0, steps=1, spacing="trailing")
    assert calls == [999]
