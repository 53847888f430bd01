"""`scale_factor = 1 / std` of the VAE's training latents (so the diffusion model sees unit
variance), measured after training over a few batches and stored with the weights."""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from tqdm import tqdm

from msgld.models.vae import AutoencoderKL


@torch.no_grad()
def measure_scale_factor(
    vae: AutoencoderKL,
    images: Iterable[torch.Tensor],
    max_batches: int = 32,
    sample: bool = True,
    seed: int = 0,
) -> float:
    """1 / std over all elements of latents of log-mel images [N, 1, T, F] (posterior samples
    drawn with `seed`, as the diffusion model is trained on them; or modes)."""
    generator = torch.Generator().manual_seed(seed)
    total, total_sq, count = 0.0, 0.0, 0
    device = next(vae.parameters()).device
    for i, x in enumerate(tqdm(images, total=max_batches, desc="scale factor", leave=False)):
        if i >= max_batches:
            break
        posterior = vae.encode(x.to(device))
        z = posterior.mode()
        if sample:
            z = z + posterior.std * torch.randn(z.shape, generator=generator).to(z)
        z = z.double()
        total += z.sum().item()
        total_sq += z.pow(2).sum().item()
        count += z.numel()
    if count == 0:
        raise ValueError("no batches to measure the scale factor on")
    variance = total_sq / count - (total / count) ** 2
    return float(1.0 / max(variance, 1e-12) ** 0.5)


def images_from_loader(loader, to_images: Callable[[dict], torch.Tensor]) -> Iterable[torch.Tensor]:
    for batch in loader:
        yield to_images(batch)
