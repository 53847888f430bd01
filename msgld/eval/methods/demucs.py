"""`demucs`: HT-Demucs, the same-budget waveform peer (trained by `msgld train demucs`).

The weights pair comes from `--model PATH` or `--option weights=PATH` (a `demucs` pair, e.g.
RUN/weights/best/demucs); there is no shipped default. Each clip is separated by Demucs's own
overlap-add chunking (`demucs.apply.apply_model`: chunks of the training segment, `overlap`
0.25 by default, triangular cross-fades); `--option shifts=N` averages N random time shifts
(Demucs's test-time augmentation, seeded by `--seed`; default 0).
"""

from __future__ import annotations

import torch

from msgld.eval.methods import MethodContext, register_separation_method
from msgld.weights import load_model, weight_paths


class DemucsSeparator:
    """separate(mixture [B, L], references ignored) -> stems [B, S, L] in the evaluated order."""

    def __init__(self, ctx: MethodContext):
        # imported here: the registry imports every method module, and `demucs` is needed only now
        from msgld.models.htdemucs import KIND

        path = ctx.options.get("weights") or ctx.model
        if not path:
            raise ValueError("demucs: give the weights with --model PATH or --option weights=PATH "
                             "(e.g. RUN/weights/best/demucs from `msgld train demucs`)")
        self.device = torch.device(ctx.device)
        self.model = load_model(path, self.device, kind=KIND)
        sources = list(self.model.sources)
        missing = [s for s in ctx.stems if s not in sources]
        if missing:
            raise ValueError(f"demucs: the model separates {sources}; it has no {missing}")
        self.order = [sources.index(s) for s in ctx.stems]
        self.shifts = int(ctx.options.get("shifts", 0))
        self.overlap = float(ctx.options.get("overlap", 0.25))
        self.seed = ctx.seed
        self.settings = {"weights": str(weight_paths(path)[0]), "shifts": self.shifts, "overlap": self.overlap,
                         "segment_seconds": float(self.model.segment), "chunking": "demucs.apply.apply_model"}

    def __call__(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> torch.Tensor:
        from msgld.models.htdemucs import separate_waves

        stems = separate_waves(self.model, mixture, shifts=self.shifts, overlap=self.overlap, seed=self.seed)
        return stems[:, self.order].cpu()


register_separation_method(
    "demucs", DemucsSeparator,
    "HT-Demucs (demucs package) trained by `msgld train demucs`; --model or --option weights=PATH",
)
