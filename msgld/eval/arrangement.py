"""The paper's Table I: arrangement FAD over the non-empty proper subsets of the stems.

For every subset of stems to generate (14 for 4 stems), the arranger fills those stems of the
clips of set A given the others' originals; the mixture of (generated + given originals) is
embedded, and its FAD against the real mixtures of set B (`msgld.eval.comparison`: disjoint
clips of the same split) is the row's number. `real` (set A's own mixtures against B) is the
floor. A row's label lists the generated stems by initial (e.g. `BD`: bass and drums
generated, guitar and piano given).

Reference arrangers (`references`) run on the same clips in the same pass: `given-only`
(missing stems silent), `random-pairing` (from another song), `time-shifted` (from a time
shift of the same song), `vocoder-ceiling` and `vae-ceiling` (the missing stems' true mels
through the vocoder, or through the VAE and the vocoder). `wins` counts, per reference, the
subsets on which the method's FAD is lower, and those on which it is lower in at least 95% of
the (shared) bootstrap draws. `written` reads each generated stem against the song's own
(`msgld.eval.written_stems`: onset-envelope correlation, level in dB), per method and subset.
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
from msgld.eval.comparison import Comparison, cell, embed_into, embed_real, frames_for, split_sets, subset
from msgld.eval.embeddings import DEFAULT_EMBEDDING, get_embeddings
from msgld.eval.methods import MethodContext, get_entry, shared_options
from msgld.eval.report import fmt, markdown_table, run_record
from msgld.eval.written_stems import read_written, summarize


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


DEFAULT_REFERENCES = ("given-only", "random-pairing", "time-shifted", "vocoder-ceiling", "vae-ceiling")


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
    embedding: str | list[str] = DEFAULT_EMBEDDING,
    embedding_weights: str | None = None,
    device: str = "cpu",
    model: str | None = None,
    config: str | None = None,
    options: dict[str, str] | None = None,
    only_subsets: list[str] | None = None,
    references: list[str] | tuple[str, ...] = DEFAULT_REFERENCES,
    evaluated: int | None = None,
    bootstrap: int = 200,
    progress: bool = True,
) -> dict:
    """FAD of arranged mixtures of set A per subset of generated stems against set B's real
    mixtures, for `method` and each reference arranger."""
    started = time.perf_counter()
    methods = [method] + [r for r in references if r != method]
    entries = {m: get_entry("arrangement", m) for m in methods}
    dataset = open_split(data, split, preset, stems, segment)
    names = dataset.stems
    chosen = select_subsets(names, only_subsets)
    embs = get_embeddings(embedding, embedding_weights, device)
    emb_names = [e.name for e in embs]
    clips = clip_count(dataset, limit)
    set_a, set_b = split_sets(clips, evaluated, seed)
    ctx = MethodContext(stems=names, seed=seed, device=device, model=model, config=config,
                        options=dict(options or {}), dataset=dataset)
    torch.manual_seed(seed)
    np.random.seed(seed)
    arrangers = {m: entries[m].factory(ctx if m == method else
                                       MethodContext(stems=names, seed=seed, device=device, model=model, dataset=dataset,
                                                     options=shared_options(ctx.options)))
                 for m in methods}
    real = embed_real(dataset, set_a + set_b, embs, batch_size, progress, desc=f"real/{split}")
    real_a, real_b = subset(real, range(len(set_a))), subset(real, range(len(set_a), clips))
    arranged = {(m, g): frames_for(embs) for m in methods for g in chosen}
    readings = {(m, g): [] for m in methods for g in chosen}
    for batch in batches(dataset, batch_size=batch_size, desc=f"arrangement/{method}", progress=progress, indices=set_a):
        for m, arrange in arrangers.items():
            for generated in chosen:
                keep = torch.tensor([s not in generated for s in names])
                with torch.inference_mode():
                    out = torch.as_tensor(arrange(batch["stems"], keep, batch)).float().cpu()
                if out.shape != batch["stems"].shape:
                    raise ValueError(f"arranger {m!r} returned {tuple(out.shape)}, expected {tuple(batch['stems'].shape)}")
                k = keep.float()[None, :, None]
                readings[m, generated] += read_written(out, batch["stems"], names, generated, SAMPLE_RATE)
                embed_into(arranged[m, generated], embs, (batch["stems"] * k + out * (1 - k)).sum(1))  # given originals, always
    table = Comparison(real_b, bootstrap, seed)
    b_label = f"{len(set_b)} real ({split}, set B)"
    real_rows = table.rows("real", f"{len(set_a)} real ({split}, set A)", b_label, real_a)
    rows = []
    for m in methods:
        for g in chosen:
            label = subset_label(g, names)
            rows += table.rows(label, f"{len(set_a)} arranged by {m}", b_label, arranged[m, g], real_a, method=m,
                               label=label, generated=list(g), given=[s for s in names if s not in g])
    return {
        "task": "arrangement",
        "method": method,
        "references": [m for m in methods if m != method],
        "clips": clips,
        "sets": {"a": set_a, "b": set_b},
        "skipped": dataset.skipped,
        "real": real_rows,
        "rows": rows,
        "mean": {m: {e: float(np.mean([r["fad"] for r in rows if r["method"] == m and r["embedding"] == e]))
                     for e in emb_names} for m in methods},
        "wins": wins(rows, table, arranged, method, methods, chosen),
        "written": {m: {subset_label(g, names): summarize(readings[m, g]) for g in chosen} for m in methods},
        **run_record(
            data=str(Path(data).resolve()), split=split, preset=preset, stems=names,
            segment_seconds=segment / SAMPLE_RATE, sample_rate=SAMPLE_RATE, seed=seed, model=model, config=config,
            options=ctx.options, method_settings=getattr(arrangers[method], "settings", {}),
            reference_settings={m: getattr(arrangers[m], "settings", {}) for m in methods if m != method},
            bootstrap=bootstrap, protocol="msgld.eval.comparison: every row against set B",
            embedding=emb_names[0], embeddings=emb_names, embedding_settings={e.name: e.settings() for e in embs},
            elapsed_seconds=round(time.perf_counter() - started, 3),
        ),
    }


def wins(rows: list[dict], table: Comparison, arranged: dict, method: str, methods: list[str], chosen) -> dict:
    """{embedding: {reference: {"lower": subsets where the method's FAD is below the reference's,
    "clearly": those where it is below in >= 95% of the shared bootstrap draws, "of": subsets}}}."""
    fads = {(r["method"], tuple(r["generated"]), r["embedding"]): r["fad"] for r in rows}
    out = {}
    for e, boot in table.boot.items():
        out[e] = {}
        for ref in methods[1:]:
            lower = sum(fads[method, g, e] < fads[ref, g, e] for g in chosen)
            p = [boot.p_above(arranged[ref, g][e], arranged[method, g][e]) for g in chosen]
            out[e][ref] = {"lower": int(lower), "clearly": int(sum(x is not None and x >= 0.95 for x in p)),
                           "of": len(chosen)}
    return out


def arrangement_markdown(result: dict) -> str:
    methods = [result["method"], *result["references"]]
    title = (f"# Arrangement: {result['method']}\n\nFAD of (generated + given originals) of set A "
             f"({len(result['sets']['a'])} clips) against set B ({len(result['sets']['b'])} real mixtures) of split "
             f"`{result['split']}` of `{result['data']}`; seed {result['seed']}, 95% intervals from "
             f"{result['bootstrap']} bootstrap draws over clips. A label lists the generated stems.\n")
    parts = [title]
    labels = list(dict.fromkeys(r["label"] for r in result["rows"]))
    for e in result["embeddings"]:
        by = {(r["method"], r["label"]): r for r in result["rows"] if r["embedding"] == e}
        lines = [[label] + [cell(by.get((m, label))) for m in methods] for label in labels]
        lines.append(["**mean**"] + [fmt(result["mean"][m][e]) for m in methods])
        real = next(r for r in result["real"] if r["embedding"] == e)
        parts.append(f"\n## Embedding {e}\n\nreal (set A's own mixtures) vs set B: {cell(real)}\n\n")
        parts.append(markdown_table(["generated", *[f"`{m}`" for m in methods]], lines))
        w = result["wins"][e]
        if w:
            parts.append("\n`" + result["method"] + "` lower than: " + "; ".join(
                f"`{r}` on {v['lower']} of {v['of']} ({v['clearly']} in >= 95% of draws)" for r, v in w.items()) + "\n")
    if result.get("written"):
        parts.append("\n## Written stems against the song's own\n\nOnset-envelope correlation (mean) / level re "
                     "the real part (median dB), over the written stems whose real part is active "
                     "(`msgld.eval.written_stems`).\n\n")
        lines = [[label] + [written_cell(result["written"][m][label]) for m in methods] for label in labels]
        parts.append(markdown_table(["generated", *[f"`{m}`" for m in methods]], lines))
    return "".join(parts)


def written_cell(s: dict) -> str:
    return "-" if not s["n"] else f"{s['onset_corr']:.2f} / {s['level_db']:+.1f}"

