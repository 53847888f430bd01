import json

from msgld.cli import main
from msgld.testing import make_multitrack_folder


def test_diffusion_methods_in_evaluate(debug_model, tmp_path):
    data = make_multitrack_folder(tmp_path / "data", tracks={"test": 2, "train": 2}, seconds=2.6)
    common = ["--data", str(data), "--segment-seconds", "1.28", "--limit", "2", "--model", str(debug_model),
              "--no-progress", "--option", "steps=1"]
    for method in ("msgld", "msdm-dirac", "msdm-gaussian"):
        out = tmp_path / f"{method}.json"
        assert main(["evaluate", "separation", "--method", method, "--out", str(out), *common]) == 0
        res = json.loads(out.read_text())
        assert res["method"] == method and res["clips"] == 2 and res["method_settings"]["steps"] == 1
    out = tmp_path / "arr.json"
    sets = ["--limit", "4", "--evaluated", "2", "--references", "time-shifted"]  # set B needs 2 clips
    assert main(["evaluate", "arrangement", "--method", "msgld", "--subsets", "B", "--out", str(out), *common, *sets]) == 0
    out = tmp_path / "gen.json"
    assert main(["evaluate", "generation", "--samples", "msgld", "--num-samples", "2", "--out", str(out), *common,
                 *sets]) == 0
