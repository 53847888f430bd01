"""The protocol of the FAD tables: every row is a set A of clips against one real set B.

The clips of the split are permuted with the seed; set A (the evaluated clips, half by
default) is what generators are matched to, controls and ceilings are made from and arrangers
fill in; set B (the rest) is the real reference of every row. So "real A vs real B" is the
floor of the table at the very counts of its other rows, and no row is compared with the clips
it was made from. `Comparison` adds rows per embedding with a bootstrap interval over clips
(`msgld.eval.bootstrap`) and, against a baseline row of the same size, `p_above_real`: the share
of bootstrap draws in which the row is further from B than the real clips are.
"""

from __future__ import annotations

import numpy as np
import torch

from msgld.eval.bootstrap import ClipFrames, FadBootstrap
from msgld.eval.clips import batches
from msgld.eval.embeddings import Embedding
from msgld.eval.report import fmt, markdown_table


def split_sets(total: int, evaluated: int | None, seed: int) -> tuple[list[int], list[int]]:
    """(set A, set B) clip indices from default_rng(seed).permutation(total); A has `evaluated`
    clips (default: half, rounded up), B the rest."""
    n_a = (total + 1) // 2 if evaluated is None else int(evaluated)
    if not 1 <= n_a <= total - 2:
        raise ValueError(f"set A needs 1 to {total - 2} of the {total} clips (set B at least 2), got {n_a}")
    order = np.random.default_rng(seed).permutation(total).tolist()
    return order[:n_a], order[n_a:]


def frames_for(embeddings: list[Embedding]) -> dict[str, ClipFrames]:
    return {e.name: ClipFrames(e.dim) for e in embeddings}


def embed_into(frames: dict[str, ClipFrames], embeddings: list[Embedding], mixtures: torch.Tensor) -> None:
    """Embed mixtures [B, L] with every embedding; one clip per mixture."""
    for e in embeddings:
        frames[e.name].add(e(mixtures))


def embed_real(dataset, indices: list[int], embeddings: list[Embedding], batch_size: int, progress: bool,
               desc: str) -> dict[str, ClipFrames]:
    """The real mixtures of the clips `indices`, in that order."""
    out = frames_for(embeddings)
    for batch in batches(dataset, batch_size=batch_size, desc=desc, progress=progress, indices=indices):
        embed_into(out, embeddings, batch["mixture"])
    return out


def subset(frames: dict[str, ClipFrames], positions) -> dict[str, ClipFrames]:
    return {name: f.subset(list(positions)) for name, f in frames.items()}


class Comparison:
    """Rows of FAD against the real set B, one bootstrap (shared draws) per embedding."""

    def __init__(self, reference: dict[str, ClipFrames], draws: int = 200, seed: int = 0):
        self.boot = {name: FadBootstrap(frames, draws, seed) for name, frames in reference.items()}

    def rows(self, name: str, a: str, b: str, frames: dict[str, ClipFrames],
             baseline: dict[str, ClipFrames] | None = None, **extra) -> list[dict]:
        """One row per embedding; `baseline` (the real clips of the same size) gives p_above_real."""
        out = []
        for emb, f in frames.items():
            row = {"name": name, "a": a, "b": b, "embedding": emb, **extra, **self.boot[emb].row(f)}
            if baseline is not None:
                row["p_above_real"] = self.boot[emb].p_above(f, baseline[emb])
            out.append(row)
        return out


def cell(row: dict | None) -> str:
    """"FAD [lo, hi]" of a row."""
    if row is None:
        return "-"
    if row.get("fad") is None:
        return row.get("note", "-")
    ci = row.get("ci95")
    return f"{fmt(row['fad'])} [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else fmt(row["fad"])


def pivot_table(rows: list[dict], embeddings: list[str]) -> str:
    """Markdown: one line per row name, FAD [95% CI] and P(> real) per embedding."""
    names = list(dict.fromkeys((r["name"], r.get("a", ""), r.get("b", "")) for r in rows))
    by = {(r["name"], r.get("a", ""), r.get("b", ""), r["embedding"]): r for r in rows}
    with_p = any(r.get("p_above_real") is not None for r in rows)
    header = ["row", "set A", "set B"]
    for e in embeddings:
        header += [f"FAD ({e}) [95% CI]"] + ([f"P(> real) ({e})"] if with_p else [])
    lines = []
    for key in names:
        line = list(key)
        for e in embeddings:
            row = by.get((*key, e))
            line.append(cell(row))
            if with_p:
                line.append(fmt(row.get("p_above_real"), 2) if row else "-")
        lines.append(line)
    return markdown_table(header, lines)
