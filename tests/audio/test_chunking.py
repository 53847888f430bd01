import pytest
import torch

from msgld.audio.chunking import apply_chunked, fade_weights, overlap_add, split, window_starts


@pytest.mark.parametrize("length", [1, 99, 100, 101, 250, 1000, 1037])
@pytest.mark.parametrize("overlap", [0, 10, 50, 99])
def test_identity_reconstructs_any_length(length, overlap):
    x = torch.randn(2, length, dtype=torch.float64)
    chunks, starts = split(x, 100, overlap)
    torch.testing.assert_close(overlap_add(chunks, starts, length, overlap), x, atol=1e-12, rtol=0)
    torch.testing.assert_close(apply_chunked(lambda c: c, x, 100, overlap), x, atol=1e-12, rtol=0)


def test_windows_cover_and_end_aligned():
    starts = window_starts(250, 100, 20)
    assert starts == [0, 80, 150]
    assert window_starts(50, 100, 20) == [0]


def test_weights_positive_and_cross_fade_linear():
    w = fade_weights(100, 20)
    assert torch.all(w > 0) and w.max() == 1
    assert torch.all(w[1:20] > w[:19])


def test_blends_overlaps_linearly():
    # each window's output is constant = its index: the blend moves linearly through the overlap
    x = torch.zeros(180)
    calls = iter(range(10))
    out = apply_chunked(lambda c: torch.full_like(c, float(next(calls))), x, 100, 20)
    assert out[0] == 0 and out[-1] == 1
    assert torch.all(out[80:100].diff() > 0)


def test_new_leading_dims_and_progress():
    seen = []
    out = apply_chunked(lambda c: torch.stack([c, 2 * c]), torch.ones(350), 100, 30, progress=lambda i, n: seen.append((i, n)))
    assert out.shape == (2, 350)
    torch.testing.assert_close(out[1], torch.full((350,), 2.0))
    assert seen[-1][0] == seen[-1][1] == len(seen)


def test_bad_settings():
    with pytest.raises(ValueError, match="overlap"):
        window_starts(10, 100, 100)
