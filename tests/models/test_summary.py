import json

from msgld.cli import main
from msgld.inference.debug_model import make_debug_model


def test_summary_of_configs_and_weights(tmp_path, capsys):
    assert main(["model", "summary", "ldm", "paper"]) == 0
    paper = json.loads(capsys.readouterr().out)
    assert 300e6 < paper["parameters"] < 310e6
    assert paper["input_shapes"][0] == [1, 4, 8, 256, 16] and paper["flops_per_forward"] > 1e12
    make_debug_model(tmp_path)
    assert main(["model", "summary", "ldm", str(tmp_path / "ldm")]) == 0
    small = json.loads(capsys.readouterr().out)
    assert small["source"].startswith("weights") and small["parameters"] < 1e6
    assert main(["model", "summary", "vae", str(tmp_path / "ldm.json")]) == 2
    assert main(["model", "summary", "vocoder", "tiny"]) == 0
    assert json.loads(capsys.readouterr().out)["output_shapes"] == [1, 163840]
