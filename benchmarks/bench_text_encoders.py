"""Which text encoder: CPU cost per caption, and how well its embeddings keep apart what our
captions say (style, tempo bucket, instruments), by nearest-centroid and linear-probe accuracy.

SynthSlakh tracks (their metadata.yaml) are split by a hash of the name into a fit part and a
query part. Each class's centroid is the mean embedding of the fit tracks' captions and 8 varied
prompts (msgld.text.prompts, seed 0: what text training sees). A query is assigned the class of
the nearest centroid (cosine); the linear probe is a logistic regression fitted on the same
embeddings (closer to what the text pathway's MLP can read out). Queries, per query track:
  - `caption`: its own caption (every attribute at once);
  - `prompt`: one attribute alone, worded by the prompt generator with a held-out seed
    ("jazz music", "up-tempo", "at 96 BPM", "with a slap bass");
  - `unseen`: tempo or style in words the generator never uses ("a brisk song", "something in
    the style of funk"), which is where a user's own words land.
Tempo buckets: slow (at most 95 BPM), moderate (at most 125), fast. Instruments: the bass,
guitar and piano instruments (drums are named "drums" in prompts), mean over the three stems.
Time: CPU seconds of this process (process_time, one thread), so other jobs on the machine do
not inflate it; `ms / caption` is one batch of 32 captions divided by 32.

    python benchmarks/bench_text_encoders.py --data data/synth [--tracks 400] [--out F.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from msgld.text.encoders import ENCODERS, encode_texts, load_encoder
from msgld.text.prompts import attributes, phrase, prompt_variants, track_seed, with_article

INSTRUMENT_STEMS = ("bass", "guitar", "piano")
UNSEEN_TEMPO = {"slow": ["a leisurely song", "sluggish and calm", "a really slow number"],
                "moderate": ["a song at walking pace", "neither slow nor fast", "medium speed"],
                "fast": ["a brisk song", "rapid and energetic", "very quick"]}
UNSEEN_STYLE = ["something in the style of {style}", "I would like some {style}", "{style} vibes"]


def read_tracks(data: Path, limit: int) -> list[tuple[str, dict]]:
    out = []
    for split in ("train", "validation", "test"):
        for folder in sorted((data / split).glob("Track*")) if (data / split).is_dir() else []:
            if (folder / "metadata.yaml").exists():
                out.append((folder.name, yaml.safe_load((folder / "metadata.yaml").read_text())))
            if len(out) >= limit:
                return out
    return out


def is_query(name: str) -> bool:
    return hashlib.blake2b(name.encode(), digest_size=2).digest()[0] < 77  # about 30%


def labels(meta: dict) -> dict[str, str]:
    a = attributes(meta)
    out = {"style": a.style, "tempo": a.tempo}
    out.update({f"instrument:{s}": a.instruments[s] for s in INSTRUMENT_STEMS if s in a.instruments})
    return out


def queries(name: str, meta: dict) -> dict[str, dict[str, str]]:
    """{query kind: {attribute: text}} for one query track."""
    a = attributes(meta)
    rng = track_seed(999, name, 0)
    prompt = {"style": phrase(a, "style", rng), "tempo": phrase(a, "tempo", rng)}
    for s in INSTRUMENT_STEMS:
        if s in a.instruments:
            prompt[f"instrument:{s}"] = with_article(f"with a {a.instruments[s]}")
    pick = int(rng.integers(3))
    unseen = {"tempo": UNSEEN_TEMPO[a.tempo][pick], "style": UNSEEN_STYLE[pick].format(style=a.style)}
    caption = {k: a.caption for k in labels(meta)}
    return {"caption": caption, "prompt": prompt, "unseen": unseen}


def nearest_centroid(fit: torch.Tensor, fit_labels: list[str], query: torch.Tensor, want: list[str]) -> float:
    classes = sorted(set(fit_labels))
    index = torch.tensor([classes.index(y) for y in fit_labels])
    cents = torch.stack([fit[index == k].mean(0) for k in range(len(classes))])
    cents = torch.nn.functional.normalize(cents, dim=-1)
    guess = (torch.nn.functional.normalize(query, dim=-1) @ cents.T).argmax(-1)
    return float(np.mean([classes[int(g)] == y for g, y in zip(guess, want)]))


def fit_set(fit: list[tuple[str, dict]], emb: torch.Tensor, key: str) -> tuple[torch.Tensor, list[str]]:
    """Every prompt embedding of the fit tracks that have `key`, labelled by the track's value."""
    xs, ys = [], []
    for (_, meta), e in zip(fit, emb):
        lab = labels(meta)
        if key in lab:
            xs.append(e)
            ys += [lab[key]] * e.shape[0]
    return torch.cat(xs), ys


