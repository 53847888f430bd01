"""`msgld evaluate text`: do text prompts control generation? Measured, beside controls.

Every prompted piece has a twin: the piece the same seed gives without a prompt. Piece k is
drawn with seed `SeedSequence([seed, k])` (its first 32-bit word); the twin shares it.

- **Tempo.** Pair i: two prompts that differ only in tempo (`tempi`, 70 and 140 BPM by
  default), in one of `TEMPO_TEMPLATES`' wordings (a number, a tempo word, both, and a wording
  the training prompts never use) and one of the styles, both generated with seed i. The
  mixture's tempo is measured by `msgld.eval.tempo` (librosa, prior centred between the two
  tempi). Reported: the share of pairs ordered right, the measured tempo per requested tempo
  and how often it was an octave off. Controls: unprompted pieces paired (0, 1), (2, 3), ...
  (about 50% by symmetry), and real audio: the middle 10.24 s of every track of `data`'s
  split whose metadata says it is near the slow or the fast tempo, all (slow, fast) pairs
  ordered by the same estimator (the ceiling of the measure), as read and after the model's
  own VAE and vocoder (what generated audio goes through).
- **Style and instruments.** The attribute probe (`msgld.models.attribute_probe`, trained on
  real SynthSlakh audio) names the style and each stem's instrument of every piece. Prompted
  pieces name a style (`STYLE_TEMPLATES`) or an instrument (`INSTRUMENT_TEMPLATES`); the
  accuracy is the share the probe hears as asked. Controls: the unprompted twins scored against
  the same requests (the chance level of this probe on this model), and the probe on the real
  clips of `data`, as read and through the model's decoders (its ceiling here).

Intervals: 95% bootstrap over pairs, pieces or clips (`bootstrap` draws, seeded).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from msgld import SAMPLE_RATE
from msgld.data.stems_dataset import SEGMENT, DatasetError
from msgld.eval import tempo as T
from msgld.eval.report import fmt, markdown_table, run_record
from msgld.text.prompts import TEMPO_SYNONYMS, tempo_word, with_article

STYLES = ("ballad", "blues", "country", "electronic", "funk", "jazz", "latin", "metal", "pop", "rock")
# (name, wording): "number" and "word" forms are the training prompts' own; "unseen" is not
TEMPO_TEMPLATES = (("number", "{style} at {bpm} BPM"), ("number", "a {style} song, {bpm} bpm"),
                   ("word", "a {word} {style} song"), ("both", "{word} {style}, tempo {bpm}"),
                   ("unseen", "a {style} track played at {bpm} beats a minute"))
STYLE_TEMPLATES = (("seen", "{style}"), ("seen", "a {style} song"), ("seen", "{style} music"),
                   ("unseen", "something in the style of {style}"))
INSTRUMENT_TEMPLATES = (("seen", "with {a_instrument}"), ("seen", "a song featuring {a_instrument}"),
                        ("unseen", "music where you can hear {a_instrument}"))
DEFAULT_PROBE = Path(__file__).resolve().parents[1] / "pretrained" / "attribute-probe" / "attribute-probe"
REAL_WINDOW = 1.2  # real clips within a factor of 1.2 of a requested tempo belong to its group


@dataclass
class Piece:
    name: str
    kind: str  # "tempo", "style", "instrument" or "none" (unprompted)
    index: int
    seed: int
    prompt: str | None
    request: dict

    def record(self) -> dict:
        return {"name": self.name, "kind": self.kind, "index": self.index, "seed": self.seed, "prompt": self.prompt,
                **self.request}


def piece_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


def latin(i: int, rows: int, cols: int) -> int:
    """The column of item i whose row is i % rows: items 0 .. rows * cols - 1 take every (row,
    column) once (a shift of one after every lcm(rows, cols) items reaches the other cosets)."""
    return (i + i // math.lcm(rows, cols)) % cols


def tempo_phrase(template: str, style: str, bpm: float) -> str:
    word = TEMPO_SYNONYMS[tempo_word(bpm)][0]
    return with_article(template.format(style=style, bpm=f"{bpm:g}", word=word))


def plan_pieces(num_pairs: int, num_style: int, num_instrument: int, seed: int, tempi: tuple[float, float],
                styles: list[str], instruments: list[tuple[str, str]]) -> list[Piece]:
    """The prompted pieces and their unprompted twins (see the module's docstring)."""
    slow, fast = tempi
    templates = [t for t in TEMPO_TEMPLATES if t[0] not in ("word", "both") or tempo_word(slow) != tempo_word(fast)]
    pieces = []
    for i in range(num_pairs):
        style, (form, template) = styles[i % len(styles)], templates[latin(i, len(styles), len(templates))]
        for level, bpm in (("slow", slow), ("fast", fast)):
            pieces.append(Piece(f"tempo-{i:03d}-{level}", "tempo", i, piece_seed(seed, i), tempo_phrase(template, style, bpm),
                                {"style": style, "bpm": bpm, "level": level, "wording": form, "template": template}))
    for j in range(num_style):
        style, (form, template) = styles[j % len(styles)], STYLE_TEMPLATES[latin(j, len(styles), len(STYLE_TEMPLATES))]
        pieces.append(Piece(f"style-{j:03d}", "style", j, piece_seed(seed, j), with_article(template.format(style=style)),
                            {"style": style, "wording": form, "template": template}))
    for j in range(num_instrument if instruments else 0):
        (stem, name), (form, template) = instruments[j % len(instruments)], INSTRUMENT_TEMPLATES[
            latin(j, len(instruments), len(INSTRUMENT_TEMPLATES))]
        pieces.append(Piece(f"instrument-{j:03d}", "instrument", j, piece_seed(seed, j),
                            template.format(a_instrument=with_article(f"a {name}")),
                            {"stem": stem, "instrument": name, "wording": form, "template": template}))
    twins = max(num_pairs, num_style, num_instrument if instruments else 0, 2)
    pieces += [Piece(f"none-{k:03d}", "none", k, piece_seed(seed, k), None, {}) for k in range(twins)]
    return pieces


class Measures:
    """Tempo and probe readings of 16 kHz mixtures."""

    def __init__(self, probe, prior: dict):
        self.probe, self.prior = probe, prior

    def __call__(self, mix: torch.Tensor) -> dict:
        out = {"tempo_bpm": T.measure_tempo(mix, SAMPLE_RATE, **self.prior)}
        if self.probe is not None:
            probs = self.probe.probabilities(mix[None].float().to(self.probe.mean.device))
            for head, p in probs.items():
                names = self.probe.classes[head]
                out[f"heard_{head}"] = names[int(p[0].argmax())]
                out[f"p_{head}"] = {n: round(float(v), 4) for n, v in zip(names, p[0])}
        return out


def generate_pieces(gen, pieces: list[Piece], seconds: float, settings: dict, batch_size: int, measure: Measures,
                    save_to: Path | None, progress: bool) -> dict[str, dict]:
    """{name: readings}: the pieces generated in batches of one prompt each."""
    from msgld.eval.samples import save_piece
    from msgld.inference.engine import to_rate

    groups: dict[str | None, list[Piece]] = {}
    for p in pieces:
        groups.setdefault(p.prompt, []).append(p)
    length = int(round(seconds * SAMPLE_RATE))
    out = {}
    with tqdm(total=len(pieces), desc="generate", unit="piece", disable=not progress, leave=False) as bar:
        for prompt, members in groups.items():
            for first in range(0, len(members), batch_size):
                batch = members[first : first + batch_size]
                with torch.inference_mode():
                    stems = gen.generate_batch([p.seed for p in batch], seconds, **{**settings, "prompt": prompt})
                stems = to_rate(stems.float().cpu(), gen.sample_rate, SAMPLE_RATE, length)
                for p, piece in zip(batch, stems):
                    out[p.name] = measure(piece.sum(0))
                    if save_to is not None:
                        save_piece(save_to, p.name, piece, gen.stems)
                bar.update(len(batch))
    return out


def share(hits: list[float], draws: int, seed: int, tag: int) -> dict:
    values = np.asarray(hits, float)
    return {"n": len(values), "accuracy": float(values.mean()) if len(values) else None,
            "ci95": T.interval(values, draws, seed, tag)}


def tempo_results(pieces: list[Piece], readings: dict, tempi, draws: int, seed: int) -> dict:
    pairs: dict[int, dict] = {}
    for p in pieces:
        if p.kind == "tempo":
            pairs.setdefault(p.index, {"wording": p.request["wording"]})[p.request["level"]] = readings[p.name]["tempo_bpm"]
    measured = [(pairs[i]["slow"], pairs[i]["fast"]) for i in sorted(pairs)]
    out = {"prompted": T.paired_order(measured, draws, seed), "by_wording": {}, "per_tempo": {}}
    for form in dict.fromkeys(v["wording"] for v in pairs.values()):
        out["by_wording"][form] = T.paired_order([(v["slow"], v["fast"]) for v in pairs.values() if v["wording"] == form],
                                                 draws, seed)
    for level, bpm in zip(("slow", "fast"), tempi):
        out["per_tempo"][f"{bpm:g}"] = T.summary([v[level] for v in pairs.values()], bpm)
    twins = [readings[p.name]["tempo_bpm"] for p in pieces if p.kind == "none"]
    out["unprompted"] = {**T.paired_order(list(zip(twins[0::2], twins[1::2])), draws, seed), **T.summary(twins)}
    return out


def attribute_results(pieces: list[Piece], readings: dict, kind: str, head_of, asked_of, draws: int, seed: int,
                      by: tuple[str, ...] = ("wording",)) -> dict:
    """Share of `kind` pieces the probe hears as asked, and of their unprompted twins; also per
    value of each request field in `by` (the wording; for instruments the stem)."""
    twins = {p.index: readings[p.name] for p in pieces if p.kind == "none"}
    items = [p for p in pieces if p.kind == kind]
    hit = [float(readings[p.name].get(f"heard_{head_of(p)}") == asked_of(p)) for p in items]
    twin_hit = [float(twins[p.index].get(f"heard_{head_of(p)}") == asked_of(p)) for p in items]
    out = {"prompted": share(hit, draws, seed, 3), "unprompted": share(twin_hit, draws, seed, 4)}
    for field in by:
        out[f"by_{field}"] = {value: share([h for h, p in zip(hit, items) if p.request[field] == value], draws, seed, 5)
                              for value in dict.fromkeys(p.request[field] for p in items)}
    return out


def real_clips(data, split: str, preset: str, stems: list[str], limit: int | None, segment: int):
    """(track, stems [S, L] of its middle clip, metadata) of the split's tracks (first `limit`)."""
    from msgld.config import load_config
    from msgld.data.stems_dataset import read_segment, scan_split
    from msgld.training.attribute_probe import middle_start, track_labels, track_tempo

    names = list(stems or load_config("data", preset)["stems"])
    for track in scan_split(Path(data), split, names)[:limit]:
        meta = {**track_tempo(track), **track_labels(track)}
        yield track.name, torch.from_numpy(read_segment(track, names, middle_start(track, segment), segment)), meta


def real_results(bundle, clips, measure: Measures, tempi, probe, draws: int, seed: int, first_stage: bool,
                 progress: bool) -> dict:
    """Tempo ordering and probe accuracy on real clips (`real_clips`), as read and through the
    model's decoders (VAE posterior mode, decoder, vocoder: the path of a generated piece)."""
    from msgld.training.attribute_probe import first_stage as decoded

    rows = {"real": [], "first stage": []} if first_stage else {"real": []}
    for name, clip, meta in tqdm(clips, desc="real", unit="clip", disable=not progress, leave=False):
        rows["real"].append({"track": name, **meta, **measure(clip.sum(0))})
        if first_stage:
            rows["first stage"].append({"track": name, **meta, **measure(decoded(bundle, clip).sum(0))})
    slow, fast = tempi
    out = {}
    for label, got in rows.items():
        res = {"clips": len(got), "tempo": {}}
        for meters in ("all", "4/4"):
            sel = [r for r in got if meters == "all" or r["meter"] == meters]
            lo = [r for r in sel if slow / REAL_WINDOW <= r["bpm"] <= slow * REAL_WINDOW]
            hi = [r for r in sel if fast / REAL_WINDOW <= r["bpm"] <= fast * REAL_WINDOW]
            res["tempo"][meters] = {**T.group_order([r["tempo_bpm"] for r in lo], [r["tempo_bpm"] for r in hi], draws, seed),
                                    "slow_summary": T.summary([r["tempo_bpm"] for r in lo]),
                                    "fast_summary": T.summary([r["tempo_bpm"] for r in hi])}
        if probe is not None:
            res["probe"] = {h: share([float(r[f"heard_{h}"] == r[h]) for r in got if r.get(h) in names], draws, seed, 6)
                            for h, names in probe.classes.items()}
        res["per_clip"] = [{k: v for k, v in r.items() if not k.startswith("p_")} for r in got]
        out[label] = res
    return out


def load_probe(path: str | Path | None, device: str):
    import msgld.models.attribute_probe  # noqa: F401  (registers the weights kind)
    from msgld.weights import load_model, weight_paths

    path = Path(path) if path else DEFAULT_PROBE
    if not weight_paths(path)[1].exists():
        raise FileNotFoundError(f"{weight_paths(path)[1]}: attribute-probe weights not found (make them with "
                                "`msgld evaluate text-probe`), or pass --num-style 0 --num-instrument 0")
    return load_model(path, device, kind="attribute-probe").eval()


def evaluate_text(
    model: str | None = None,
    checkpoint: str | None = None,
    data: str | Path | None = None,
    split: str = "test",
    preset: str = "slakh2100",
    stems: list[str] | None = None,
    num_pairs: int = 20,
    num_style: int = 20,
    num_instrument: int = 0,
    tempi: tuple[float, float] = (70.0, 140.0),
    segment: int = SEGMENT,
    limit: int | None = None,
    batch_size: int = 4,
    seed: int = 0,
    device: str = "cpu",
    options: dict[str, str] | None = None,
    probe: str | Path | None = None,
    save_samples: str | Path | None = None,
    first_stage: bool = True,
    bootstrap: int = 1000,
    progress: bool = True,
    config: str | None = None,
) -> dict:
    """Measure prompt control of a text-conditioned model (see the module's docstring)."""
    from msgld.eval.methods.diffusion import options as parse_options
    from msgld.eval.methods import MethodContext
    from msgld.inference.bundle import DEFAULT_MODEL, load_bundle
    from msgld.inference.generator import Generator
    from msgld.inference.text_condition import has_text

    started = time.perf_counter()
    slow, fast = (float(t) for t in tempi)
    if not 0 < slow < fast:
        raise ValueError(f"--tempi: give a slow and a faster tempo, e.g. 70,140; got {tempi}")
    real_only = num_pairs + num_style + num_instrument == 0  # the ceilings alone: no text model needed
    if min(num_pairs, num_style, num_instrument) < 0:
        raise ValueError("--num-pairs, --num-style and --num-instrument cannot be negative")
    if real_only and data is None:
        raise ValueError("nothing to measure: give --num-pairs, --num-style or --num-instrument above 0, or --data "
                         "for the real-audio rows alone")
    bundle = load_bundle(model or DEFAULT_MODEL, device, checkpoint=checkpoint)
    if not real_only and not has_text(bundle):
        where = checkpoint or bundle.folder
        raise ValueError(f"{where}: this model has no text pathway (its ldm.json sets no model.text_dim), so there is "
                         "no prompt control to measure; pass a text-conditioned model (--model FOLDER or --checkpoint "
                         "LDM, e.g. a fine-tune with the tiny-v-text config)")
    gen = Generator(bundle)
    ctx = MethodContext(stems=bundle.stems, options=dict(options or {}))
    allowed = {k: v for k, v in gen.defaults.items() if k != "prompt"}
    settings = gen.settings(**{"guidance": 0.0, **parse_options(ctx, allowed)})
    the_probe = load_probe(probe, device) if (num_style or num_instrument or real_only) else None
    if the_probe is not None and "style" not in the_probe.classes and num_style:
        raise ValueError(f"the probe {probe or DEFAULT_PROBE} has no style head")
    styles = list(the_probe.classes["style"]) if the_probe is not None and "style" in the_probe.classes else list(STYLES)
    instruments = [(h, n) for h, names in (the_probe.classes.items() if the_probe is not None else ())
                   if h != "style" for n in names]
    prior = T.tempo_prior(slow, fast)
    measure = Measures(the_probe, prior)
    pieces = [] if real_only else plan_pieces(num_pairs, num_style, num_instrument, seed, (slow, fast), styles,
                                                instruments)
    seconds = segment / SAMPLE_RATE
    torch.manual_seed(seed)
    readings = generate_pieces(gen, pieces, seconds, settings, batch_size, measure,
                               Path(save_samples) if save_samples else None, progress)
    result = {"task": "text", "pieces": [{**p.record(), **readings[p.name]} for p in pieces]}
    if num_pairs:
        result["tempo"] = tempo_results(pieces, readings, (slow, fast), bootstrap, seed)
    if num_style:
        result["style"] = attribute_results(pieces, readings, "style", lambda p: "style", lambda p: p.request["style"],
                                            bootstrap, seed)
    if num_instrument and instruments:
        result["instrument"] = attribute_results(pieces, readings, "instrument", lambda p: p.request["stem"],
                                                 lambda p: p.request["instrument"], bootstrap, seed, ("wording", "stem"))
    skipped = []
    if data is not None:
        try:
            clips = list(real_clips(data, split, preset, stems or bundle.stems, limit, segment))
            result["real"] = real_results(bundle, clips, measure, (slow, fast), the_probe, bootstrap, seed,
                                          first_stage, progress)
        except (DatasetError, FileNotFoundError) as e:
            skipped.append(str(e))
    probe_info = None
    if the_probe is not None:
        info = the_probe.weights_info
        probe_info = {"weights": str(getattr(the_probe, "weights_path", probe or DEFAULT_PROBE)), "sha256": info.get("sha256"),
                      "classes": the_probe.classes, "held_out": info.get("training", {}).get("scores"),
                      "training": {k: info.get("training", {}).get(k) for k in ("data", "tracks", "clips", "seed", "through")}}
    result.update(skipped=skipped, **run_record(
        model=str(bundle.folder), checkpoint=checkpoint, weights_hash=bundle.weights_hash(), config=config,
        text=getattr(bundle.ldm, "text_info", None), data=str(Path(data).resolve()) if data else None, split=split,
        preset=preset, stems=bundle.stems, seed=seed, tempi=[slow, fast], segment_seconds=seconds, sample_rate=SAMPLE_RATE,
        num_pairs=num_pairs, num_style=num_style, num_instrument=num_instrument if instruments else 0,
        options=ctx.options, settings=settings, batch_size=batch_size, bootstrap=bootstrap,
        tempo_estimator={"library": "librosa", "version": _librosa_version(), "function": "librosa.feature.tempo",
                         "hop_length": T.HOP, **prior, "octave_tolerance": T.TOLERANCE},
        probe=probe_info, real_window=REAL_WINDOW, elapsed_seconds=round(time.perf_counter() - started, 3)))
    return result


def _librosa_version() -> str:
    import librosa

    return librosa.__version__


def interval_text(row: dict | None, key: str) -> str:
    if not row or row.get(key) is None:
        return "-"
    ci = row.get("ci95")
    return f"{row[key]:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{row[key]:.3f}"


def text_markdown(result: dict) -> str:
    s = result["settings"]
    made = (f"sampler {s['sampler']}, {s['steps']} steps, text guidance {s['text_guidance']}" if result["pieces"]
            else "real audio only, nothing generated")
    lines = [f"# Text control: {result['checkpoint'] or result['model']}\n\n",
             f"Seed {result['seed']}; {result['segment_seconds']:g} s clips; {made}; tempo by librosa "
             f"{result['tempo_estimator']['version']} "
             f"(prior centred on {result['tempo_estimator']['start_bpm']:.0f} BPM, "
             f"{result['tempo_estimator']['std_bpm']:g} octave); 95% bootstrap intervals.\n"]
    real = result.get("real", {})
    if "tempo" in result or real:
        t, (slow, fast) = result.get("tempo"), result["tempi"]
        lines.append(f"\n## Tempo: {slow:g} vs {fast:g} BPM, ordered right (ties and silence count half)\n\n")
        rows = []
        if t:
            rows.append(["prompted pairs (same seed)", t["prompted"]["pairs"], interval_text(t["prompted"], "share"),
                         t["prompted"]["ties"]])
            rows += [[f"prompted, {form} wording", r["pairs"], interval_text(r, "share"), r["ties"]]
                     for form, r in t["by_wording"].items()]
            rows.append(["unprompted pairs (control)", t["unprompted"]["pairs"], interval_text(t["unprompted"], "share"),
                         t["unprompted"]["ties"]])
        for label, res in real.items():
            for meters, r in res["tempo"].items():
                rows.append([f"{label} clips, {meters} meters ({r['slow']} x {r['fast']})", r["pairs"],
                             interval_text(r, "share"), "-"])
        lines.append(markdown_table(["pairs", "n", "share ordered right [95% CI]", "ties"], rows))
        if t:
            lines.append("\n| requested BPM | pieces | median measured | quartiles | right | double | half | other |\n"
                         "|---|---|---|---|---|---|---|---|\n")
            for bpm, r in t["per_tempo"].items():
                o, q = r.get("octave", {}), r["quartiles_bpm"] or [None, None]
                lines.append(f"| {bpm} | {r['pieces']} | {fmt(r['median_bpm'], 1)} | {fmt(q[0], 1)}-{fmt(q[1], 1)} | "
                             f"{o.get('right', 0):.2f} | {o.get('double', 0):.2f} | {o.get('half', 0):.2f} | "
                             f"{1 - o.get('right', 0) - o.get('double', 0) - o.get('half', 0):.2f} |\n")
            lines.append(f"| none (unprompted) | {t['unprompted']['pieces']} | {fmt(t['unprompted']['median_bpm'], 1)} "
                         "| - | - | - | - | - |\n")
    heads_of = {"style": ["style"], "instrument": [h for h in (result.get("probe") or {}).get("classes", {}) if h != "style"]}
    for kind, heads in heads_of.items():
        r = result.get(kind)
        if not r and not any(res.get("probe") for res in real.values()):
            continue
        lines.append(f"\n## {kind.capitalize()}: share the probe hears as asked\n\n")
        rows = []
        if r:
            rows.append(["prompted", r["prompted"]["n"], interval_text(r["prompted"], "accuracy")])
            rows += [[f"prompted, {form} wording", v["n"], interval_text(v, "accuracy")] for form, v in r["by_wording"].items()]
            rows += [[f"prompted, {stem}", v["n"], interval_text(v, "accuracy")] for stem, v in r.get("by_stem", {}).items()]
            rows.append(["unprompted twins (chance)", r["unprompted"]["n"], interval_text(r["unprompted"], "accuracy")])
        for label, res in real.items():
            for h in heads:
                v = res.get("probe", {}).get(h)
                if v:
                    rows.append([f"{label} clips ({h})", v["n"], interval_text(v, "accuracy")])
        lines.append(markdown_table(["pieces", "n", "accuracy [95% CI]"], rows))
    if result.get("skipped"):
        lines.append("\nNot measured: " + "; ".join(result["skipped"]) + "\n")
    return "".join(lines)
