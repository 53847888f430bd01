"""`stemfit`: an FAD embedding that hears whether the stems of a mixture belong together.

The network (`msgld.models.stemfit`) was trained here, on the train split of SynthSlakh only
(`msgld embedding train`, never on evaluation clips), to tell real mixtures from mixtures whose
stems come from time-shifted copies of their own song or from another song. Its weights ship
in `msgld/pretrained/stemfit/` (safetensors + JSON; nothing is downloaded). The embedding: the
64-d vector before the classifier head, for windows of 2.56 s every 0.64 s of chroma and
band-onset features (13 frames per 10.24 s clip).

`stemfit-complete` is the same network trained with every stem of a real example audible and
a fourth kind of fake, the mixture with some of its stems left out (`msgld embedding train
--mute 0 --kinds ...`). stemfit counts a muted stem as real; stemfit-complete does not, so an
arrangement that leaves the missing stems silent scores as a fake.
"""

from __future__ import annotations

from pathlib import Path

import torch

from msgld import SAMPLE_RATE
from msgld.weights import load_model, weight_paths

PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained" / "stemfit"


class StemFitEmbedding:
    sample_rate = SAMPLE_RATE

    def __init__(self, weights: str | Path | None = None, device: str = "cpu", name: str = "stemfit"):
        import msgld.models.stemfit  # noqa: F401  (registers the weights kind)

        self.path = Path(weights) if weights else PRETRAINED / name
        if not weight_paths(self.path)[1].exists():
            raise FileNotFoundError(f"{weight_paths(self.path)[1]}: stemfit weights not found "
                                    "(make them with `msgld embedding train` and `msgld embedding export`)")
        self.device = torch.device(device)
        self.model = load_model(self.path, self.device, kind="stemfit")
        self.name, self.dim = name, self.model.dim

    def settings(self) -> dict:
        info = self.model.weights_info
        return {"name": self.name, "model": "stemfit (msgld.models.stemfit), trained here",
                "weights": str(weight_paths(self.path)[0]), "sha256": info.get("sha256"), "dim": self.dim,
                "window_seconds": self.model.window * self.model.hop / SAMPLE_RATE,
                "hop_seconds": self.model.window_hop * self.model.hop / SAMPLE_RATE,
                "training": {k: info.get("training", {}).get(k) for k in ("data", "step", "seed", "last")}}

    @torch.inference_mode()
    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        """16 kHz waveforms [B, L] -> embeddings [B, N, dim]."""
        windows = self.model.windows(waves.to(self.device).float())  # [B, N, features, window]
        b, n = windows.shape[:2]
        return self.model.embed(windows.reshape(b * n, *windows.shape[2:])).reshape(b, n, self.dim).cpu()

    @torch.inference_mode()
    def fit(self, waves: torch.Tensor) -> torch.Tensor:
        """P(the stems belong together) per window [B, N]."""
        windows = self.model.windows(waves.to(self.device).float())
        b, n = windows.shape[:2]
        return torch.sigmoid(self.model(windows.reshape(b * n, *windows.shape[2:]))).reshape(b, n).cpu()
