import torch

from msgld.training.data import fold_waves


def batch(silent_stem: int | None = None):
    stems = torch.randn(2, 4, 800) * 0.1
    if silent_stem is not None:
        stems[:, silent_stem] = 0
    return {"stems": stems, "mixture": stems.sum(1)}


def test_fold_keeps_active_and_mixture():
    waves = fold_waves(batch(), include_mixture=True)
    assert waves.shape == (10, 800)
    b = batch(silent_stem=2)
    waves = fold_waves(b, include_mixture=False)
    assert waves.shape == (6, 800)
    assert torch.equal(waves[0], b["stems"][0, 0])


def test_fold_keep_silent_and_cap():
    g = torch.Generator().manual_seed(0)
    assert fold_waves(batch(silent_stem=1), keep_silent=1.0, generator=g).shape[0] == 10
    assert fold_waves(batch(), max_count=3, generator=g).shape[0] == 3
    silent = {"stems": torch.zeros(1, 4, 100), "mixture": torch.zeros(1, 100)}
    assert fold_waves(silent).shape[0] == 1  # never empty
