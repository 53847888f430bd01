"""Train and score the `attribute-probe` (msgld.models.attribute_probe) on real SynthSlakh audio.

Clips: from `tracks` tracks of the train split (chosen by `default_rng([seed, 0])`), `clips`
10.24 s mixtures each at starts drawn by `default_rng([seed, 1, track])`; from every track of a
held-out split, the one clip in its middle (the clip `msgld evaluate text` reads as real audio).
Labels come from each track's metadata.yaml: `style`, and per stem of `INSTRUMENT_STEMS` its
`instrument` (a missing stem has none). A head's classes are the labels with at least
`min_count` training clips; other clips are left out of that head's loss and scores.

With `through` (a model bundle) every clip's stems first go through that model's VAE and
vocoder (`first_stage`: the path every generated piece takes), so the probe learns the sound of
decoded audio rather than of the renderer's (for a probe that listens to generated pieces).

Features are computed once per split and cached (`cache/<split key>.safetensors` + `.json`,
keyed by the data folder, split, clip choice and the decoding model's weights). The heads are trained together, full batch,
with Adam for `steps` steps and an L2 penalty `l2` on the weights, from `torch.manual_seed(seed)`:
the same seed, data and thread count give the same weights. Scores: accuracy per head on each
held-out split, beside the majority class of the training clips (the chance level).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from msgld import SAMPLE_RATE
from msgld.atomic import atomic_output, atomic_write_text
from msgld.data.stems_dataset import SEGMENT, Track, read_segment, scan_split
from msgld.models.attribute_probe import AttributeProbe, ClipFeatures

STEMS = ["bass", "drums", "guitar", "piano"]
INSTRUMENT_STEMS = ("bass", "guitar", "piano")
IGNORE = -100
DEFAULTS = {"tracks": 300, "clips": 2, "steps": 400, "lr": 0.05, "l2": 1e-3, "min_count": 5}


def track_labels(track: Track) -> dict[str, str | None]:
    """{"style": ..., stem: instrument or None} from the track's metadata.yaml."""
    path = track.folder / "metadata.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{path}: the attribute probe needs SynthSlakh tracks (metadata.yaml with style "
                                "and per-stem instruments)")
    meta = yaml.safe_load(path.read_text())
    missing = set(meta.get("missing_stems") or [])
    stems = meta.get("stems") or {}
    out = {"style": str(meta["style"])}
    for stem in INSTRUMENT_STEMS:
        info = stems.get(stem)
        out[stem] = str(info["instrument"]) if info and stem not in missing and info.get("instrument") else None
    return out


def track_tempo(track: Track) -> dict:
    """{"bpm", "meter", "style"} of a SynthSlakh track (tempo.bpm counts the meter's beat)."""
    meta = yaml.safe_load((track.folder / "metadata.yaml").read_text())
    return {"bpm": float(meta["tempo"]["bpm"]), "meter": str(meta.get("meter", "4/4")), "style": str(meta["style"])}


@torch.no_grad()
def first_stage(bundle, stems: torch.Tensor) -> torch.Tensor:
    """Stems [S, L] through the bundle's VAE (posterior mode) and vocoder (mel-matched as the
    generator does it) -> [S, L]."""
    from msgld.inference.codec import decode_mels, encode, vocode
    from msgld.inference.generator import Generator

    spf = bundle.geometry.samples_per_frame
    frames = stems.shape[-1] // spf * spf
    z = encode(bundle, stems[None, :, :frames].float())
    out = vocode(bundle, decode_mels(bundle, z), mel_match=Generator.defaults["mel_match"])[0].float().cpu()
    return F.pad(out[..., :frames], (0, stems.shape[-1] - min(frames, out.shape[-1])))


