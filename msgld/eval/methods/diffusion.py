"""The diffusion model's methods for `msgld evaluate` (the shipped model unless `--model`).

Separation: `msgld` (the mixture-conditioned model, guidance w), `msdm-dirac` and
`msdm-gaussian` (MSDM-style separation in latent space on the unconditional model).
Generation and arrangement: `msgld`. Sampler settings come from `--option KEY=VALUE`
(sampler, steps, eta, guidance, overlap, batch_size, reconstruct, repaint, given_adapter,
given_guidance), recorded in the
results.
"""

from __future__ import annotations

import torch

from msgld.config import parse_value
from msgld.eval.methods import MethodContext, register_arranger, register_generator, register_separation_method

_BUNDLES: dict[tuple, object] = {}


def bundle(ctx: MethodContext):
    from msgld.inference.bundle import DEFAULT_MODEL, load_bundle

    key = (ctx.model or DEFAULT_MODEL, ctx.device)
    if key not in _BUNDLES:
        _BUNDLES[key] = load_bundle(key[0], ctx.device)
    b = _BUNDLES[key]
    if b.stems != list(ctx.stems):
        raise ValueError(f"the model's stems {b.stems} differ from the dataset's {list(ctx.stems)}")
    return b


def options(ctx: MethodContext, allowed) -> dict:
    out = {k: parse_value(v) for k, v in ctx.options.items() if k in allowed}
    unknown = set(ctx.options) - set(allowed)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; allowed: {sorted(allowed)}")
    return out


def separation_factory(method: str):
    def factory(ctx: MethodContext):
        from msgld.inference.separator import Separator

        sep = Separator(bundle(ctx))
        settings = sep.settings(**{**options(ctx, sep.defaults), "seed": ctx.seed, "method": method})

        def separate(mixture: torch.Tensor, references: torch.Tensor | None = None) -> torch.Tensor:
            return torch.stack([sep.separate(m, sample_rate=ctx.sample_rate, **{**settings, "seed": settings["seed"] + i})
                                for i, m in enumerate(mixture)])

        separate.settings = settings
        return separate

    return factory


def generation_factory(ctx: MethodContext):
    from msgld.inference.engine import to_rate
    from msgld.inference.generator import Generator

    gen = Generator(bundle(ctx))
    settings = gen.settings(**options(ctx, gen.defaults))

    def generate(count: int, length: int, seed: int) -> torch.Tensor:
        pieces = gen.generate_batch([seed + i for i in range(count)], length / ctx.sample_rate, **settings)
        return to_rate(pieces, gen.sample_rate, ctx.sample_rate, length)

    generate.settings = settings
    return generate


def arrangement_factory(ctx: MethodContext):
    from msgld.inference.arranger import Arranger

    arr = Arranger(bundle(ctx))
    settings = arr.settings(**options(ctx, arr.defaults))

    def arrange(stems: torch.Tensor, keep: torch.Tensor, batch: dict) -> torch.Tensor:
        givens = [{s: stems[i, k] for k, s in enumerate(ctx.stems) if keep[k]} for i in range(stems.shape[0])]
        seeds = [ctx.seed + int(batch["index"][i]) if "index" in batch else ctx.seed + i for i in range(stems.shape[0])]
        return arr.arrange_batch(givens, seeds=seeds, sample_rate=ctx.sample_rate, **settings)

    arrange.settings = settings
    return arrange


register_separation_method("msgld", separation_factory("msgld"), "MSG-LD: mixture-conditioned sampling with CFG")
register_separation_method("msdm-dirac", separation_factory("dirac"),
                           "MSDM-style Dirac separation in latent space (unconditional model)")
register_separation_method("msdm-gaussian", separation_factory("gaussian"),
                           "MSDM-style Gaussian separation in latent space (unconditional model)")
register_generator("msgld", generation_factory, "MSG-LD total generation (w = 0)")
register_arranger("msgld", arrangement_factory, "MSG-LD arrangement (given stems inpainted at every step)")
