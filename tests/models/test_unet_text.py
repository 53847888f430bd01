"""The U-Net's text pathway: off unless configured, zero-initialised so that adding it to
trained weights changes nothing, zeros as the null text; the shipped (text) weights without their
text pathway are the text-free network."""

from __future__ import annotations

import pytest
import torch

from msgld.models.unet3d import MultiTrackUNet, TEXT_PREFIX, missing_text_keys, without_text
from msgld.weights import load_model
from tests.helpers import TINY_UNET as TINY, randomise


def test_text_free_config_builds_what_it_always_did():
    plain = MultiTrackUNet(TINY)
    assert not plain.has_text and "text_dim" not in plain.config
    assert not any(k.startswith(TEXT_PREFIX) for k in plain.state_dict())
    with pytest.raises(ValueError, match="no text pathway"):
        plain(torch.randn(1, 4, 8, 16, 16), torch.tensor([3]), None, text=torch.randn(1, 16))


def test_zero_initialised_pathway_starts_at_the_text_free_model():
    plain = MultiTrackUNet(TINY)
    randomise(plain)
    texted = MultiTrackUNet({**TINY, "text_dim": 16})
    missing, unexpected = texted.load_state_dict(plain.state_dict(), strict=False)
    assert missing_text_keys(missing, unexpected) and missing and without_text(texted.config) == plain.config
    x, t, c = torch.randn(2, 4, 8, 16, 16), torch.tensor([10, 900]), torch.randn(2, 8, 16, 16)
    with torch.no_grad():
        want = plain(x, t, c)
        for text in (None, torch.randn(2, 16), torch.zeros(2, 16)):
            torch.testing.assert_close(texted(x, t, c, text=text), want, rtol=0, atol=0)


def test_trained_pathway_reads_the_text_and_zeros_are_the_null_text():
    texted = MultiTrackUNet({**TINY, "text_dim": 16})
    randomise(texted)
    x, t = torch.randn(1, 4, 8, 16, 16), torch.tensor([100])
    with torch.no_grad():
        a, b = texted(x, t, None, text=torch.randn(1, 16)), texted(x, t, None, text=torch.randn(1, 16))
        null, none = texted(x, t, None, text=torch.zeros(1, 16)), texted(x, t, None)
    assert (a - b).abs().max() > 1e-4
    torch.testing.assert_close(null, none, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"text embeddings \[1, 16\]"):
        texted(x, t, None, text=torch.randn(1, 8))


def test_shipped_ldm_reads_text_and_its_null_text_is_the_text_free_network():
    from msgld.inference.bundle import DEFAULT_MODEL, PRETRAINED

    net = load_model(PRETRAINED / DEFAULT_MODEL / "ldm", kind="ldm")  # text since session 5, FiLM since session 8
    assert net.has_text and net.config["text_dim"] == 384 and net.text_info["encoder"] == "all-MiniLM-L6-v2"
    plain = MultiTrackUNet({k: v for k, v in net.config.items() if k not in ("text_dim", "text_film")})
    missing, unexpected = plain.load_state_dict(net.state_dict(), strict=False)
    assert not missing and unexpected and all(k.startswith(TEXT_PREFIX) for k in unexpected)
    g = torch.Generator().manual_seed(0)
    x, c = torch.randn(1, 4, 8, 16, 16, generator=g), torch.randn(1, 8, 16, 16, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(net(x, torch.tensor([500]), c), plain(x, torch.tensor([500]), c), rtol=0, atol=0)
        prompted = net(x, torch.tensor([500]), c, text=torch.randn(1, 384, generator=g))
    assert not torch.equal(prompted, plain(x, torch.tensor([500]), c))  # the fine-tune made text matter
