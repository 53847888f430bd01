"""VGGish (Hershey et al., ICASSP 2017) as an FAD embedding, from a weights file the user supplies.

VGGish cannot be downloaded here, so the weights come from a file: a torch state dict
(`torch.load(weights_only=True)`) or a safetensors file, with torchvggish's layer names
(`features.{0,3,6,8,11,13}` convolutions, `embeddings.{0,2,4}` linear layers; e.g.
harritaylor/torchvggish's `vggish-10086976.pth`). Keys outside those (the PCA `pproc.*`) are
ignored. The path comes from the `weights` argument or the MSGLD_VGGISH_WEIGHTS variable.

Front-end (the AudioSet `mel_features` recipe): 16 kHz, 25 ms periodic-Hann frames every
10 ms, 512-point FFT magnitude, 64 HTK mel bands 125-7500 Hz, log(mel + 0.01), cut into
non-overlapping 96-frame (0.96 s) patches. Network: conv blocks 64 / 128 / 256x2 / 512x2 with
2x2 max-pooling, then fc 4096-4096-128. The embedding is the last linear layer's output
without its ReLU and without PCA/quantisation, as in fadtk and audioldm_eval.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from msgld import SAMPLE_RATE

WEIGHTS_ENV = "MSGLD_VGGISH_WEIGHTS"
WINDOW, HOP, N_FFT = 400, 160, 512
N_MELS, F_MIN, F_MAX = 64, 125.0, 7500.0
PATCH = 96  # frames per example (0.96 s)
LOG_OFFSET = 0.01


def hertz_to_mel(hz: np.ndarray) -> np.ndarray:
    """The HTK mel scale."""
    return 1127.0 * np.log(1.0 + hz / 700.0)


def mel_matrix(n_bins: int = N_FFT // 2 + 1, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[n_bins, 64] triangular weights on the HTK mel scale (unnormalised; DC bin zero)."""
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2, n_bins))
    edges = np.linspace(hertz_to_mel(np.array(F_MIN)), hertz_to_mel(np.array(F_MAX)), N_MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


class VGGishFrontEnd(nn.Module):
    """16 kHz waveforms [B, L] -> log-mel patches [B, N, 1, 96, 64] (N = whole 0.96 s patches)."""

    def __init__(self):
        super().__init__()
        window = 0.5 - 0.5 * torch.cos(2 * torch.pi / WINDOW * torch.arange(WINDOW, dtype=torch.float64))
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_matrix()).float(), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        frames = wave.float().unfold(-1, WINDOW, HOP) * self.window  # [B, T, 400], no padding
        mag = torch.fft.rfft(frames, n=N_FFT).abs()
        logmel = torch.log(mag @ self.mel + LOG_OFFSET)  # [B, T, 64]
        patches = logmel.shape[1] // PATCH
        if patches == 0:
            raise ValueError(f"VGGish needs at least {(PATCH - 1) * HOP + WINDOW} samples (0.975 s), got {wave.shape[-1]}")
        return logmel[:, : patches * PATCH].reshape(wave.shape[0], patches, 1, PATCH, N_MELS)


class VGGish(nn.Module):
    """The VGGish network with torchvggish's module layout."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096), nn.ReLU(True), nn.Linear(4096, 128),
        )

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """[N, 1, 96, 64] -> [N, 128]; features flattened in TensorFlow's (H, W, C) order."""
        x = self.features(patches)  # [N, 512, 6, 4]
        return self.embeddings(x.permute(0, 2, 3, 1).reshape(x.shape[0], -1))


def resolve_weights(weights: str | os.PathLike | None) -> Path:
    path = weights or os.environ.get(WEIGHTS_ENV)
    if not path:
        raise FileNotFoundError(
            f"the vggish embedding needs a weights file: pass it (--embedding-weights PATH) or set {WEIGHTS_ENV}; "
            "it is a torchvggish-style state dict (.pth) or a .safetensors file, and cannot be downloaded here"
        )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: VGGish weights file not found")
    return path


def load_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # not a tensors-only torch file
        raise ValueError(f"{path}: not a loadable state dict ({e})") from e
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def load_vggish(weights: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> VGGish:
    path = resolve_weights(weights)
    state = {k: v for k, v in load_state(path).items() if k.startswith(("features.", "embeddings."))}
    model = VGGish()
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path}: does not match the VGGish layout ({str(e).splitlines()[0]})") from e
    return model.to(device).eval()


class VGGishEmbedding:
    """FAD embedding: one 128-d VGGish vector per 0.96 s patch."""

    name = "vggish"
    dim = 128
    sample_rate = SAMPLE_RATE

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "cpu", chunk: int = 64):
        self.device = torch.device(device)
        self.weights = resolve_weights(weights)
        self.model = load_vggish(self.weights, self.device)
        self.front = VGGishFrontEnd().to(self.device)
        self.chunk = chunk

    def settings(self) -> dict:
        return {
            "name": self.name, "model": "VGGish (user-supplied weights)", "weights": str(self.weights),
            "layer": "fc 128, pre-ReLU, no PCA", "dim": self.dim, "hop": PATCH * HOP, "sample_rate": self.sample_rate,
        }

    @torch.inference_mode()
    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        """16 kHz waveforms [B, L] -> embeddings [B, L // 15360 (about), 128] (float32, on the CPU)."""
        patches = self.front(waves.to(self.device))
        flat = patches.reshape(-1, 1, PATCH, N_MELS)
        out = torch.cat([self.model(flat[i : i + self.chunk]) for i in range(0, flat.shape[0], self.chunk)])
        return out.reshape(patches.shape[0], patches.shape[1], self.dim).cpu()
