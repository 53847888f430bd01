"""Reference methods that need no model: the rows every table is read against.

Separation: `mixture` (the mixture as every stem's estimate: SI-SDRi 0 by definition) and
`oracle-mel-mask` (ratio masks from the true stems' 64-band mel magnitudes on the mixture STFT:
the upper bound of any separator that estimates mels and reuses the mixture phase).
Arrangement: `given-only` (missing stems silent), `random-pairing` (missing stems from a clip
of another track, drawn with the run's seed: plausible parts, incoherent arrangement;
`--option donor=stem` draws a donor per stem) and `time-shifted` (missing stems from their own
song at a seeded time shift, `msgld.data.shifts`: the right sounds, key and tempo, out of time).
"""

from __future__ import annotations

import numpy as np
import torch

from msgld.audio.reconstruct import oracle_mel_mask
from msgld.data.shifts import draw_shift, read_cyclic
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
    default_rng([seed, i]) (with `donor=stem`, stem k's from default_rng([seed, i, k])), so it is
    the same for every subset and every run with that seed."""

    def __init__(self, ctx: MethodContext):
        if ctx.dataset is None:
            raise ValueError("random-pairing needs the evaluated dataset")
        self.dataset, self.seed = ctx.dataset, ctx.seed
        self.per_stem = ctx.options.get("donor", "clip") == "stem"
        if ctx.options.get("donor", "clip") not in ("clip", "stem"):
            raise ValueError(f"random-pairing: donor must be clip or stem, got {ctx.options['donor']!r}")
        tracks = [ctx.dataset.tracks[t].name for t, _ in ctx.dataset.eval_items]
        self.track_of = np.array(tracks)
        if len(self.track_of) < 2:
            raise ValueError("random-pairing needs at least two clips")
        who = "stem" if self.per_stem else "clip"
        self.settings = {"seed": self.seed, "donor": f"per {who}: a clip of another track (any clip if the split has one track)"}
        self._cache: dict[int, torch.Tensor] = {}

    def donor(self, index: int, stem: int | None = None) -> int:
        others = np.flatnonzero(self.track_of != self.track_of[index])
        if others.size == 0:
            others = np.flatnonzero(np.arange(len(self.track_of)) != index)
        key = [self.seed, index] if stem is None else [self.seed, index, stem]
        return int(np.random.default_rng(key).choice(others))

    def donor_stems(self, index: int, length: int) -> torch.Tensor:
        """The stems [S, length] of clip `index` (a donor; cached)."""
        if index not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[index] = self.dataset[index]["stems"]
        stems = self._cache[index][..., :length]
        return torch.nn.functional.pad(stems, (0, length - stems.shape[-1]))

    def __call__(self, stems: torch.Tensor, keep: torch.Tensor, batch: dict) -> torch.Tensor:
        length = stems.shape[-1]
        if self.per_stem:
            donors = torch.stack([torch.stack([self.donor_stems(self.donor(int(i), k), length)[k]
                                               for k in range(stems.shape[1])]) for i in batch["index"]])
        else:
            donors = torch.stack([self.donor_stems(self.donor(int(i)), length) for i in batch["index"]])
        k = keep.to(stems.dtype)[None, :, None]
        return stems * k + donors.to(stems) * (1 - k)


class TimeShifted:
    """Missing stem k of clip i read from its own track at the shift drawn from
    default_rng([seed, i, k]) (the track as a loop; `msgld.data.shifts`)."""

    def __init__(self, ctx: MethodContext):
        if ctx.dataset is None:
            raise ValueError("time-shifted needs the evaluated dataset")
        self.dataset, self.seed, self.stems = ctx.dataset, ctx.seed, list(ctx.stems)
        self.settings = {"seed": self.seed, "shift": "uniform in [1 s, track length - 1 s], per clip and stem"}

    def shifted(self, index: int, stem: int, length: int) -> torch.Tensor:
        t, start = self.dataset.eval_items[index]
        track = self.dataset.tracks[t]
        shift = draw_shift(np.random.default_rng([self.seed, index, stem]), track.length)
        return torch.from_numpy(read_cyclic(track, [self.stems[stem]], start + shift, length)[0])

    def __call__(self, stems: torch.Tensor, keep: torch.Tensor, batch: dict) -> torch.Tensor:
        out = stems.clone()
        for b, index in enumerate(batch["index"]):
            for k in np.flatnonzero(~keep.numpy()):
                out[b, k] = self.shifted(int(index), int(k), stems.shape[-1]).to(stems)
        return out


register_separation_method("mixture", mixture_method, "the mixture as every stem's estimate (SI-SDRi = 0)")
register_separation_method(
    "oracle-mel-mask", oracle_mel_mask_method, "true stems' mel ratio masks on the mixture STFT (oracle)", oracle=True
)
register_arranger("given-only", given_only_arranger, "missing stems silent")
register_arranger("random-pairing", RandomPairing, "missing stems from a clip of another track (seeded)")
register_arranger("time-shifted", TimeShifted, "missing stems from their own song at a time shift (seeded)")
