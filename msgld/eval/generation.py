"""The paper's Table III: total-generation FAD of summed stems against a split's mixtures.

Generated pieces come from a folder (layout in `msgld.eval.samples`) or from a registered
generator (`--save-samples` writes its pieces in that layout). The protocol is
`msgld.eval.comparison`'s: every row is compared with the real set B (a seeded part of the
split); the generator makes as many pieces as set A has clips unless told otherwise. Rows:

- `generated`; `real` (set A's real mixtures: the floor, at the same counts);
- references made from set A's real stems (`references`): `vocoder ceiling` (their mels through
  the vocoder), `first-stage ceiling` (through VAE and vocoder), `time-shifted` (each stem from a
  time-shifted copy of its own song: spectrally right, musically wrong) and `random pairing`
  (each stem from another song); a metric that hears music ranks the last two below `real`;
- `stability`: real clips of set A, first n of them, against B: how far FAD has settled at
  these counts; and the reference split (train) against B, when it exists.

Every row carries its embedding, clip and frame counts and a bootstrap interval.
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
from msgld.eval.comparison import Comparison, embed_into, embed_real, frames_for, pivot_table, split_sets, subset
from msgld.eval.embeddings import DEFAULT_EMBEDDING, Embedding, get_embeddings
from msgld.eval.methods import MethodContext, available, get_entry, shared_options
from msgld.eval.report import run_record
from msgld.eval.samples import load_piece, sample_pieces, save_piece

# name -> (arranger, its options, what the row is); every stem of a set-A clip is "missing"
REFERENCES = {
    "vocoder": ("vocoder-ceiling", {}, "vocoder ceiling", "real stems -> mel -> vocoder"),
    "vae": ("vae-ceiling", {}, "first-stage ceiling", "real stems -> VAE -> vocoder"),
    "time-shifted": ("time-shifted", {}, "time-shifted", "stems from time-shifted copies of their own song"),
    "random-pairing": ("random-pairing", {"donor": "stem"}, "random pairing", "each stem from another song"),
}
DEFAULT_REFERENCES = tuple(REFERENCES)


def stability_sizes(n: int) -> list[int]:
    """8, 16, 32, ... below n, and n."""
    sizes, k = [], 8
    while k < n:
        sizes.append(k)
        k *= 2
    return sizes + [n]


def folder_frames(folder: Path, stems: list[str], embeddings: list[Embedding], limit: int | None,
                  progress: bool) -> tuple[dict, int]:
    pieces = sample_pieces(folder, stems)[:limit]
    frames = frames_for(embeddings)
    for _, files in tqdm(pieces, desc="generated", unit="piece", disable=not progress, leave=False):
        embed_into(frames, embeddings, load_piece(files)[None])
    return frames, len(pieces)


def generator_frames(name: str, ctx: MethodContext, count: int, length: int, batch_size: int,
                     embeddings: list[Embedding], save_to: Path | None, progress: bool) -> tuple[dict, dict]:
    """Embed `count` pieces of a registered generator; batch i draws with seed SeedSequence([seed, i])."""
    generate = get_entry("generation", name).factory(ctx)
    frames = frames_for(embeddings)
    with tqdm(total=count, desc=f"generate/{name}", unit="piece", disable=not progress, leave=False) as bar:
        for i, first in enumerate(range(0, count, batch_size)):
            n = min(batch_size, count - first)
            seed = int(np.random.SeedSequence([ctx.seed, i]).generate_state(1)[0])
            with torch.inference_mode():
                stems = torch.as_tensor(generate(n, length, seed)).float().cpu()
            if stems.dim() != 3 or stems.shape[:2] != (n, len(ctx.stems)):
                raise ValueError(f"generator {name!r} returned {tuple(stems.shape)}, expected [{n}, {len(ctx.stems)}, L]")
            embed_into(frames, embeddings, stems.sum(1))
            if save_to is not None:
                for j in range(n):
                    save_piece(save_to, f"{first + j:05d}", stems[j], ctx.stems)
            bar.update(n)
    return frames, getattr(generate, "settings", {})


def reference_frames(names: list[str], ctx: MethodContext, dataset, set_a: list[int], embeddings: list[Embedding],
                     batch_size: int, progress: bool) -> tuple[dict, dict]:
    """{reference: frames} of set A's clips made by each reference arranger (no stem given)."""
    unknown = [n for n in names if n not in REFERENCES]
    if unknown:
        raise ValueError(f"unknown references {unknown}; choose from {list(REFERENCES)}")
    makers, settings = {}, {}
    for n in names:
        arranger, opts, _, _ = REFERENCES[n]
        sub = MethodContext(stems=ctx.stems, seed=ctx.seed, device=ctx.device, model=ctx.model,
                            options={**shared_options(ctx.options), **opts}, dataset=dataset)
        makers[n] = get_entry("arrangement", arranger).factory(sub)
        settings[n] = {"arranger": arranger, "options": opts, **getattr(makers[n], "settings", {})}
    out = {n: frames_for(embeddings) for n in names}
    if names:
        keep = torch.zeros(len(ctx.stems), dtype=torch.bool)
        for batch in batches(dataset, batch_size=batch_size, desc="references", progress=progress, indices=set_a):
            for n, make in makers.items():
                with torch.inference_mode():
                    stems = torch.as_tensor(make(batch["stems"], keep, batch)).float().cpu()
                embed_into(out[n], embeddings, stems.sum(1))
    return out, settings


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
    embedding: str | list[str] = DEFAULT_EMBEDDING,
    embedding_weights: str | None = None,
    device: str = "cpu",
    model: str | None = None,
    config: str | None = None,
    options: dict[str, str] | None = None,
    save_samples: str | Path | None = None,
    references: list[str] | tuple[str, ...] = DEFAULT_REFERENCES,
    evaluated: int | None = None,
    bootstrap: int = 200,
    progress: bool = True,
) -> dict:
    """FAD of generated pieces (folder or generator name) against set B's real mixtures, with the
    real, ceiling and control rows of set A (see the module's docstring)."""
    started = time.perf_counter()
    folder = samples_folder(samples)
    dataset = open_split(data, split, preset, stems, segment)
    embs = get_embeddings(embedding, embedding_weights, device)
    names = [e.name for e in embs]
    ctx = MethodContext(stems=dataset.stems, seed=seed, device=device, model=model, config=config,
                        options=dict(options or {}), dataset=dataset)
    clips = clip_count(dataset, limit)
    set_a, set_b = split_sets(clips, evaluated, seed)
    real = embed_real(dataset, set_a + set_b, embs, batch_size, progress, desc=f"real/{split}")
    real_a, real_b = subset(real, range(len(set_a))), subset(real, range(len(set_a), clips))
    refs, ref_settings = reference_frames(list(references), ctx, dataset, set_a, embs, batch_size, progress)

    if folder is not None:
        source, method, method_settings = "folder", None, {}
        gen, pieces = folder_frames(folder, dataset.stems, embs, num_samples, progress)
    else:
        source, method = "method", str(samples)
        pieces = num_samples or len(set_a)
        torch.manual_seed(seed)
        gen, method_settings = generator_frames(method, ctx, pieces, segment, batch_size, embs,
                                                Path(save_samples) if save_samples else None, progress)

    table = Comparison(real_b, bootstrap, seed)
    b_label = f"{len(set_b)} real ({split}, set B)"
    rows = table.rows("real", f"{len(set_a)} real ({split}, set A)", b_label, real_a)
    matched = real_a
    if pieces != len(set_a) and 1 <= pieces <= len(set_a):
        matched = subset(real_a, range(pieces))
        rows += table.rows(f"real, {pieces} clips", f"{pieces} real (set A)", b_label, matched)
    rows = table.rows("generated", f"{pieces} generated ({method or 'folder'})", b_label, gen,
                      matched if pieces <= len(set_a) else None) + rows
    for n in references:
        _, _, label, what = REFERENCES[n]
        rows += table.rows(label, f"{len(set_a)} from set A: {what}", b_label, refs[n], real_a, reference=n)
    stability = []
    for n in stability_sizes(len(set_a)):
        stability += table.rows(f"real, {n} clips", f"first {n} of set A", b_label, subset(real_a, range(n)))
    skipped = list(dataset.skipped)
    try:
        ref = open_split(data, reference_split, preset, dataset.stems, segment)
    except DatasetError as e:
        rows += [{"name": f"{reference_split} vs {split}", "fad": None, "embedding": n, "note": str(e)} for n in names]
    else:
        skipped += ref.skipped
        count = clip_count(ref, limit)
        ref_frames = embed_real(ref, list(range(count)), embs, batch_size, progress, desc=f"real/{reference_split}")
        rows += table.rows(f"{reference_split} vs {split}", f"{count} real ({reference_split})", b_label, ref_frames)
    return {
        "task": "generation",
        "method": method,
        "samples": str(folder.resolve()) if folder is not None else None,
        "source": source,
        "clips": clips,
        "sets": {"a": set_a, "b": set_b},
        "skipped": skipped,
        "generated": pieces,
        "fad": rows[0]["fad"],
        "rows": rows,
        "stability": stability,
        **run_record(
            data=str(Path(data).resolve()), split=split, reference_split=reference_split, preset=preset,
            stems=dataset.stems, segment_seconds=segment / SAMPLE_RATE, sample_rate=SAMPLE_RATE, seed=seed,
            model=model, config=config, options=ctx.options, method_settings=method_settings,
            references=list(references), reference_settings=ref_settings, bootstrap=bootstrap,
            protocol="msgld.eval.comparison: every row against set B", embedding=names[0], embeddings=names,
            embedding_settings={e.name: e.settings() for e in embs},
            elapsed_seconds=round(time.perf_counter() - started, 3),
        ),
    }


def generation_markdown(result: dict) -> str:
    who = result["method"] or result["samples"]
    names = result["embeddings"]
    title = (f"# Total generation: {who}\n\nFAD with embedding(s) **{', '.join(names)}** against set B: "
             f"{len(result['sets']['b'])} real mixtures of split `{result['split']}` of `{result['data']}` "
             f"(seed {result['seed']}; 95% intervals from {result['bootstrap']} bootstrap draws over clips; "
             "P(> real): share of draws in which the row is further from B than real clips are).\n\n")
    stable = ("\n## Real vs real by the size of set A\n\n" + pivot_table(result["stability"], names)
              if result.get("stability") else "")
    return title + pivot_table(result["rows"], names) + stable
