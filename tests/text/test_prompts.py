"""Varied prompts from a track's metadata: the caption first, then seeded wordings, orderings
and partial prompts; per-stem prompts composed into one prompt in the same wording."""

from __future__ import annotations

import re

import pytest

from msgld.text.prompts import (
    attributes, caption_phrases, compose_prompt, parse_stem_prompts, prompt_variants, tempo_word,
)

META = {
    "track": "Track00002", "style": "electronic", "tempo": {"bpm": 130}, "meter": "4/4", "key": "A dorian",
    "caption": "an energetic electronic track in A dorian at 130 BPM with syncopated synth bass, 808 electro drums, "
               "strummed muted electric guitar and block-chord FM electric piano",
    "stems": {"bass": {"instrument": "synth bass"}, "drums": {"instrument": "TR-808 kit"},
              "guitar": {"instrument": "muted electric guitar"}, "piano": {"instrument": "FM electric piano"}},
    "missing_stems": [],
}


def test_attributes_read_the_metadata():
    a = attributes(META)
    assert (a.style, a.bpm, a.tempo, a.key, a.mood) == ("electronic", 130, "fast", "A dorian", "energetic")
    assert a.instruments == {"bass": "synth bass", "drums": "drums", "guitar": "muted electric guitar",
                             "piano": "FM electric piano"}
    assert a.phrases["drums"] == "808 electro drums" and a.phrases["piano"] == "block-chord FM electric piano"
    assert [tempo_word(b) for b in (60, 95, 96, 125, 126)] == ["slow", "slow", "moderate", "moderate", "fast"]
    assert caption_phrases("a duo in C at 90 BPM with walking upright bass", ["bass"]) == {"bass": "walking upright bass"}


def test_variants_are_seeded_varied_and_partial():
    v = prompt_variants(META, 64, seed=0)
    assert len(v) == 65 and v[0] == META["caption"]
    assert v == prompt_variants(META, 64, seed=0)  # repeatable
    assert v[1:] != prompt_variants(META, 64, seed=1)[1:]
    assert prompt_variants(META, 8, seed=0)[1:] == v[1:9]  # a variant does not depend on how many are drawn
    assert len(set(v)) > 50  # many wordings
    words = [len(p.split()) for p in v[1:]]
    assert min(words) <= 2  # partial prompts: one attribute alone
    assert any(re.fullmatch(r"(at )?130 (BPM|bpm)|tempo 130", p) for p in v)  # tempo alone
    assert any(p in ("fast", "up-tempo", "quick", "fast-paced") for p in v)  # a tempo word alone
    assert any("synth bass" in p and "electronic" not in p and "130" not in p for p in v)  # instruments only
    # instruments in more than one order
    orders = {tuple(sorted(("synth bass", "muted electric guitar"), key=p.index)) for p in v
              if "synth bass" in p and "muted electric guitar" in p}
    assert len(orders) == 2
    assert not any(" a electronic" in f" {p}" for p in v)


def test_missing_stems_are_not_named():
    meta = {**META, "missing_stems": ["guitar"]}
    assert not any("guitar" in p for p in prompt_variants(meta, 64)[1:])


STEMS = ["bass", "drums", "guitar", "piano"]


def test_stem_prompts_compose_into_one_prompt_in_the_training_wording():
    stem_prompts = {"guitar": "nylon-string lead", "bass": "slap bass", "drums": "brushed jazz"}
    assert compose_prompt("slow jazz", stem_prompts, STEMS) == (
        "slow jazz, with a slap bass, brushed jazz drums and a nylon-string lead guitar")  # the model's stem order
    assert compose_prompt(None, {"piano": "electric"}, STEMS) == "with an electric piano"
    assert compose_prompt(None, {"piano": "the  Grand Piano"}, STEMS) == "with the Grand Piano"
    assert compose_prompt(None, {"drums": "808 drum machine"}, STEMS) == "with 808 drum machine"
    assert compose_prompt("fast funk", None, STEMS) == "fast funk" and compose_prompt(None, {}, STEMS) is None
    with pytest.raises(ValueError, match=r"unknown stem 'flute'.*\['bass', 'drums', 'guitar', 'piano'\]"):
        compose_prompt("x", {"flute": "wooden"}, STEMS)
    with pytest.raises(ValueError, match="stem prompt of 'bass' is empty"):
        compose_prompt("x", {"bass": "  "}, STEMS)


def test_stem_prompt_items_are_parsed_and_refused_clearly():
    assert parse_stem_prompts(["guitar=nylon-string lead", " bass = slap bass=ish"]) == {
        "guitar": "nylon-string lead", "bass": "slap bass=ish"}
    for bad, words in ((["guitar"], "expected STEM=TEXT"), (["=x"], "expected STEM=TEXT"),
                       (["bass=a", "bass=b"], "two stem prompts")):
        with pytest.raises(ValueError, match=words):
            parse_stem_prompts(bad)
