import json
import re

from msgld.cli import main
from msgld.inference.debug_model import make_debug_model


def test_demo_writes_page_wavs_and_pictures(tmp_path, capsys):
    model = make_debug_model(tmp_path / "model")
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--model", str(model), "--steps", "1", "--seconds", "3"]) == 0
    assert "demo written" in capsys.readouterr().out
    page = (out / "index.html").read_text()
    sources = re.findall(r"src='([^']+)'", page)
    assert len([s for s in sources if s.endswith(".wav")]) == 4 * 5 and len([s for s in sources if s.endswith(".png")]) == 4
    for src in sources:
        assert (out / src).is_file() and (out / src).stat().st_size > 0, src
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 2026 and set(run["timings_s"]) == {"compose_and_render", "separate", "generate", "arrange"}
