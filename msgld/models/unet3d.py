"""The multi-track 3-D U-Net eps_theta(z_n, n, c) of MSG-LD.

Latents are [B, S, C, T, F]: the S stems are the convolution channels and the C = 8 latent
channels a depth axis (never downsampled). The mixture latent c [B, C, T, F] is
average-pooled to each level's (T, F) and ADDED to the features (broadcast over the feature
channels) before every encoder, middle and decoder block (paper II-C; no FiLM). A condition
of zeros (or None) is the null condition of classifier-free guidance: the network knows
nothing else about guidance.

Text (off unless `text_dim` > 0 in the config): a pooled sentence embedding [B, text_dim] is
mapped by a bias-free MLP with a zero-initialised output layer (`TextEmbedding`) and added to
the timestep embedding; with `text_film: true` the same MLP also gives every ResBlock its own
per-channel scale and shift (FiLM), which reach the features directly. Zeros are the null text.
A config without `text_dim` builds the network and the state dict it always did, so weights made
before text existed load unchanged; adding the pathway to such weights (`missing_text_keys`)
gives the same outputs until it is trained.

Growth: `extra_blocks` [per level] appends that many ResBlocks (c -> c, second conv at zero, so
each starts as the identity) to every block of the level, the middle ones included. A trained
network loaded into a grown one (`new_pathways_only`) computes exactly what it did, and training
then uses the added depth: capacity added without losing what was learned. `mixture_proj: true`
likewise gives every block a learned view of the mixture (`MixtureProjection`, starting at zero)
beside the paper's broadcast sum, which gives every feature channel the same copy of it.

Arrangement (`given_adapter: true`): `forward(..., given=(known, mask))` lets the network see
the given stems clean, not only noised to the current level as inpainting shows them
(`GivenStemsAdapter`, one zero-initialised 1x1 projection per block). It is skipped when
`given` is None, so separation and generation compute exactly what the network without it does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from msgld.models.unet3d_blocks import (
    Downsample3d, GivenStemsAdapter, MixtureProjection, ResBlock3d, SelfAttention3d, TextEmbedding, Upsample3d, norm,
    timestep_embedding,
)

TEXT_PREFIX = "text_embed."
EXTRA_INFIX = ".extra."
MIX_INFIX = ".mix."
GIVEN_PREFIX = "given_adapter."
GIVEN_INFIX = ".given."
GROWTH_KEYS = ("text_dim", "text_film", "extra_blocks", "mixture_proj", "given_adapter")  # settings that add weights and change nothing until trained

DEFAULTS = {
    "stems": ["bass", "drums", "guitar", "piano"],
    "latent_channels": 8,
    "channels": 32,
    "channel_mult": [1, 2, 3],
    "num_res_blocks": 1,
    "attention_levels": [2],
    "head_dim": 32,
    "norm_groups": 8,
    "dropout": 0.0,
}


class Block(nn.Module):
    """Condition added (and, with `mix_channels`, its learned projection; with `given_channels`,
    the projection of the given stems' features), then a ResBlock and its `extra` ones (growth),
    then (optionally) self-attention."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, attention: bool, head_dim: int, dropout: float,
                 extra: int = 0, mix_channels: int = 0, given_channels: int = 0):
        super().__init__()
        self.res = ResBlock3d(c_in, c_out, emb_dim, groups, dropout)
        if extra:  # no attribute otherwise: the state dict of an ungrown block stays as it was
            self.extra = nn.ModuleList(ResBlock3d(c_out, c_out, emb_dim, groups, dropout) for _ in range(extra))
        if mix_channels:  # likewise
            self.mix = MixtureProjection(mix_channels, c_in)
        if given_channels:  # likewise
            self.given = nn.Conv3d(given_channels, c_in, 1, bias=False)
            nn.init.zeros_(self.given.weight)
        self.attn = SelfAttention3d(c_out, groups, head_dim) if attention else None

    def res_blocks(self) -> list[ResBlock3d]:
        return [self.res, *getattr(self, "extra", [])]

    def forward(self, h: torch.Tensor, emb: torch.Tensor, cond: torch.Tensor | None,
                film: torch.Tensor | None = None, given: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None:
            h = h + cond
            if hasattr(self, "mix"):
                h = h + self.mix(cond)
        if given is not None:
            h = h + self.given(given)
        for res in self.res_blocks():
            h = res(h, emb, film)
        return self.attn(h) if self.attn is not None else h


class MultiTrackUNet(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        cfg = {**DEFAULTS, **config}
        self.config = cfg
        self.stems = list(cfg["stems"])
        ch, mult, groups = cfg["channels"], cfg["channel_mult"], cfg["norm_groups"]
        n_res, attn_levels = cfg["num_res_blocks"], set(cfg["attention_levels"])
        widths = [ch * m for m in mult]
        self.levels = len(widths)
        emb_dim = 4 * ch
        self.emb_dim = ch
        self.time_mlp = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.text_dim = int(cfg.get("text_dim") or 0)  # not in DEFAULTS: text-free configs stay as they were
        self.text_embed = TextEmbedding(self.text_dim, emb_dim) if self.text_dim else None
        extra = list(cfg.get("extra_blocks") or [0] * len(widths))  # not in DEFAULTS, like text_dim
        if len(extra) != len(widths) or any(int(e) < 0 for e in extra):
            raise ValueError(f"extra_blocks {extra}: expected one count >= 0 per level ({len(widths)} levels)")
        mix = int(cfg["latent_channels"]) if cfg.get("mixture_proj") else 0  # not in DEFAULTS either
        given = widths if cfg.get("given_adapter") else [0] * len(widths)  # nor this
        self.given_adapter = GivenStemsAdapter(len(self.stems), widths) if cfg.get("given_adapter") else None
        block = lambda ci, co, lvl: Block(ci, co, emb_dim, groups, lvl in attn_levels, cfg["head_dim"], cfg["dropout"],  # noqa: E731
                                          int(extra[lvl]), mix, given[lvl])

        self.conv_in = nn.Conv3d(len(self.stems), ch, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips, c_prev = [ch], ch
        for lvl, w in enumerate(widths):
            blocks = nn.ModuleList()
            for _ in range(n_res):
                blocks.append(block(c_prev, w, lvl))
                c_prev = w
                skips.append(w)
            self.down.append(blocks)
            if lvl < self.levels - 1:
                self.downsample.append(Downsample3d(w))
                skips.append(w)
        self.mid = nn.ModuleList([
            Block(c_prev, c_prev, emb_dim, groups, True, cfg["head_dim"], cfg["dropout"], int(extra[-1]), mix, given[-1]),
            Block(c_prev, c_prev, emb_dim, groups, False, cfg["head_dim"], cfg["dropout"], int(extra[-1]), mix, given[-1]),
        ])
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for lvl in reversed(range(self.levels)):
            blocks = nn.ModuleList()
            for _ in range(n_res + 1):
                blocks.append(block(c_prev + skips.pop(), widths[lvl], lvl))
                c_prev = widths[lvl]
            self.up.append(blocks)
            if lvl > 0:
                self.upsample.append(Upsample3d(c_prev))
        self.norm_out = norm(c_prev, groups)
        self.conv_out = nn.Conv3d(c_prev, len(self.stems), 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        if cfg.get("text_film"):
            if not self.text_dim:
                raise ValueError("text_film needs a text pathway (set text_dim)")
            self.text_embed.film = self.film_layout(emb_dim)

    def film_layout(self, emb_dim: int) -> nn.Linear:
        """Give every ResBlock its columns of the FiLM vector (scale, then shift, per output
        channel) and return the zero-initialised layer that makes it."""
        width = 0
        for blk in [*(b for blocks in self.down for b in blocks), *self.mid, *(b for blocks in self.up for b in blocks)]:
            for res in blk.res_blocks():
                n = 2 * res.conv2.out_channels
                res.film_slice = (width, width + n)
                width += n
        layer = nn.Linear(emb_dim, width, bias=False)
        nn.init.zeros_(layer.weight)
        return layer

    @property
    def downsampling(self) -> int:
        """T and F must be divisible by this."""
        return 2 ** (self.levels - 1)

    def pooled_conditions(self, cond: torch.Tensor | None) -> list[torch.Tensor | None]:
        """The mixture latent [B, C, T, F] average-pooled to every level: [B, 1, C, T_l, F_l]."""
        if cond is None:
            return [None] * self.levels
        out = []
        for lvl in range(self.levels):
            k = 2**lvl
            pooled = F.avg_pool2d(cond, k) if k > 1 else cond
            out.append(pooled.unsqueeze(1))
        return out

    @property
    def has_text(self) -> bool:
        return self.text_embed is not None

    @property
    def has_given(self) -> bool:
        return self.given_adapter is not None

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None,
                text: torch.Tensor | None = None, given: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """x [B, S, C, T, F], t [B] (or scalar), cond [B, C, T, F] or None, text [B, text_dim] or
        None, given (known clean latents, mask) [B, S, C, T, F] each or None -> eps [B, S, C, T, F]."""
        b, s, c, tt, ff = x.shape
        if s != len(self.stems):
            raise ValueError(f"expected {len(self.stems)} stems {self.stems}, got {s}")
        if tt % self.downsampling or ff % self.downsampling:
            raise ValueError(f"latent T={tt}, F={ff} must be divisible by {self.downsampling}")
        t = torch.as_tensor(t, device=x.device).expand(b) if torch.as_tensor(t).ndim == 0 else t
        emb = self.time_mlp(timestep_embedding(t, self.emb_dim).to(x.dtype))
        film = None
        if text is not None:
            shift, film = self.text_condition(text, b)
            emb = emb + shift.to(emb.dtype)
        conds = self.pooled_conditions(cond.to(x.dtype) if cond is not None else None)
        gv = self.given_features(given, x) if given is not None else [None] * self.levels

        h = self.conv_in(x)
        hs = [h]
        for lvl, blocks in enumerate(self.down):
            for blk in blocks:
                h = blk(h, emb, conds[lvl], film, gv[lvl])
                hs.append(h)
            if lvl < self.levels - 1:
                h = self.downsample[lvl](h)
                hs.append(h)
        for blk in self.mid:
            h = blk(h, emb, conds[-1], film, gv[-1])
        for i, blocks in enumerate(self.up):
            lvl = self.levels - 1 - i
            for blk in blocks:
                h = blk(torch.cat([h, hs.pop()], dim=1), emb, conds[lvl], film, gv[lvl])
            if lvl > 0:
                h = self.upsample[i](h)
        return self.conv_out(F.silu(self.norm_out(h)))

    def given_features(self, given: tuple[torch.Tensor, torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
        if self.given_adapter is None:
            raise ValueError("this U-Net has no given-stems pathway (its config has no given_adapter)")
        known, mask = given
        if known.shape != x.shape:
            raise ValueError(f"given latents {tuple(known.shape)} differ from the input {tuple(x.shape)}")
        dtype = self.given_adapter.conv_in.weight.dtype
        return [f.to(x.dtype) for f in self.given_adapter(known.to(dtype), mask.to(dtype).expand_as(known))]

    def text_condition(self, text: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> (timestep-embedding shift, FiLM vectors or None) for text embeddings [B, text_dim]."""
        if self.text_embed is None:
            raise ValueError("this U-Net has no text pathway (its config has no text_dim); it cannot take a text "
                             "condition")
        if text.shape != (batch, self.text_dim):
            raise ValueError(f"expected text embeddings [{batch}, {self.text_dim}], got {tuple(text.shape)}")
        return self.text_embed(text.to(self.text_embed.fc1.weight.dtype))


def without_text(config: dict) -> dict:
    """A U-Net config less its text setting (what two networks must share to exchange weights)."""
    return {k: v for k, v in config.items() if k != "text_dim"}


def missing_text_keys(missing: list[str], unexpected: list[str]) -> bool:
    """Whether a non-strict load left out only the text pathway (weights of a text-free model)."""
    return not unexpected and all(k.startswith(TEXT_PREFIX) for k in missing)


def without_growth(config: dict) -> dict:
    """A U-Net config less the settings that only add weights (text, FiLM, extra blocks, mixture
    projections): what a trained network and a grown one must share."""
    return {k: v for k, v in config.items() if k not in GROWTH_KEYS}


def new_pathways_only(missing: list[str], unexpected: list[str]) -> bool:
    """Whether a non-strict load left out only weights that start as no-ops: the text pathway
    (its FiLM layer included), extra blocks, mixture projections and the given-stems pathway of a
    grown network."""
    return not unexpected and all(k.startswith((TEXT_PREFIX, GIVEN_PREFIX)) or EXTRA_INFIX in k or MIX_INFIX in k
                                  or GIVEN_INFIX in k for k in missing)


def build_unet(config: dict) -> MultiTrackUNet:
    return MultiTrackUNet(config)


def build_ldm(config: dict) -> MultiTrackUNet:
    """Weights factory of kind `ldm`: the JSON's config holds `model`, `diffusion` and `latent`
    (the VAE's scale factor and hash, the stems), kept on the network for the samplers."""
    net = MultiTrackUNet(config["model"])
    net.diffusion_config = dict(config["diffusion"])
    net.latent_info = dict(config.get("latent", {}))
    net.text_info = dict(config.get("text") or {})  # encoder name, dim, caption dropout (text models only)
    return net
