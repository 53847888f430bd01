"""`vae-oracle`: the paper's "VAE" row of Table II, the ceiling that the VAE puts on separation.

The true stems -> THE front-end's log-mel -> VAE encode (posterior mode) -> decode -> back to
audio by mixture-phase mel ratio masks (`--option reconstruct=mask`, the default), by the
vocoder (`reconstruct=vocoder`, mel-matched as the pipelines do: `--option mel_match=N`) or by
Griffin-Lim (`reconstruct=griffinlim`). `--model` is a
model folder (holding `vae` and, for the vocoder, `vocoder` weights pairs) or one VAE pair;
the default is the shipped `msgld-tiny`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from msgld.audio.griffinlim import griffin_lim
from msgld.audio.mel import MelFrontEnd
from msgld.audio.mel_match import vocode_matched
from msgld.audio.reconstruct import MaskReconstructor
from msgld.eval.methods import MethodContext, register_separation_method
from msgld.weights import load_model, weight_paths

RECONSTRUCTIONS = ("mask", "vocoder", "griffinlim")


def default_model_folder() -> Path:
    from msgld.inference.bundle import DEFAULT_MODEL, PRETRAINED

    return PRETRAINED / DEFAULT_MODEL


def resolve(model: str | None, name: str) -> Path:
    """The `name` weights pair of a model folder (the shipped default when None), or `model`
    itself when it names a weights pair."""
    if model is None:
        return default_model_folder() / name
    path = Path(model)
    if path.is_dir():
        return path / name
    if weight_paths(path)[1].exists():
        return path
    from msgld.inference.bundle import PRETRAINED

    if (PRETRAINED / str(model)).is_dir():
        return PRETRAINED / str(model) / name
    raise ValueError(f"{model}: not a model folder nor a weights pair")


def fit_length(wave: torch.Tensor, length: int) -> torch.Tensor:
    wave = wave[..., :length]
    return torch.nn.functional.pad(wave, (0, length - wave.shape[-1]))


def mel_match_passes(ctx: MethodContext) -> int:
    """`--option mel_match=N`, else the pipelines' default."""
    from msgld.inference.generator import Generator

    passes = int(ctx.options.get("mel_match", Generator.defaults["mel_match"]))
    if passes < 0:
        raise ValueError(f"mel_match must be >= 0, got {passes}")
    return passes


class VAEOracle:
    """separate(mixture [B, L], references [B, S, L]) -> [B, S, L] through the VAE."""

    def __init__(self, ctx: MethodContext):
        self.device = torch.device(ctx.device)
        self.mode = ctx.options.get("reconstruct", "mask")
        if self.mode not in RECONSTRUCTIONS:
            raise ValueError(f"vae-oracle: reconstruct must be one of {RECONSTRUCTIONS}, got {self.mode!r}")
        vae_path = resolve(ctx.model, "vae")
        self.vae = load_model(vae_path, self.device, kind="vae")
        self.front = MelFrontEnd().to(self.device)
        self.masker = MaskReconstructor().to(self.device)
        self.vocoder = None
        self.settings = {"vae": str(weight_paths(vae_path)[0]), "latent": "posterior mode",
                         "reconstruct": self.mode}
        if self.mode == "vocoder":
            if "vocoder" in ctx.options:
                voc_path = Path(ctx.options["vocoder"])
            elif vae_path.name == "vae":  # a model folder: its vocoder pair
                voc_path = vae_path.with_name("vocoder")
            else:
                raise ValueError("vae-oracle: give --option vocoder=PATH along with a single VAE weights pair")
            self.vocoder = load_model(voc_path, self.device, kind="vocoder")
            self.mel_match = mel_match_passes(ctx)
            self.settings.update(vocoder=str(weight_paths(voc_path)[0]), mel_match=self.mel_match)

    def __call__(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> torch.Tensor:
        if references is None:
            raise ValueError("vae-oracle needs the true stems")
        stems, mixture = references.to(self.device).float(), mixture.to(self.device).float()
        mels = self.vae.round_trip(self.front(stems))  # [B, S, T, 64]
        if self.mode == "mask":
            out = self.masker(mels, mixture)
        elif self.mode == "vocoder":
            out = fit_length(vocode_matched(self.vocoder, mels, self.mel_match, self.front), stems.shape[-1])
        else:
            out = fit_length(griffin_lim(mels), stems.shape[-1])
        return out.cpu()


register_separation_method(
    "vae-oracle", VAEOracle,
    "true stems through VAE encode/decode, mixture-phase masks (or --option reconstruct=vocoder|griffinlim)",
    oracle=True,
)
