"""`msgld evaluate separation --method demucs` on a tiny folder, with exported HT-Demucs weights."""

from __future__ import annotations

import json

import pytest
import torch

from msgld.cli import main
from msgld.eval.separation import evaluate_separation
from msgld.models.htdemucs import build_htdemucs, separate_waves
from msgld.testing import SLAKH_STEMS
from msgld.weights import save_model

SMALL = {"audio_channels": 1, "samplerate": 16000, "segment": 1.0, "channels": 8, "t_layers": 1, "t_heads": 2}


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    config = {**SMALL, "sources": ["piano", "bass", "drums", "guitar"]}  # another order than the data's
    model = build_htdemucs(config)
    save_model(model, tmp_path / "w" / "demucs", "demucs", config)
    return tmp_path / "w" / "demucs", model.eval()


def test_listed():
    from msgld.eval.methods import available

    assert "demucs" in available("separation")


def test_cli_scores_the_clips(stems_folder, weights, tmp_path):
    path, _ = weights
    out = tmp_path / "demucs.json"
    assert main(["evaluate", "separation", "--data", str(stems_folder), "--method", "demucs", "--option",
                 f"weights={path}", "--limit", "2", "--segment-seconds", "4", "--no-progress", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["method"] == "demucs" and result["clips"] == 2
    assert set(result["per_stem"]) == set(SLAKH_STEMS)
    assert result["method_settings"]["weights"].endswith("demucs.safetensors")
    assert result["method_settings"]["segment_seconds"] == 1.0


def test_estimates_are_the_models_in_the_datasets_order(stems_folder, weights):
    from msgld.eval.methods import MethodContext, get_entry

    path, model = weights
    separate = get_entry("separation", "demucs").factory(MethodContext(stems=list(SLAKH_STEMS), model=str(path)))
    mix = 0.1 * torch.randn(2, 24000)
    expected = separate_waves(model, mix)[:, [1, 2, 3, 0]]  # model order piano, bass, drums, guitar
    assert torch.allclose(separate(mix), expected)


def test_needs_weights(stems_folder):
    with pytest.raises(ValueError, match="--option weights"):
        evaluate_separation(stems_folder, "demucs", limit=1, segment=64000, progress=False)
