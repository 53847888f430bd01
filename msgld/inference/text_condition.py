"""A prompt -> the text condition of a model with a text pathway.

The LDM's weights JSON names its text encoder (`text.encoder`, `text.dim`); the encoder is
loaded on the first prompt only (msgld.text.encoders), so a run without a prompt never imports
an encoder library. Embeddings are kept per (encoder, prompt) for the process."""

from __future__ import annotations

import functools

import torch

from msgld.inference.settings import SettingError


def has_text(bundle) -> bool:
    return bool(getattr(bundle.ldm, "has_text", False))


def check_prompt(bundle, prompt: str | None, name: str = "prompt") -> None:
    """A clear error for a prompt (`name`: or the stem prompts) given to a model that cannot read one."""
    if prompt is None or has_text(bundle):
        return
    path = getattr(bundle.ldm, "weights_path", None) or bundle.folder
    what = "a prompt" if name == "prompt" else "stem prompts"
    raise SettingError(name, f"the model {path} has no text pathway (it was trained without text), so it "
                             f"cannot follow {what}; leave {'the prompt' if name == 'prompt' else 'them'} out, or "
                             "load a text-conditioned model (trained with a config that sets model.text_dim, "
                             "e.g. tiny-v-text)")


@functools.lru_cache(maxsize=256)
def embed_prompt(encoder: str, dim: int, prompt: str) -> torch.Tensor:
    from msgld.text.encoders import TextEncoderError, encode_texts, load_encoder

    enc = load_encoder(encoder)
    if enc.dim != dim:
        raise TextEncoderError(f"text encoder {encoder} gives {enc.dim} dims, the model takes {dim}")
    return encode_texts(enc, [prompt])[0]


def text_condition(bundle, prompt: str | None, batch: int) -> torch.Tensor | None:
    """-> [batch, dim] on the bundle's device, or None without a prompt."""
    if prompt is None:
        return None
    check_prompt(bundle, prompt)
    info = getattr(bundle.ldm, "text_info", {}) or {}
    encoder = info.get("encoder")
    if not encoder:
        raise SettingError("prompt", f"{bundle.folder}: the LDM has a text pathway but its JSON names no text "
                                     "encoder (text.encoder)")
    emb = embed_prompt(encoder, int(bundle.ldm.text_dim), prompt)
    return emb.to(bundle.device).unsqueeze(0).expand(batch, -1)
