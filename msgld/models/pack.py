"""A model folder: the `vae`, `ldm` and optional `vocoder` weights pairs that inference loads
together (msgld.inference.bundle). Packing checks that the LDM was trained on this VAE's
latents (same scale factor) and can store chosen parts in float16."""

from __future__ import annotations

from pathlib import Path

import torch

from msgld.audio.mel import MelConfig
from msgld.weights import file_hash, load_model, save_model, weight_paths


def pack_model(out: str | Path, vae: str | Path, ldm: str | Path, vocoder: str | Path | None = None,
               half: list[str] | tuple[str, ...] = ()) -> Path:
    out = Path(out)
    parts = {"vae": vae, "ldm": ldm, **({"vocoder": vocoder} if vocoder else {})}
    models = {name: load_model(path, kind=name) for name, path in parts.items()}
    expected = models["ldm"].latent_info.get("scale_factor")
    if expected is not None and abs(expected - models["vae"].scale_factor) > 1e-6 * max(1.0, abs(expected)):
        raise ValueError(f"{ldm}: trained on latents scaled by {expected}, but {vae} has {models['vae'].scale_factor}")
    for name, model in models.items():
        info = model.weights_info
        training = dict(info.get("training", {}))
        # a re-saved file has new bytes: keep the hashes it was saved from, so an LDM trained on
        # the source VAE's latents still recognises this copy (msgld.inference.bundle.check_parts)
        training["source_hashes"] = [*training.get("source_hashes", []), file_hash(weight_paths(parts[name])[0])]
        save_model(model, out / name, name, info["config"], MelConfig(**info["mel"]),
                   training={**training, "packed_from": str(parts[name])},
                   dtype=torch.float16 if name in half else None)
    return out
