"""Reference methods that need no model: the rows every table is read against.

Separation: `mixture` (the mixture as every stem's estimate: SI-SDRi 0 by definition) and
`oracle-mel-mask` (ratio masks from the true stems' 64-band mel magnitudes on the mixture STFT:
the upper bound of any separator that estimates mels and reuses the mixture phase).
Arrangement: `given-only` (missing stems silent) and `random-pairing` (missing stems from a clip
of another track, drawn with the run's seed: plausible parts, incoherent arrangement).
"""

from __future__ import annotations

import numpy as np
import torch

from msgld.audio.reconstruct import oracle_mel_mask
from msgld.eval.methods import MethodContext, register_arranger, register_separation_method


def mixture_method(ctx: MethodContext):
    def separate(mixture: torch.Tensor, references: torch.Tensor | None = None) -> torch.Tensor:
        return mixture[:, None].expand(-1, len(ctx.stems), -1).clone()

    return separate


def oracle_mel_mask_method(ctx: MethodContext):
    def separate(mixture: torch.Tensor, references: torch.Tensor | None = None) -> torch.Tensor:
        if references is None:
            raise ValueError("oracle-mel-mask needs the true stems")
        return oracle_mel_mask(references.to(ctx.device), mixture.to(ctx.device)).cpu()

    separate.settings = {"mel": "msgld.audio.mel (64 bands)", "phase": "mixture"}
    return separate


def given_only_arranger(ctx: MethodContext):
    def arrange(stems: torch.Tensor, keep: torch.Tensor, batch: dict) -> torch.Tensor:
        return stems * keep.to(stems.dtype)[None, :, None]

    return arrange


class RandomPairing:
    """Missing stems from a clip of another track; the donor of clip i is drawn from
    default_rng([seed, i]), so it is the same for every subset and every run with that seed."""

    def __init__(self, ctx: MethodContext):
        if ctx.dataset is None:
            raise ValueError("random-pairing needs the evaluated dataset")
        self.dataset, self.seed = ctx.dataset, ctx.seed
        tracks = [ctx.dataset.tracks[t].name for t, _ in ctx.dataset.eval_items]
        self.track_of = np.array(tracks)
        if len(self.track_of) < 2:
            raise ValueError("random-pairing needs at least two clips")
        self.settings = {"seed": self.seed, "donor": "a clip of another track (any clip if the split has one track)"}
        self._cache: dict[int, torch.Tensor] = {}

    def donor(self, index: int) -> int:
        others = np.flatnonzero(self.track_of != self.track_of[index])
        if others.size == 0:
            others = np.flatnonzero(np.arange(len(self.track_of)) != index)
        return int(np.random.default_rng([self.seed, index]).choice(others))

    def donor_stems(self, index: int, length: int) -> torch.Tensor:
        if index not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[index] = self.dataset[self.donor(index)]["stems"]
        stems = self._cache[index][..., :length]
        return torch.nn.functional.pad(stems, (0, length - stems.shape[-1]))

    def __call__(self, stems: torch.Tensor, keep: torch.Tensor, batch: dict) -> torch.Tensor:
        donors = torch.stack([self.donor_stems(int(i), stems.shape[-1]) for i in batch["index"]]).to(stems)
        k = keep.to(stems.dtype)[None, :, None]
        return stems * k + donors * (1 - k)


register_separation_method("mixture", mixture_method, "the mixture as every stem's estimate (SI-SDRi = 0)")
register_separation_method(
    "oracle-mel-mask", oracle_mel_mask_method, "true stems' mel ratio masks on the mixture STFT (oracle)", oracle=True
)
register_arranger("given-only", given_only_arranger, "missing stems silent")
register_arranger("random-pairing", RandomPairing, "missing stems from a clip of another track (seeded)")
