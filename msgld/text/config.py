"""The `text:` section of an LDM config. Text conditioning is on exactly when the U-Net config
has `text_dim` > 0 (the encoder's dimension); this section then says which encoder made the
caption embeddings, how often training drops the caption (the text's own classifier-free
guidance), and where the embeddings are (default: LATENT_CACHE/text/ENCODER)."""

from __future__ import annotations

from msgld.text.encoders import DEFAULT_ENCODER

DEFAULT_TEXT = {"encoder": DEFAULT_ENCODER, "dropout": 0.3, "cache": None}


def text_settings(config: dict) -> dict | None:
    """The checked text section with defaults, or None for a text-free model."""
    if not int(config["model"].get("text_dim") or 0):
        return None
    s = {**DEFAULT_TEXT, **(config.get("text") or {})}
    unknown = set(s) - set(DEFAULT_TEXT)
    if unknown:
        raise ValueError(f"text: unknown keys {sorted(unknown)}; known: {sorted(DEFAULT_TEXT)}")
    if not 0 <= float(s["dropout"]) <= 1:
        raise ValueError(f"text.dropout must be a probability in [0, 1], got {s['dropout']}")
    return {**s, "dropout": float(s["dropout"])}