def middle_start(track: Track, length: int = SEGMENT) -> int:
    return max(0, (track.length - length) // 2)


@dataclass
class ClipSet:
    """Features [N, dim] of clips, their tracks and starts, and labels per attribute."""

    features: torch.Tensor
    tracks: list[str]
    starts: list[int]
    labels: dict[str, list[str | None]] = field(default_factory=dict)


def clip_plan(root: Path, split: str, train: bool, tracks: int, clips: int, seed: int,
              segment: int = SEGMENT) -> list[tuple[Track, int]]:
    """(track, start) of every clip of a split (see the module's docstring)."""
    found = scan_split(Path(root), split, STEMS)
    if not train:
        return [(t, middle_start(t, segment)) for t in found]
    chosen = range(len(found)) if tracks >= len(found) else sorted(
        np.random.default_rng([seed, 0]).choice(len(found), tracks, replace=False).tolist())
    plan = []
    for index in chosen:
        t, rng = found[index], np.random.default_rng([seed, 1, index])
        plan += [(t, int(rng.integers(0, max(0, t.length - segment) + 1))) for _ in range(clips)]
    return plan


def split_features(root: str | Path, split: str, train: bool = False, tracks: int = 300, clips: int = 2, seed: int = 0,
                   cache: str | Path | None = None, progress: bool = True, segment: int = SEGMENT,
                   through=None) -> ClipSet:
    """The clips of a split with their features (read from / written to `cache`); `through`: a
    model bundle whose VAE and vocoder every clip passes first."""
    root = Path(root)
    key = {"data": str(root.resolve()), "split": split, "train": train, "segment": segment,
           "features": "attribute-probe v1", "through": through.weights_hash() if through is not None else None,
           **({"tracks": tracks, "clips": clips, "seed": seed} if train else {})}
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    paths = (Path(cache) / f"{split}-{name}.safetensors", Path(cache) / f"{split}-{name}.json") if cache else None
    if paths and paths[0].exists() and paths[1].exists():
        info = json.loads(paths[1].read_text())
        if info.get("key") == key:
            return ClipSet(load_file(str(paths[0]))["features"], info["tracks"], info["starts"], info["labels"])
    plan = clip_plan(root, split, train, tracks, clips, seed, segment)
    front = ClipFeatures()
    feats, labels = [], {k: [] for k in ("style", *INSTRUMENT_STEMS)}
    for track, start in tqdm(plan, desc=f"features/{split}", unit="clip", disable=not progress, leave=False):
        stems = torch.from_numpy(read_segment(track, STEMS, start, segment))
        feats.append(front((stems if through is None else first_stage(through, stems)).sum(0)[None])[0])
        for k, v in track_labels(track).items():
            labels[k].append(v)
    out = ClipSet(torch.stack(feats), [t.name for t, _ in plan], [s for _, s in plan], labels)
    if paths:
        with atomic_output(paths[0]) as tmp:
            save_file({"features": out.features.contiguous()}, str(tmp))
        atomic_write_text(paths[1], json.dumps({"key": key, "tracks": out.tracks, "starts": out.starts,
                                                "labels": out.labels}) + "\n")
    return out


def head_classes(labels: dict[str, list], min_count: int) -> dict[str, list[str]]:
    out = {}
    for head, values in labels.items():
        names, counts = np.unique([v for v in values if v is not None], return_counts=True)
        kept = sorted(str(n) for n, c in zip(names, counts) if c >= min_count)
        if len(kept) >= 2:
            out[head] = kept
    return out


def targets(probe: AttributeProbe, labels: dict[str, list]) -> dict[str, torch.Tensor]:
    """Class indices per head (IGNORE where the label is none or not one of the head's classes)."""
    return {h: torch.tensor([names.index(v) if v in names else IGNORE for v in labels[h]])
            for h, names in probe.classes.items()}


def fit_probe(train: ClipSet, steps: int = DEFAULTS["steps"], lr: float = DEFAULTS["lr"], l2: float = DEFAULTS["l2"],
              min_count: int = DEFAULTS["min_count"], seed: int = 0) -> AttributeProbe:
    """Multinomial logistic regression per head, full batch (see the module's docstring)."""
    torch.manual_seed(seed)
    probe = AttributeProbe(head_classes(train.labels, min_count), train.features.shape[1])
    probe.set_standardisation(train.features)
    y = targets(probe, train.labels)
    opt = torch.optim.Adam(probe.heads.parameters(), lr=lr)
    for _ in range(steps):
        logits = probe(train.features)
        loss = sum(F.cross_entropy(logits[h], y[h], ignore_index=IGNORE) for h in probe.classes)
        loss = loss + l2 * sum(head.weight.square().sum() for head in probe.heads.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return probe.eval()


@torch.no_grad()
def score(probe: AttributeProbe, clips: ClipSet, train: ClipSet) -> dict:
    """Per head: accuracy on the clips, clips scored, and the majority-class accuracy (the
    training clips' most frequent class)."""
    logits = probe(clips.features)
    y, y_train = targets(probe, clips.labels), targets(probe, train.labels)
    out = {}
    for h, names in probe.classes.items():
        keep = y[h] != IGNORE
        if not keep.any():
            continue
        pred = logits[h].argmax(-1)
        majority = int(torch.bincount(y_train[h][y_train[h] != IGNORE], minlength=len(names)).argmax())
        out[h] = {"accuracy": float((pred[keep] == y[h][keep]).float().mean()), "clips": int(keep.sum()),
                  "majority": float((y[h][keep] == majority).float().mean()), "classes": len(names),
                  "chance": 1.0 / len(names)}
    return out


def train_probe(data: str | Path, held_out: list[tuple[str, str]] | None = None, weights: str | Path | None = None,
                cache: str | Path | None = None, tracks: int = DEFAULTS["tracks"], clips: int = DEFAULTS["clips"],
                steps: int = DEFAULTS["steps"], lr: float = DEFAULTS["lr"], l2: float = DEFAULTS["l2"],
                min_count: int = DEFAULTS["min_count"], seed: int = 0, through: str | Path | None = None,
                device: str = "cpu", progress: bool = True) -> tuple[AttributeProbe, dict]:
    """Train on `data`'s train split, score on each (data folder, split) of `held_out`, and save
    the weights pair to `weights` when given; `through`: a model (folder or name) whose VAE and
    vocoder every clip passes first. Returns (probe, record)."""
    from msgld.weights import save_model

    started, cpu = time.perf_counter(), time.process_time()
    bundle = None
    if through is not None:
        from msgld.inference.bundle import load_bundle

        bundle = load_bundle(through, device)
    train = split_features(data, "train", True, tracks, clips, seed, cache, progress, through=bundle)
    probe = fit_probe(train, steps, lr, l2, min_count, seed)
    scores = {"train": score(probe, train, train)}
    for root, split in held_out or []:
        label = f"{Path(root).name}/{split}"
        scores[label] = score(probe, split_features(root, split, False, cache=cache, progress=progress, through=bundle),
                              train)
    settings = {"data": str(Path(data).resolve()), "split": "train", "tracks": len(set(train.tracks)),
                "through": None if bundle is None else {"model": str(bundle.folder), "weights_hash": bundle.weights_hash()},
                "clips": len(train.tracks), "clips_per_track": clips, "seed": seed, "steps": steps, "lr": lr,
                "l2": l2, "min_count": min_count, "segment_seconds": SEGMENT / SAMPLE_RATE,
                "held_out": [f"{Path(r).resolve()}:{s}" for r, s in held_out or []]}
    record = {"settings": settings, "classes": probe.classes, "scores": scores,
              "cpu_seconds": round(time.process_time() - cpu, 1),
              "elapsed_seconds": round(time.perf_counter() - started, 1)}
    if weights is not None:
        tensors, _ = save_model(probe, weights, kind="attribute-probe", config=probe.config,
                                training={**settings, "scores": scores})
        record["weights"] = str(tensors)
    return probe, record


def probe_markdown(result: dict) -> str:
    """One row per scored split: accuracy per head, the majority class's beside it."""
    from msgld.eval.report import markdown_table

    s, heads = result["settings"], list(result["classes"])
    title = (f"# Attribute probe: {s['clips']} clips of {s['tracks']} train tracks of `{s['data']}` "
             f"(seed {s['seed']}, {s['steps']} steps, L2 {s['l2']})\n\nAccuracy, and in brackets the training set's "
             "majority class on the same clips (chance).\n\n")
    rows = [[split, *(f"{v[h]['accuracy']:.3f} ({v[h]['majority']:.3f}, n {v[h]['clips']})" if h in v else "-"
                      for h in heads)] for split, v in result["scores"].items()]
    classes = "\n".join(f"- {h}: {', '.join(names)}" for h, names in result["classes"].items())
    return title + markdown_table(["clips", *heads], rows) + "\nClasses:\n\n" + classes + "\n"
