"""A model folder: the `vae`, `ldm` and optional `vocoder` and `refiner` weights pairs that
inference loads together (msgld.inference.bundle). Packing checks that the LDM was trained on
this VAE's latents (same scale factor) and the mask refiner on this LDM's estimates, and can
store chosen parts in float16."""

from __future__ import annotations

from pathlib import Path

import torch

from msgld.audio.mel import MelConfig
from msgld.weights import file_hash, load_model, save_model, weight_paths


def hashes_of(model, path: str | Path) -> set[str]:
    """A weights file's own hash, those it was packed from and, for a run that trained one added
    pathway alone (`optim.freeze_base`), the model it computes exactly without that pathway."""
    training = model.weights_info.get("training", {})
    frozen = [training["frozen_from"]] if training.get("frozen_from") else []
    return {file_hash(weight_paths(path)[0]), *training.get("source_hashes", []), *frozen}


def pack_model(out: str | Path, vae: str | Path, ldm: str | Path, vocoder: str | Path | None = None,
               half: list[str] | tuple[str, ...] = (), refiner: str | Path | None = None) -> Path:
    out = Path(out)
    optional = {"vocoder": vocoder, "refiner": refiner}
    parts = {"vae": vae, "ldm": ldm, **{name: path for name, path in optional.items() if path}}
    models = {name: load_model(path, kind=name) for name, path in parts.items()}
    expected = models["ldm"].latent_info.get("scale_factor")
    if expected is not None and abs(expected - models["vae"].scale_factor) > 1e-6 * max(1.0, abs(expected)):
        raise ValueError(f"{ldm}: trained on latents scaled by {expected}, but {vae} has {models['vae'].scale_factor}")
    if refiner:
        trained = models["refiner"].weights_info.get("training", {})
        if trained.get("blind"):
            raise ValueError(f"{refiner}: trained blind (data.blind, an ablation without the LDM's estimate); "
                             f"separation would feed it one")
        made_by = trained.get("estimates", {}).get("ldm_hash")
        if made_by not in hashes_of(models["ldm"], ldm):
            raise ValueError(f"{refiner}: trained on estimates of LDM {made_by}, not of {ldm}; train it on this "
                             f"LDM's estimates (`msgld data estimate`)")
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
