"""The paper's Table III: total-generation FAD of summed stems against a split's mixtures.

Generated pieces come from a folder (layout in `msgld.eval.samples`) or from a registered
generator (`--save-samples` writes its pieces in that layout). Reference rows: FAD between two
disjoint halves of the real split (a seeded assignment of clips), and between the reference
split (train) and the evaluated split.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from msgld import SAMPLE_RATE
from msgld.data.stems_dataset import SEGMENT, DatasetError
from msgld.eval.clips import batches, clip_count, open_split
from msgld.eval.embeddings import DEFAULT_EMBEDDING, Embedding, get_embedding
from msgld.eval.fad import GaussianStats, fad_row
from msgld.eval.methods import MethodContext, available, get_entry
from msgld.eval.report import markdown_table, run_record
from msgld.eval.samples import load_piece, sample_pieces, save_piece


def folder_stats(folder: Path, stems: list[str], embedding: Embedding, limit: int | None,
                 progress: bool) -> tuple[GaussianStats, int]:
    pieces = sample_pieces(folder, stems)[:limit]
    stats = GaussianStats(embedding.dim)
    for _, files in tqdm(pieces, desc="generated", unit="piece", disable=not progress, leave=False):
        stats.add(embedding(load_piece(files)[None]))
    return stats, len(pieces)


def generator_stats(name: str, ctx: MethodContext, count: int, length: int, batch_size: int, embedding: Embedding,
                    save_to: Path | None, progress: bool) -> tuple[GaussianStats, dict]:
    """Embed `count` pieces of a registered generator; batch i draws with seed SeedSequence([seed, i])."""
    generate = get_entry("generation", name).factory(ctx)
    stats = GaussianStats(embedding.dim)
    with tqdm(total=count, desc=f"generate/{name}", unit="piece", disable=not progress, leave=False) as bar:
        for i, first in enumerate(range(0, count, batch_size)):
            n = min(batch_size, count - first)
            seed = int(np.random.SeedSequence([ctx.seed, i]).generate_state(1)[0])
            with torch.inference_mode():
                stems = torch.as_tensor(generate(n, length, seed)).float().cpu()
            if stems.dim() != 3 or stems.shape[:2] != (n, len(ctx.stems)):
                raise ValueError(f"generator {name!r} returned {tuple(stems.shape)}, expected [{n}, {len(ctx.stems)}, L]")
            stats.add(embedding(stems.sum(1)))
            if save_to is not None:
                for j in range(n):
                    save_piece(save_to, f"{first + j:05d}", stems[j], ctx.stems)
            bar.update(n)
    return stats, getattr(generate, "settings", {})


def real_stats(dataset, embedding: Embedding, limit: int | None, batch_size: int, seed: int, progress: bool,
               desc: str) -> tuple[GaussianStats, GaussianStats]:
    """Statistics of the split's mixtures in two disjoint halves (a seeded random assignment of clips)."""
    total = clip_count(dataset, limit)
    in_a = np.zeros(total, dtype=bool)
    in_a[np.random.default_rng(seed).permutation(total)[: (total + 1) // 2]] = True
    half_a, half_b = GaussianStats(embedding.dim), GaussianStats(embedding.dim)
    for batch in batches(dataset, limit, batch_size, desc=desc, progress=progress):
        frames = embedding(batch["mixture"])
        for j, index in enumerate(batch["index"]):
            (half_a if in_a[index] else half_b).add(frames[j])
    return half_a, half_b


def samples_folder(samples: str | Path) -> Path | None:
    """The folder `samples` names, or None when it names a registered generator. A plain name
    that is registered is the generator even if a folder of that name exists (write ./NAME for
    the folder)."""
    text = str(samples)
    plain = "/" not in text and "\\" not in text and not text.startswith(".")
    if plain and text in available("generation"):
        return None
    if Path(text).is_dir():
        return Path(text)
    names = ", ".join(available("generation")) or "none registered yet"
    raise ValueError(f"--samples {text!r} is neither a folder nor a registered generator (generators: {names})")


def evaluate_generation(
    data: str | Path,
    samples: str | Path,
    split: str = "test",
    reference_split: str = "train",
    preset: str = "slakh2100",
    stems: list[str] | None = None,
    segment: int = SEGMENT,
    limit: int | None = None,
    num_samples: int | None = None,
    batch_size: int = 4,
    seed: int = 0,
    embedding: str = DEFAULT_EMBEDDING,
    embedding_weights: str | None = None,
    device: str = "cpu",
    model: str | None = None,
    config: str | None = None,
    options: dict[str, str] | None = None,
    save_samples: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """FAD of generated pieces (folder or generator name) against the split's mixtures, with references."""
    started = time.perf_counter()
    folder = samples_folder(samples)
    dataset = open_split(data, split, preset, stems, segment)
    emb = get_embedding(embedding, embedding_weights, device)
    ctx = MethodContext(stems=dataset.stems, seed=seed, device=device, model=model, config=config,
                        options=dict(options or {}), dataset=dataset)
    clips = clip_count(dataset, limit)
    half_a, half_b = real_stats(dataset, emb, limit, batch_size, seed, progress, desc=f"real/{split}")
    real = half_a.copy().merge(half_b)

    if folder is not None:
        source, method, method_settings = "folder", None, {}
        gen, pieces = folder_stats(folder, dataset.stems, emb, num_samples, progress)
    else:
        source, method = "method", str(samples)
        pieces = num_samples or clips
        torch.manual_seed(seed)
        gen, method_settings = generator_stats(method, ctx, pieces, segment, batch_size, emb,
                                               Path(save_samples) if save_samples else None, progress)

    rows = [fad_row("generated vs real", f"{pieces} generated", f"{clips} {split}", gen, real, emb.name)]
    rows.append(fad_row("real half vs real half", f"{(clips + 1) // 2} {split}", f"{clips // 2} {split}", half_a, half_b,
                        emb.name) if clips >= 2 else
                {"name": "real half vs real half", "fad": None, "embedding": emb.name, "note": "needs 2 clips"})
    skipped = list(dataset.skipped)
    try:
        ref = open_split(data, reference_split, preset, dataset.stems, segment)
    except DatasetError as e:
        rows.append({"name": f"{reference_split} vs {split}", "fad": None, "embedding": emb.name, "note": str(e)})
    else:
        skipped += ref.skipped
        ref_a, ref_b = real_stats(ref, emb, limit, batch_size, seed, progress, desc=f"real/{reference_split}")
        rows.append(fad_row(f"{reference_split} vs {split}", f"{clip_count(ref, limit)} {reference_split}",
                            f"{clips} {split}", ref_a.merge(ref_b), real, emb.name))
    return {
        "task": "generation",
        "method": method,
        "samples": str(folder.resolve()) if folder is not None else None,
        "source": source,
        "clips": clips,
        "skipped": skipped,
        "generated": pieces,
        "fad": rows[0]["fad"],
        "rows": rows,
        **run_record(
            data=str(Path(data).resolve()), split=split, reference_split=reference_split, preset=preset,
            stems=dataset.stems, segment_seconds=segment / SAMPLE_RATE, sample_rate=SAMPLE_RATE, seed=seed,
            model=model, config=config, options=ctx.options, method_settings=method_settings,
            embedding=emb.name, embedding_settings=emb.settings(),
            elapsed_seconds=round(time.perf_counter() - started, 3),
        ),
    }


def generation_markdown(result: dict) -> str:
    who = result["method"] or result["samples"]
    title = (f"# Total generation: {who}\n\nFAD with embedding **{result['embedding']}** against the mixtures of "
             f"split `{result['split']}` of `{result['data']}`.\n\n")
    rows = [[r["name"], r.get("a", ""), r.get("b", ""), r["fad"] if r["fad"] is not None else r.get("note", "")]
            for r in result["rows"]]
    return title + markdown_table(["row", "set A", "set B", f"FAD ({result['embedding']})"], rows)
