"""PatchGAN discriminator (Isola et al., 2017) on log-mel images, as in the LDM / AudioLDM
autoencoder's optional adversarial loss: strided 4x4 convs, one real/fake logit per patch."""

from __future__ import annotations

import torch
from torch import nn

DEFAULTS = {"channels": 64, "layers": 3}


class PatchGAN(nn.Module):
    def __init__(self, cfg: dict | None = None):
        super().__init__()
        cfg = {**DEFAULTS, **{k: v for k, v in (cfg or {}).items() if k in DEFAULTS}}
        ch, n = cfg["channels"], cfg["layers"]
        layers: list[nn.Module] = [nn.Conv2d(1, ch, 4, 2, 1), nn.LeakyReLU(0.2)]
        c_in = ch
        for i in range(1, n + 1):
            c_out = ch * min(2**i, 8)
            layers += [nn.Conv2d(c_in, c_out, 4, 2 if i < n else 1, 1, bias=False),
                       nn.GroupNorm(min(32, c_out // 4), c_out), nn.LeakyReLU(0.2)]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * (torch.relu(1.0 - real_logits.float()).mean() + torch.relu(1.0 + fake_logits.float()).mean())
