"""`attribute-probe`: cheap classifiers of what a mixture sounds like (style, and each stem's
instrument), the measuring stick of `msgld evaluate text`.

`ClipFeatures` turns a clip into one vector of statistics, from front-ends that exist already:
THE log-mel front-end (msgld.audio.mel; per band the mean, centred over the bands so the
clip's level does not count, and the standard deviation over time) and stemfit's `FitFrontEnd`
(chroma and band onsets every 20 ms, normalised per clip as stemfit does; their means and
standard deviations), plus a rhythm summary: the autocorrelation of the summed onset curve,
pooled into log-spaced lag bands from 0.1 s to 2 s. 184 numbers per clip in all.

`AttributeProbe` standardises them (the training set's mean and deviation, stored as buffers)
and applies one linear softmax head per attribute (a multinomial logistic regression); the
class names travel in the config. Trained by `msgld.training.attribute_probe` on real
SynthSlakh clips only; its weights ship in `msgld/pretrained/attribute-probe/`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msgld.audio.mel import MelFrontEnd
from msgld.models.stemfit import FitFrontEnd, normalise

RHYTHM_BANDS = 16
RHYTHM_LAGS = (5, 100)  # onset frames of 20 ms: 0.1 s to 2 s (600 to 30 beats per minute)


def lag_bands(count: int = RHYTHM_BANDS, lags: tuple[int, int] = RHYTHM_LAGS) -> list[tuple[int, int]]:
    """`count` contiguous [lo, hi) lag ranges, log-spaced over `lags`."""
    edges = np.unique(np.round(np.geomspace(lags[0], lags[1] + 1, count + 1)).astype(int))
    if len(edges) != count + 1:
        raise ValueError(f"{count} rhythm bands do not fit lags {lags}")
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


class ClipFeatures(nn.Module):
    """16 kHz waveforms [B, L] -> clip statistics [B, dim] (see the module's docstring)."""

    def __init__(self):
        super().__init__()
        self.mel = MelFrontEnd()
        self.fit = FitFrontEnd()
        self.bands = lag_bands()
        self.dim = 2 * self.mel.cfg.n_mels + 2 * (12 + 8) + len(self.bands)

    def rhythm(self, onset: torch.Tensor) -> torch.Tensor:
        """Summed onsets [B, T] -> normalised autocorrelation averaged per lag band [B, bands]."""
        x = onset - onset.mean(-1, keepdim=True)
        n = max(x.shape[-1], self.bands[-1][1])  # a clip shorter than the longest lag: zeros there
        spec = torch.fft.rfft(x, 2 * n)
        ac = torch.fft.irfft(spec.abs().square(), 2 * n)[..., :n]
        ac = ac / (ac[..., :1] + 1e-8)
        return torch.stack([ac[..., lo:hi].mean(-1) for lo, hi in self.bands], dim=-1)

    @torch.no_grad()
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        wave = wave.float()
        mel = self.mel(wave)  # [B, T, 64]
        mean = mel.mean(1)
        fit = normalise(self.fit(wave))  # [B, 12 + 8, T']
        return torch.cat([mean - mean.mean(-1, keepdim=True), mel.std(1), fit.mean(-1), fit.std(-1),
                          self.rhythm(fit[:, 12:].sum(1))], dim=-1)


class AttributeProbe(nn.Module):
    """Clip features [B, dim] -> {attribute: logits [B, classes]}; `classify(wave)` from audio."""

    def __init__(self, heads: dict[str, list[str]], dim: int = 184):
        super().__init__()
        if not heads:
            raise ValueError("an attribute probe needs at least one head")
        self.features = ClipFeatures()
        if self.features.dim != dim:
            raise ValueError(f"the probe's config says {dim} features, its front-end makes {self.features.dim}")
        self.classes = {name: list(names) for name, names in heads.items()}
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.heads = nn.ModuleDict({name: nn.Linear(dim, len(names)) for name, names in self.classes.items()})

    @property
    def config(self) -> dict:
        return {"heads": self.classes, "dim": self.features.dim}

    def set_standardisation(self, feats: torch.Tensor) -> None:
        self.mean.copy_(feats.mean(0))
        self.scale.copy_(feats.std(0).clamp_min(1e-4))

    def forward(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (feats.float() - self.mean) / self.scale
        return {name: head(x) for name, head in self.heads.items()}

    @torch.no_grad()
    def probabilities(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        """16 kHz waveforms [B, L] -> {attribute: class probabilities [B, classes]}."""
        return {k: F.softmax(v, -1) for k, v in self(self.features(wave)).items()}

    def predict(self, wave: torch.Tensor) -> dict[str, list[str]]:
        """16 kHz waveforms [B, L] -> {attribute: the most likely class name per clip}."""
        return {k: [self.classes[k][i] for i in p.argmax(-1).tolist()] for k, p in self.probabilities(wave).items()}


def build_attribute_probe(config: dict) -> AttributeProbe:
    return AttributeProbe(config["heads"], int(config.get("dim", 184)))


def _register() -> None:
    from msgld.weights import register_kind

    register_kind("attribute-probe", build_attribute_probe)


_register()
