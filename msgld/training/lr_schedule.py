"""The LDM's learning-rate schedule: a linear warm-up, a constant stretch, and an optional
cosine decay ("warmup-stable-decay", Hu et al. 2024, MiniCPM): the stable run keeps training at
its full rate, and a release is a `--fork` that decays from `optim.anneal_start` over
`optim.anneal_steps` steps to `optim.anneal_floor` times the rate, then holds there.

Steps are the scheduler's own count, which a resumed or forked run carries on from its
checkpoint (the global step of the lineage since its scheduler was created).
"""

from __future__ import annotations

import math


def lr_factor(step: int, warmup: int = 1, anneal_start: int | None = None, anneal_steps: int = 0,
              anneal_floor: float = 0.0) -> float:
    """The multiplier on the base learning rate at scheduler step `step` (0-based)."""
    factor = min(1.0, (step + 1) / max(1, int(warmup)))
    if anneal_start is None or anneal_steps <= 0 or step < anneal_start:
        return factor
    done = min(1.0, (step - anneal_start) / anneal_steps)
    return factor * (anneal_floor + (1.0 - anneal_floor) * 0.5 * (1.0 + math.cos(math.pi * done)))


def factor_from_config(optim: dict):
    """`optim` config -> step -> multiplier (the keys are checked here, once)."""
    start = optim.get("anneal_start")
    steps = int(optim.get("anneal_steps", 0) or 0)
    floor = float(optim.get("anneal_floor", 0.0))
    if start is not None and (int(start) < 0 or steps <= 0):
        raise ValueError(f"optim.anneal_start={start} needs optim.anneal_steps > 0 (got {steps}) and a start >= 0")
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"optim.anneal_floor must be in [0, 1], got {floor}")
    warmup = max(1, int(optim.get("warmup_steps", 0) or 0))
    start = None if start is None else int(start)
    return lambda step: lr_factor(step, warmup, start, steps, floor)
