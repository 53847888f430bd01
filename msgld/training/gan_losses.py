"""HiFi-GAN's losses: least-squares adversarial (LSGAN) and feature matching."""

from __future__ import annotations

import torch


def discriminator_loss(real_scores: list[torch.Tensor], fake_scores: list[torch.Tensor]) -> torch.Tensor:
    return sum(torch.mean((1 - r.float()) ** 2) + torch.mean(f.float() ** 2) for r, f in zip(real_scores, fake_scores))


def generator_loss(fake_scores: list[torch.Tensor]) -> torch.Tensor:
    return sum(torch.mean((1 - f.float()) ** 2) for f in fake_scores)


def feature_matching_loss(real_feats: list[list[torch.Tensor]], fake_feats: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(
        torch.mean(torch.abs(r.detach().float() - f.float())) for rs, fs in zip(real_feats, fake_feats) for r, f in zip(rs, fs)
    )
