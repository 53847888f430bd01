import numpy as np
import pytest
import torch

from msgld.eval.embeddings import get_embedding
from msgld.eval.embeddings.vggish import WEIGHTS_ENV, VGGish, VGGishFrontEnd, load_vggish, mel_matrix

SR = 16000


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A randomly initialised VGGish saved as a torch state dict and as safetensors (fp16 to keep
    the files small; loading casts to fp32), plus torchvggish's extra PCA keys."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    state = {k: v.half() for k, v in VGGish().state_dict().items()}
    folder = tmp_path_factory.mktemp("vggish")
    pth = folder / "vggish.pth"
    torch.save({**state, "pproc._pca_matrix": torch.zeros(128, 128)}, pth)
    st = folder / "vggish.safetensors"
    save_file(state, str(st))
    return pth, st


def test_front_end_patches_and_mel_matrix():
    w = mel_matrix()
    assert w.shape == (257, 64) and np.all(w[0] == 0) and w.max() <= 1.0 + 1e-9
    patches = VGGishFrontEnd()(torch.zeros(2, 2 * SR))  # 2 s: 198 frames -> two 0.96 s patches
    assert patches.shape == (2, 2, 1, 96, 64)
    assert torch.allclose(patches, torch.full_like(patches, float(np.log(0.01))))
    with pytest.raises(ValueError, match="at least"):
        VGGishFrontEnd()(torch.zeros(1, 8000))


def test_loads_state_dict_and_safetensors(random_weights, monkeypatch):
    pth, st = random_weights
    a, b = load_vggish(pth), load_vggish(st)
    for (k, v), (_, u) in zip(a.state_dict().items(), b.state_dict().items()):
        assert v.dtype == torch.float32 and torch.equal(v, u), k
    monkeypatch.setenv(WEIGHTS_ENV, str(st))
    emb = get_embedding("vggish")
    out = emb(0.1 * torch.randn(1, 3 * SR))
    assert out.shape == (1, 3, 128) and torch.isfinite(out).all()
    assert emb.settings()["weights"] == str(st)


def test_missing_or_wrong_weights(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="weights file"):
        get_embedding("vggish")
    with pytest.raises(FileNotFoundError, match="not found"):
        get_embedding("vggish", weights=str(tmp_path / "absent.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(ValueError, match="VGGish layout"):
        load_vggish(bad)
