"""Ceilings of generation and arrangement: what the model's own decoders do to real stems.

`vocoder-ceiling`: the missing stems' true log-mels (THE front-end) through the vocoder;
`vae-ceiling`: the true log-mels through VAE encode (posterior mode) and decode, then the
vocoder (the first stage). A generated stem goes through both, so no sampler can score better
than these rows, apart from the sampling noise of the metric. `--model` names the model
folder whose VAE and vocoder are used (the shipped `msgld-tiny` by default), as `vae-oracle`.
Each clip's stems are decoded once and reused by every subset of the same batch. The vocoder's
output is mel-matched as the pipelines do it (`--option mel_match=N`, shared with the evaluated
method; default the pipelines' own).
"""

from __future__ import annotations

import torch

from msgld.audio.mel import MelFrontEnd
from msgld.audio.mel_match import vocode_matched
from msgld.eval.methods import MethodContext, register_arranger
from msgld.eval.methods.vae_oracle import fit_length, mel_match_passes, resolve
from msgld.weights import load_model, weight_paths


class DecoderCeiling:
    """arrange(stems, keep, batch): the missing stems resynthesised from their true mels."""

    def __init__(self, ctx: MethodContext, through_vae: bool):
        self.device = torch.device(ctx.device)
        voc_path = resolve(ctx.model, "vocoder")
        self.vocoder = load_model(voc_path, self.device, kind="vocoder")
        self.front = MelFrontEnd().to(self.device)
        self.mel_match = mel_match_passes(ctx)
        self.settings = {"vocoder": str(weight_paths(voc_path)[0]), "vae": None, "mel_match": self.mel_match}
        self.vae = None
        if through_vae:
            vae_path = resolve(ctx.model, "vae")
            self.vae = load_model(vae_path, self.device, kind="vae")
            self.settings.update(vae=str(weight_paths(vae_path)[0]), latent="posterior mode")
        self._last: tuple[tuple, torch.Tensor] | None = None

    def decoded(self, stems: torch.Tensor, batch: dict) -> torch.Tensor:
        key = tuple(int(i) for i in batch.get("index", ())) or None
        if key is None or self._last is None or self._last[0] != key:
            mels = self.front(stems.to(self.device).float())
            if self.vae is not None:
                mels = self.vae.round_trip(mels)
            out = fit_length(vocode_matched(self.vocoder, mels, self.mel_match, self.front), stems.shape[-1]).cpu()
            self._last = (key, out)
        return self._last[1]

    def __call__(self, stems: torch.Tensor, keep: torch.Tensor, batch: dict) -> torch.Tensor:
        k = keep.to(stems.dtype)[None, :, None]
        return stems * k + self.decoded(stems, batch).to(stems) * (1 - k)


register_arranger("vocoder-ceiling", lambda ctx: DecoderCeiling(ctx, through_vae=False),
                  "missing stems: their true mels through the vocoder (the vocoder's ceiling)")
register_arranger("vae-ceiling", lambda ctx: DecoderCeiling(ctx, through_vae=True),
                  "missing stems: their true mels through VAE encode/decode and the vocoder (the first stage's ceiling)")