def linear_probe(fit: torch.Tensor, fit_labels: list[str], query: torch.Tensor, want: list[str]) -> float:
    from sklearn.linear_model import LogisticRegression

    if len(set(fit_labels)) < 2:
        return float(np.mean([y == fit_labels[0] for y in want]))
    probe = LogisticRegression(max_iter=2000, C=10.0).fit(fit.numpy(), fit_labels)
    return float(np.mean(probe.predict(query.numpy()) == np.array(want)))


CLASSIFIERS = {"centroid": nearest_centroid, "probe": linear_probe}


def measure(encoder: str, tracks: list[tuple[str, dict]]) -> list[dict]:
    started = time.process_time()
    enc = load_encoder(encoder)
    load_s = time.process_time() - started
    fit = [(n, m) for n, m in tracks if not is_query(n)]
    held = [(n, m) for n, m in tracks if is_query(n)]
    fit_texts = [prompt_variants(m, 8, seed=0, track=n) for n, m in fit]
    sample = [ts[0] for ts in fit_texts][:32]
    encode_texts(enc, sample[:4])  # warm-up
    started = time.process_time()
    encode_texts(enc, sample)
    ms = 1000 * (time.process_time() - started) / len(sample)
    fit_emb = encode_texts(enc, [t for ts in fit_texts for t in ts]).view(len(fit), 9, -1)
    memo: dict[str, torch.Tensor] = {}

    def embed(texts: list[str]) -> torch.Tensor:
        new = sorted(set(texts) - set(memo))
        if new:
            memo.update(zip(new, encode_texts(enc, new)))
        return torch.stack([memo[t] for t in texts])

    speed = {"encoder": encoder, "dim": enc.dim, "load_cpu_s": round(load_s, 2), "ms_per_caption": round(ms, 2),
             "fit_tracks": len(fit), "query_tracks": len(held)}
    asked = [(m, queries(n, m)) for n, m in held]
    keys = sorted({k for _, m in tracks for k in labels(m)})
    rows = []
    for name, classify in CLASSIFIERS.items():
        row = {"encoder": encoder, "classifier": name}
        for kind in ("caption", "prompt", "unseen"):
            for attr in ("style", "tempo", "instrument"):
                scores = []
                for key in (k for k in keys if k.split(":")[0] == attr):  # instruments: one per stem
                    pairs = [(q[kind][key], labels(m)[key]) for m, q in asked if key in q[kind]]
                    if pairs:
                        fx, fy = fit_set(fit, fit_emb, key)
                        scores.append(classify(fx, fy, embed([t for t, _ in pairs]), [y for _, y in pairs]))
                if scores:
                    row[f"{kind}_{attr}"] = round(float(np.mean(scores)), 3)
        rows.append(row)
    return [speed, *rows]


def chance(tracks: list[tuple[str, dict]]) -> dict:
    """The accuracy of always answering the most common class of the fit tracks."""
    fit = [labels(m) for n, m in tracks if not is_query(n)]
    held = [labels(m) for n, m in tracks if is_query(n)]
    out = {"encoder": "(majority class)", "classifier": "-"}
    for attr in ("style", "tempo", "instrument"):
        scores = []
        for key in sorted({k for lab in fit for k in lab if k.split(":")[0] == attr}):
            values = [lab[key] for lab in fit if key in lab]
            top = max(sorted(set(values)), key=values.count)  # ties: the first name
            scores.append(np.mean([lab[key] == top for lab in held if key in lab]))
        out[f"caption_{attr}"] = round(float(np.mean(scores)), 3)
    return out


def run(quick: bool = False, data: str | None = None, tracks: int = 400,
        encoders: list[str] | None = None) -> list[dict]:
    data = data or os.environ.get("MSGLD_TEXT_DATA")
    if not data:
        print("bench_text_encoders: no --data (or $MSGLD_TEXT_DATA); nothing measured", file=sys.stderr)
        return []
    torch.set_num_threads(1)
    picked = read_tracks(Path(data), 60 if quick else tracks)
    return [row for name in (encoders or sorted(ENCODERS)) for row in measure(name, picked)] + [chance(picked)]


def markdown(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    lines += ["| " + " | ".join("" if r.get(c) is None else str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a SynthSlakh folder (tracks with metadata.yaml)")
    p.add_argument("--tracks", type=int, default=400)
    p.add_argument("--encoders", help=f"comma-separated (default all: {','.join(sorted(ENCODERS))})")
    p.add_argument("--out", help="write the rows as JSON")
    args = p.parse_args(argv)
    rows = run(data=args.data, tracks=args.tracks, encoders=args.encoders.split(",") if args.encoders else None)
    print(markdown([r for r in rows if "dim" in r]))
    print()
    print(markdown([r for r in rows if "dim" not in r]))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
