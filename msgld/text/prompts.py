"""Prompts made from a track's metadata.yaml, in many wordings, so that a text-conditioned
model learns the attributes rather than one sentence template, and a user's own words work.

`attributes(meta)` reads what a SynthSlakh track says about itself: style, mood, tempo (BPM and
a tempo word), meter, key, and per present stem its instrument and its phrase in the caption.
`prompt_variants(meta, n, seed)` -> [the caption itself, n varied prompts]: each names a random
non-empty subset of the attributes, in random order and wording (synonyms, BPM as a number or a
tempo word, instruments in any order, joined by commas or words). About a third are partial:
one attribute alone ("fast", "at 96 BPM", "with a slap bass", "jazz"). The draw is seeded by
(seed, track name, variant index), so the variants of a track never depend on the others.

`compose_prompt(prompt, stem_prompts, stems)` is the inference side: per-stem descriptions
({"guitar": "nylon-string lead"}) become one prompt in the same wording ("..., with a
nylon-string lead guitar and a slap bass"), since the network reads one pooled sentence.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

# tempo words by BPM: at most 95 slow, at most 125 moderate, above that fast (SynthSlakh's
# tempi: a third below 102, a third above 121)
TEMPO_WORDS = ((95, "slow"), (125, "moderate"), (10_000, "fast"))
TEMPO_SYNONYMS = {"slow": ["slow", "slow-tempo", "unhurried", "down-tempo"],
                  "moderate": ["mid-tempo", "moderate-tempo", "medium-paced", "moderately paced"],
                  "fast": ["fast", "up-tempo", "quick", "fast-paced"]}
STYLE_FORMS = ["{style}", "{style} music", "a {style} piece", "a {style} song", "{style} style", "a {style} tune"]
TEMPO_FORMS = ["at {bpm} BPM", "{bpm} bpm", "tempo {bpm}", "{word}", "{word} tempo", "{word}, {bpm} BPM",
               "around {bpm} beats per minute"]
KEY_FORMS = ["in {key}", "key of {key}", "{key}"]
METER_FORMS = ["in {meter} time", "{meter} meter", "{meter}"]
INSTRUMENT_FORMS = ["with {list}", "featuring {list}", "{list}", "played by {list}", "{list} playing"]
JOINERS = [", ", "; ", " ", ", "]


def tempo_word(bpm: float) -> str:
    return next(word for limit, word in TEMPO_WORDS if bpm <= limit)


@dataclass
class Attributes:
    style: str
    bpm: int
    meter: str
    key: str
    mood: str = ""
    instruments: dict[str, str] = field(default_factory=dict)  # stem -> instrument name
    phrases: dict[str, str] = field(default_factory=dict)      # stem -> its phrase in the caption
    caption: str = ""

    @property
    def tempo(self) -> str:
        return tempo_word(self.bpm)


def instrument_name(stem: str, info: dict) -> str:
    name = str(info.get("instrument") or stem)
    return "drums" if stem == "drums" or name.lower().endswith(" kit") else name


def caption_phrases(caption: str, stems: list[str]) -> dict[str, str]:
    """The caption's "... with A, B and C" -> {stem: phrase}, in the order of the present stems."""
    _, sep, tail = caption.partition(" with ")
    if not sep:
        return {}
    head, _, last = tail.rpartition(" and ")
    parts = [p for p in head.split(", ") if p] + [last] if head else [tail]
    return dict(zip(stems, parts)) if len(parts) == len(stems) else {}


def attributes(meta: dict) -> Attributes:
    """A track's metadata.yaml (a dict) -> its attributes."""
    stems = [s for s in meta.get("stems", {}) if s not in meta.get("missing_stems", [])]
    caption = str(meta.get("caption", ""))
    style = str(meta["style"])
    head = caption.split(" in ", 1)[0].split()
    mood = " ".join(head[1 : head.index(style)]) if style in head else ""
    return Attributes(style=style, bpm=int(round(float(meta["tempo"]["bpm"]))), meter=str(meta.get("meter", "4/4")),
                      key=str(meta.get("key", "")), mood=mood,
                      instruments={s: instrument_name(s, meta["stems"][s]) for s in stems},
                      phrases=caption_phrases(caption, stems), caption=caption)


def with_article(text: str) -> str:
    """"a electronic song" -> "an electronic song"."""
    if text.startswith("a ") and text[2:3].lower() in "aeiou":
        return "an " + text[2:]
    return text


def join_words(items: list[str], rng: np.random.Generator | None = None) -> str:
    """"A, B and C" (with `rng`: sometimes "A, B, C", as in training)."""
    if len(items) == 1:
        return items[0]
    last = " and " if rng is None or rng.random() < 0.7 else ", "
    return ", ".join(items[:-1]) + last + items[-1]


def pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def phrase(a: Attributes, name: str, rng: np.random.Generator) -> str:
    """One attribute in one of its wordings."""
    if name == "style":
        text = pick(rng, STYLE_FORMS).format(style=a.style)
        if a.mood and rng.random() < 0.4:
            text = f"{a.mood} {text}" if not text.startswith("a ") else f"a {a.mood} {text[2:]}"
        return with_article(text)
    if name == "tempo":
        return pick(rng, TEMPO_FORMS).format(bpm=a.bpm, word=pick(rng, TEMPO_SYNONYMS[a.tempo]))
    if name == "key":
        return pick(rng, KEY_FORMS).format(key=a.key)
    if name == "meter":
        return pick(rng, METER_FORMS).format(meter=a.meter)
    stems = list(a.instruments)
    chosen = [stems[i] for i in rng.permutation(len(stems))[: int(rng.integers(1, len(stems) + 1))]]
    use_phrases = bool(a.phrases) and rng.random() < 0.4
    names = [a.phrases[s] if use_phrases else a.instruments[s] for s in chosen]
    return pick(rng, INSTRUMENT_FORMS).format(list=join_words(names, rng))


def variant(a: Attributes, rng: np.random.Generator) -> str:
    names = ["style", "tempo", "key", "instruments"] + (["meter"] if a.meter != "4/4" or rng.random() < 0.2 else [])
    if not a.instruments:
        names.remove("instruments")
    if not a.key:
        names.remove("key")
    if rng.random() < 0.35:  # partial: one attribute alone
        chosen = [pick(rng, ["style", "tempo", "instruments"] if a.instruments else ["style", "tempo"])]
    else:
        k = int(rng.integers(1, len(names) + 1))
        chosen = [names[i] for i in rng.permutation(len(names))[:k]]
    parts = [phrase(a, name, rng) for name in chosen]
    out = parts[0]
    for part in parts[1:]:
        out += pick(rng, JOINERS) + part
    return out


def track_seed(seed: int, track: str, index: int) -> np.random.Generator:
    digest = int.from_bytes(hashlib.blake2b(track.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence([seed, digest, index]))


def prompt_variants(meta: dict, n: int = 16, seed: int = 0, track: str | None = None) -> list[str]:
    """[the caption (or a full prompt where the metadata has none), n varied prompts]."""
    a = attributes(meta)
    track = track or str(meta.get("track", ""))
    full = a.caption or f"{phrase(a, 'style', track_seed(seed, track, -1))} at {a.bpm} BPM"
    return [full] + [variant(a, track_seed(seed, track, i)) for i in range(n)]


ARTICLES = ("a", "an", "the", "some")


def stem_phrase(stem: str, description: str) -> str:
    """One stem's description named by its stem, as the training prompts name instruments:
    ("guitar", "nylon-string lead") -> "a nylon-string lead guitar"; ("bass", "slap bass") ->
    "a slap bass"; ("drums", "brushed jazz") -> "brushed jazz drums" (drums take no article)."""
    text = " ".join(description.split())
    if not text:
        raise ValueError(f"the stem prompt of {stem!r} is empty; describe the {stem} or leave it out")
    name = "drum" if stem == "drums" else stem
    if not re.search(rf"\b{re.escape(name.lower())}", text.lower()):
        text = f"{text} {stem}"
    if stem == "drums" or text.split()[0].lower() in ARTICLES:
        return text
    return with_article(f"a {text}")


def compose_prompt(prompt: str | None, stem_prompts: dict[str, str] | None, stems: list[str]) -> str | None:
    """The global prompt and the per-stem descriptions as one prompt: "{prompt}, with A, B and C"
    (a training joiner and instrument form), the stems in the model's order; the stem phrases
    alone ("with A and B") without a global prompt. Unknown stems and empty descriptions are
    refused (ValueError)."""
    stem_prompts = stem_prompts or {}
    unknown = [s for s in stem_prompts if s not in stems]
    if unknown:
        raise ValueError(f"unknown stem {unknown[0]!r} in the stem prompts; this model's stems are {stems}")
    phrases = [stem_phrase(s, stem_prompts[s]) for s in stems if s in stem_prompts]
    if not phrases:
        return prompt
    tail = "with " + join_words(phrases)
    head = (prompt or "").strip().rstrip(",;")
    return f"{head}, {tail}" if head else tail


def parse_stem_prompts(items: list[str]) -> dict[str, str]:
    """["guitar=nylon-string lead", "bass=slap bass"] -> {"guitar": ..., "bass": ...}; a stem
    given twice or an item without "=" is refused (ValueError)."""
    out: dict[str, str] = {}
    for item in items:
        stem, sep, text = item.partition("=")
        stem = stem.strip()
        if not sep or not stem:
            raise ValueError(f"{item!r}: expected STEM=TEXT, e.g. guitar=nylon-string lead")
        if stem in out:
            raise ValueError(f"the stem {stem!r} has two stem prompts; give one")
        out[stem] = text.strip()
    return out
