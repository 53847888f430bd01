import pytest
import torch

from msgld.audio.chunking import OverlapAdd, fade_weights, iter_windowed, window_starts, windowed_apply


def identity(chunk, starts):
    return chunk


@pytest.mark.parametrize("length", [1, 99, 100, 101, 250, 1000, 1037])
@pytest.mark.parametrize("overlap", [0, 10, 50, 99])
@pytest.mark.parametrize("batch", [1, 3])
def test_identity_reconstructs_any_length(length, overlap, batch):
    x = torch.randn(2, length, dtype=torch.float64)
    torch.testing.assert_close(windowed_apply(identity, x, 100, overlap, batch=batch), x, atol=1e-12, rtol=0)


def test_windows_cover_and_end_aligned():
    starts = window_starts(250, 100, 20)
    assert starts == [0, 80, 150]
    assert window_starts(50, 100, 20) == [0]


def test_weights_positive_and_cross_fade_linear():
    w = fade_weights(100, 20)
    assert torch.all(w > 0) and w.max() == 1
    assert torch.all(w[1:20] > w[:19])


def test_blends_overlaps_linearly():
    # each window's output is constant = its start: the blend moves linearly through the overlap
    x = torch.zeros(1, 180)
    out = windowed_apply(lambda c, starts: torch.full_like(c, float(starts[0])), x, 100, 20)[0]
    assert out[0] == 0 and out[-1] == 80
    assert torch.all(out[80:100].diff() > 0)


def test_batches_windows_along_axis_0_and_reports_progress():
    seen, calls = [], []

    def fn(chunks, starts):  # [n * N, window] -> [n * N, 2, window]: new axes allowed
        calls.append((chunks.shape[0], len(starts)))
        return torch.stack([chunks, 2 * chunks], dim=1)

    out = windowed_apply(fn, torch.ones(3, 350), 100, 30, batch=2, progress=lambda i, n: seen.append((i, n)))
    assert out.shape == (3, 2, 350)
    torch.testing.assert_close(out[:, 1], torch.full((3, 350), 2.0))
    assert calls == [(6, 2), (6, 2), (3, 1)] and seen == [(2, 5), (4, 5), (5, 5)]


def test_other_axes_and_scale():
    x = torch.randn(2, 1000, 3)
    torch.testing.assert_close(windowed_apply(identity, x, 100, 10, dim=1, out_dim=1), x)
    y = windowed_apply(lambda c, _: c.repeat_interleave(4, dim=-2), x, 100, 10, dim=1, scale=4, out_dim=-2)
    torch.testing.assert_close(y, x.repeat_interleave(4, dim=-2))


def test_stream_pieces_are_final_and_memory_is_one_window():
    x = torch.randn(1, 1000)
    acc_peak = []
    pieces = list(iter_windowed(identity, x, 100, 20))
    torch.testing.assert_close(torch.cat(pieces, dim=-1), x)
    sizes = [p.shape[-1] for p in pieces]
    assert len(pieces) == len(window_starts(1000, 100, 20)) and max(sizes) <= 100
    acc = OverlapAdd(1000, 100, 20)
    starts = window_starts(1000, 100, 20)
    for s, following in zip(starts, [*starts[1:], 1000]):
        acc.add(x[0, s : s + 100], s)
        acc_peak.append(acc.out.shape[-1])
        acc.pop(following)
    assert max(acc_peak) <= 100
    with pytest.raises(ValueError, match="before"):
        acc.add(x[0, :100], 0)


def test_short_input_padded_or_whole():
    x = torch.ones(1, 30)
    seen = []
    windowed_apply(lambda c, _: seen.append(c.shape[-1]) or c, x, 100, 10)
    windowed_apply(lambda c, _: seen.append(c.shape[-1]) or c, x, 100, 10, pad_short=False)
    assert seen == [100, 30]


def test_bad_settings():
    with pytest.raises(ValueError, match="overlap"):
        window_starts(10, 100, 100)
    with pytest.raises(ValueError, match="batch axis"):
        windowed_apply(identity, torch.ones(10), 4, 1, dim=0)
