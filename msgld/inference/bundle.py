"""A model = a folder of weights pairs: `vae`, `ldm` and (optionally) `vocoder` and `refiner`
(the mask refiner of separation, msgld.models.mask_refiner) (`NAME.safetensors` + `NAME.json`
each, see msgld.weights). Shipped models live in
`msgld/pretrained/<name>/`; any folder with the same files works.

Loading checks that the parts fit together: every part was trained on THE mel front-end's
settings, and the LDM on latents of this VAE (its `vae_hash`, or for a decoder-only fine-tune
the `encoder_hash` the VAE records) scaled by this VAE's scale factor."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from msgld.audio.mel import MelConfig, MelFrontEnd
from msgld.audio.reconstruct import MaskReconstructor
from msgld.inference.geometry import WindowGeometry
from msgld.weights import file_hash, load_model, weight_paths

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"
DEFAULT_MODEL = "msgld-tiny"


def available_models() -> list[str]:
    return sorted(p.name for p in PRETRAINED.iterdir() if (p / "ldm.json").exists()) if PRETRAINED.is_dir() else []


def model_folder(model: str | Path) -> Path:
    path = Path(model)
    if path.is_dir():
        return path
    if (PRETRAINED / str(model)).is_dir():
        return PRETRAINED / str(model)
    raise ValueError(f"unknown model {model!r}: not a folder and not one of {available_models()}")


@dataclass
class ModelBundle:
    vae: torch.nn.Module
    ldm: torch.nn.Module
    vocoder: torch.nn.Module | None
    folder: Path
    device: torch.device
    refiner: torch.nn.Module | None = None

    def __post_init__(self):
        self.front = MelFrontEnd().to(self.device)
        self.masker = MaskReconstructor().to(self.device)

    @property
    def stems(self) -> list[str]:
        return list(self.ldm.stems)

    @property
    def geometry(self) -> WindowGeometry:
        """Windows, frames and samples of this model (one model window: the training crop,
        10.24 s = 256 latent frames by default)."""
        cfg = self.front.cfg
        return WindowGeometry(cfg.sample_rate, cfg.hop_length, self.vae.compression,
                              self.ldm.latent_info.get("latent_frames", 256), self.ldm.downsampling,
                              cfg.n_mels // self.vae.compression)

    @property
    def window_samples(self) -> int:
        return self.geometry.window_samples

    @property
    def frames_multiple(self) -> int:
        """Latent T must be a multiple of this (the U-Net's downsampling)."""
        return self.geometry.frames_multiple

    def weights_hash(self) -> str:
        """sha256 (16 hex digits) over the weights files in use."""
        h = hashlib.sha256()
        for model in (self.vae, self.ldm, self.vocoder, self.refiner):
            path = getattr(model, "weights_path", None)
            if path is not None:
                h.update(Path(path).read_bytes())
        return h.hexdigest()[:16]


def part_path(folder: Path, name: str) -> Path:
    """`folder/name`, or, where the folder lacks that part and its `model.json` names a `base`
    model, the base's part (a retrained LDM ships without copies of the VAE and vocoder)."""
    if weight_paths(folder / name)[1].exists() or not (folder / "model.json").exists():
        return folder / name
    base = json.loads((folder / "model.json").read_text()).get("base")
    if not base or model_folder(base).resolve() == folder.resolve():
        return folder / name
    return part_path(model_folder(base), name)


def load_bundle(model: str | Path = DEFAULT_MODEL, device: str | torch.device = "cpu", vocoder: bool = True,
                checkpoint: str | Path | None = None) -> ModelBundle:
    """Load a model folder; `checkpoint` (an `ldm` weights pair, e.g. from a training run's
    weights/ folder) replaces the folder's diffusion model, and then the folder's mask refiner
    (trained on that model's estimates) is not loaded."""
    folder = model_folder(model)
    device = torch.device(device)
    vae = load_model(part_path(folder, "vae"), device, kind="vae")
    ldm = load_model(checkpoint or part_path(folder, "ldm"), device, kind="ldm")
    voc = None
    if vocoder and weight_paths(part_path(folder, "vocoder"))[1].exists():
        voc = load_model(part_path(folder, "vocoder"), device, kind="vocoder")
    refiner = None
    if checkpoint is None and weight_paths(part_path(folder, "refiner"))[1].exists():
        refiner = load_model(part_path(folder, "refiner"), device, kind="refiner")
        if list(refiner.stems) != list(ldm.stems):
            raise ValueError(f"{folder}: the mask refiner's stems {refiner.stems} are not the LDM's {ldm.stems}")
    check_parts(folder, vae, ldm, voc)
    return ModelBundle(vae, ldm, voc, folder, device, refiner)


def check_parts(folder: Path, vae, ldm, vocoder) -> None:
    """A clear error when the parts were not made for each other."""
    want = MelConfig().to_dict()
    for name, model in (("vae", vae), ("ldm", ldm), ("vocoder", vocoder)):
        mel = getattr(model, "weights_info", {}).get("mel") if model is not None else None
        if mel is not None and {k: mel.get(k) for k in want} != want:
            diff = {k: (mel.get(k), v) for k, v in want.items() if mel.get(k) != v}
            raise ValueError(f"{folder}: the {name} was trained on other mel settings than this front-end's "
                             f"(theirs, ours: {diff})")
    scale = ldm.latent_info.get("scale_factor")
    if scale is not None and abs(scale - vae.scale_factor) > 1e-6 * max(1.0, abs(scale)):
        raise ValueError(f"{folder}: the LDM was trained on latents scaled by {scale}, the VAE says {vae.scale_factor}")
    wanted = ldm.latent_info.get("vae_hash")
    path = getattr(vae, "weights_path", None)
    if wanted and path is not None:
        info = getattr(vae, "weights_info", {})
        encoder = info.get("encoder_hash") or info.get("training", {}).get("encoder_hash")
        sources = info.get("training", {}).get("source_hashes", [])
        if wanted not in (file_hash(Path(path)), encoder, *sources):
            raise ValueError(f"{folder}: the LDM was trained on latents of VAE {wanted}, but this VAE is "
                             f"{file_hash(Path(path))}" + (f" (encoder {encoder})" if encoder else "")
                             + "; load the VAE it was trained with, or retrain the LDM on this VAE's latents")
