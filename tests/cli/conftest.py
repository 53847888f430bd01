import numpy as np
import pytest
import soundfile as sf

from msgld.inference.debug_model import make_debug_model


@pytest.fixture(scope="session")
def debug_model(tmp_path_factory):
    return make_debug_model(tmp_path_factory.mktemp("debug-model"))


@pytest.fixture
def songs(tmp_path):
    """in/a.wav (44.1 kHz stereo), in/b.flac, in/sub/a.wav (same name, deeper), in/notes.txt."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(44100) / 44100
    tone = 0.2 * np.sin(2 * np.pi * 220 * t)
    sf.write(root / "a.wav", np.stack([tone, tone], 1), 44100)
    sf.write(root / "b.flac", 0.1 * rng.standard_normal(24000), 16000)
    sf.write(root / "sub" / "a.wav", 0.1 * rng.standard_normal(8000), 16000)
    (root / "notes.txt").write_text("not audio")
    return root
