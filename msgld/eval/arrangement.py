"""The paper's Table I: arrangement FAD over the non-empty proper subsets of the stems.

For every subset of stems to generate (14 for 4 stems), the arranger fills those stems given
the others' originals; the mixture of (generated + given originals) is embedded, and its FAD
against the real mixtures of the same clips is the row's number. A row's label lists the
generated stems by initial (e.g. `BD`: bass and drums generated, guitar and piano given).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import torch

from msgld import SAMPLE_RATE
from msgld.data.stems_dataset import SEGMENT
from msgld.eval.clips import batches, clip_count, open_split
from msgld.eval.embeddings import DEFAULT_EMBEDDING, get_embedding
from msgld.eval.fad import GaussianStats, fad_row
from msgld.eval.methods import MethodContext, get_entry
from msgld.eval.report import markdown_table, run_record


def stem_labels(stems: list[str]) -> list[str]:
    """Upper-case initials when they are unique, else the full names."""
    initials = [s[0].upper() for s in stems]
    return initials if len(set(initials)) == len(stems) else list(stems)


def subsets(stems: list[str]) -> list[tuple[str, ...]]:
    """Every non-empty proper subset of `stems` (the stems to generate), by size then stem order."""
    return [c for k in range(1, len(stems)) for c in itertools.combinations(stems, k)]


def subset_label(generated: tuple[str, ...], stems: list[str]) -> str:
    labels = stem_labels(stems)
    parts = [labels[stems.index(s)] for s in generated]
    return "".join(parts) if all(len(p) == 1 for p in parts) else "+".join(parts)


def select_subsets(stems: list[str], wanted: list[str] | None) -> list[tuple[str, ...]]:
    every = subsets(stems)
    if not wanted:
        return every
    by_label = {subset_label(s, stems): s for s in every}
    missing = [w for w in wanted if w not in by_label]
    if missing:
        raise ValueError(f"unknown subsets {missing}; use labels of the generated stems: {sorted(by_label)}")
    return [by_label[w] for w in wanted]


def evaluate_arrangement(
    data: str | Path,
    method: str,
    split: str = "test",
    preset: str = "slakh2100",
    stems: list[str] | None = None,
    segment: int = SEGMENT,
    limit: int | None = None,
    batch_size: int = 4,
    seed: int = 0,
    embedding: str = DEFAULT_EMBEDDING,
    embedding_weights: str | None = None,
    device: str = "cpu",
    model: str | None = None,
    config: str | None = None,
    options: dict[str, str] | None = None,
    only_subsets: list[str] | None = None,
    progress: bool = True,
) -> dict:
    """FAD of arranged mixtures per subset of generated stems, against the real mixtures."""
    started = time.perf_counter()
    entry = get_entry("arrangement", method)
    dataset = open_split(data, split, preset, stems, segment)
    names = dataset.stems
    chosen = select_subsets(names, only_subsets)
    emb = get_embedding(embedding, embedding_weights, device)
    ctx = MethodContext(stems=names, seed=seed, device=device, model=model, config=config,
                        options=dict(options or {}), dataset=dataset)
    torch.manual_seed(seed)
    np.random.seed(seed)
    arrange = entry.factory(ctx)
    real = GaussianStats(emb.dim)
    arranged = {s: GaussianStats(emb.dim) for s in chosen}
    for batch in batches(dataset, limit, batch_size, desc=f"arrangement/{method}", progress=progress):
        real.add(emb(batch["mixture"]))
        for generated in chosen:
            keep = torch.tensor([s not in generated for s in names])
            with torch.inference_mode():
                out = torch.as_tensor(arrange(batch["stems"], keep, batch)).float().cpu()
            if out.shape != batch["stems"].shape:
                raise ValueError(f"arranger {method!r} returned {tuple(out.shape)}, expected {tuple(batch['stems'].shape)}")
            k = keep.float()[None, :, None]
            mixed = (batch["stems"] * k + out * (1 - k)).sum(1)  # the given originals, always
            arranged[generated].add(emb(mixed))
    rows = [
        {"label": subset_label(g, names), "generated": list(g), "given": [s for s in names if s not in g],
         **fad_row(subset_label(g, names), "arranged", "real", arranged[g], real, emb.name)}
        for g in chosen
    ]
    return {
        "task": "arrangement",
        "method": method,
        "clips": clip_count(dataset, limit),
        "skipped": dataset.skipped,
        "rows": rows,
        "mean": {"fad": float(np.mean([r["fad"] for r in rows])), "embedding": emb.name},
        **run_record(
            data=str(Path(data).resolve()), split=split, preset=preset, stems=names,
            segment_seconds=segment / SAMPLE_RATE, sample_rate=SAMPLE_RATE, seed=seed, model=model, config=config,
            options=ctx.options, method_settings=getattr(arrange, "settings", {}),
            embedding=emb.name, embedding_settings=emb.settings(),
            elapsed_seconds=round(time.perf_counter() - started, 3),
        ),
    }


def arrangement_markdown(result: dict) -> str:
    title = (f"# Arrangement: {result['method']}\n\nFAD with embedding **{result['embedding']}** of (generated + given "
             f"originals) against the real mixtures; {result['clips']} clips of split `{result['split']}` of "
             f"`{result['data']}`. A label lists the generated stems.\n\n")
    rows = [[r["label"], ", ".join(r["generated"]), ", ".join(r["given"]), r["fad"]] for r in result["rows"]]
    rows.append(["**mean**", "", "", result["mean"]["fad"]])
    return title + markdown_table(["generated", "generated stems", "given stems", f"FAD ({result['embedding']})"], rows)
