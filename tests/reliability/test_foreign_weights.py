"""Checkpoints and weights from strangers: tampered, mismatched, of another format version, or a
pickle in disguise: each refused with a clear error, and nothing is ever unpickled."""

from __future__ import annotations

import ast
import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from msgld.cli import main
from msgld.models.vocoder import build_vocoder
from msgld.config import load_config
from msgld.weights import WeightsError, load_model, save_model

PACKAGE = Path(__file__).resolve().parents[2] / "msgld"


@pytest.fixture
def pair(tmp_path):
    cfg = {**load_config("vocoder", "tiny")["model"], "upsample_initial_channel": 32}
    torch.manual_seed(0)
    save_model(build_vocoder(cfg), tmp_path / "voc", "vocoder", cfg)
    return tmp_path / "voc.safetensors", tmp_path / "voc.json"


def edit_json(path: Path, **changes) -> None:
    info = json.loads(path.read_text())
    info.update(changes)
    path.write_text(json.dumps(info))


def test_untouched_pair_loads(pair):
    assert load_model(pair[1]).weights_info["sha256"]


def test_tampered_tensor_bytes(pair):
    tensors, _ = pair
    data = bytearray(tensors.read_bytes())
    data[-7] ^= 0x40  # one bit of one weight
    tensors.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="voc.safetensors: its bytes differ .* changed or damaged"):
        load_model(tensors)


def test_tampered_header_shape(pair):
    tensors, json_path = pair
    data = tensors.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"][0] *= 2  # more values than the file holds for it
    text = json.dumps(header).encode()
    text += b" " * (n - len(text)) if len(text) <= n else b""
    tensors.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + n:])
    with pytest.raises(WeightsError, match="voc.safetensors"):
        load_model(tensors)
    info = json.loads(json_path.read_text())
    del info["sha256"]  # a file saved before hashes were recorded: safetensors' own check
    json_path.write_text(json.dumps(info))
    with pytest.raises(WeightsError, match="damaged safetensors file"):
        load_model(tensors)


def test_json_with_a_wrong_shape(pair):
    _, json_path = pair
    info = json.loads(json_path.read_text())
    info["config"]["upsample_initial_channel"] = 64
    json_path.write_text(json.dumps(info))
    with pytest.raises(WeightsError, match="does not fit its config .* shapes differ"):
        load_model(json_path)
    info["config"]["upsample_rates"] = "many"
    json_path.write_text(json.dumps(info))
    with pytest.raises(WeightsError, match="config does not build a 'vocoder' model"):
        load_model(json_path)


@pytest.mark.parametrize("version, words", [(0, "older than this msgld reads"), (2, "newer than this msgld reads"),
                                            ("1", "not a whole number")])
def test_old_and_future_format_versions(pair, version, words):
    edit_json(pair[1], version=version)
    with pytest.raises(WeightsError, match=words):
        load_model(pair[1])


def test_foreign_json_and_mixed_up_pair(pair, tmp_path):
    edit_json(pair[1], format="some-other-tool")
    with pytest.raises(WeightsError, match="not an msgld weights config"):
        load_model(pair[1])
    edit_json(pair[1], format="msgld-weights", kind="vae")
    with pytest.raises(WeightsError, match="holds a 'vocoder' model but its JSON says 'vae'"):
        load_model(pair[1])


class Payload:
    """Unpickling this would create a file: the proof that nothing was unpickled."""

    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_pickle_renamed_safetensors_is_never_unpickled(pair, tmp_path, how):
    tensors, _ = pair
    payload = Payload()
    payload.marker = str(tmp_path / "unpickled")
    if how == "torch.save":
        torch.save({"weight": torch.zeros(2), "boom": payload}, tensors)
    else:
        tensors.write_bytes(pickle.dumps(payload))
    with pytest.raises(WeightsError, match="pickle"):
        load_model(tensors)
    assert not Path(payload.marker).exists()


def test_nan_weights_are_refused(tmp_path):
    lin = torch.nn.Linear(3, 3)
    with torch.no_grad():
        lin.weight[0, 0] = float("nan")
    from msgld.weights import register_kind

    register_kind("test-linear3", lambda cfg: torch.nn.Linear(3, 3))
    save_model(lin, tmp_path / "lin", "test-linear3", {})
    with pytest.raises(WeightsError, match="NaN or Inf values in 1 tensor"):
        load_model(tmp_path / "lin")


def test_cli_refuses_a_tampered_model(debug_model, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(debug_model, model)
    data = bytearray((model / "ldm.safetensors").read_bytes())
    data[-3] ^= 1
    (model / "ldm.safetensors").write_bytes(bytes(data))
    song = tmp_path / "song.wav"
    import soundfile as sf

    sf.write(song, torch.zeros(16000).numpy(), 16000)
    assert main(["separate", str(song), "-o", str(tmp_path / "out"), "--model", str(model), "-q"]) == 2
    assert "ldm.safetensors: its bytes differ" in capsys.readouterr().err


def test_shipped_weights_record_their_hash():
    for path in sorted((PACKAGE / "pretrained").glob("*/*.json")):
        assert len(json.loads(path.read_text()).get("sha256", "")) == 64, path


def calls(tree, name: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == name:
            yield node


def test_torch_load_only_with_weights_only_true():
    """Every torch.load in the package reads tensors only; nothing calls pickle.load(s)."""
    found = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in calls(tree, "torch.load"):
            found += 1
            flags = {k.arg: ast.unparse(k.value) for k in node.keywords}
            assert flags.get("weights_only") == "True", f"{path}:{node.lineno}: torch.load without weights_only=True"
        for name in ("pickle.load", "pickle.loads", "torch.jit.load"):
            assert not list(calls(tree, name)), f"{path}: {name}"
    assert found >= 1
