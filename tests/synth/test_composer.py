"""Composer: every style and meter gives valid multi-track MIDI with the expected instruments."""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest

from msgld.synth.caption import caption
from msgld.synth.composer import compose
from msgld.synth.humanize import tidy
from msgld.synth.patterns import FAMILIES, Context
from msgld.synth.plan import plan_song
from msgld.synth.progressions import generate
from msgld.synth.rng import stream
from msgld.synth.styles import PROGRAM_RANGES, STEMS, load_library
from msgld.synth.theory import MODES, parse_roman

LIB = load_library()
CASES = [(s, m) for s, style in LIB.styles.items() for m in style.meters]
KITS = {0, 8, 16, 24, 25, 32, 40, 48}


def roundtrip(pm: pretty_midi.PrettyMIDI) -> pretty_midi.PrettyMIDI:
    buf = io.BytesIO()
    pm.write(buf)
    buf.seek(0)
    return pretty_midi.PrettyMIDI(buf)


def test_library_covers_the_brief():
    assert len(LIB.styles) >= 8
    assert {m for _, m in CASES} == {"4/4", "3/4", "6/8"}
    modes = {m for s in LIB.styles.values() for m in s.modes}
    assert {"major", "minor"} <= modes and modes & {"dorian", "mixolydian", "phrygian", "lydian"}


@pytest.mark.parametrize("style,meter", CASES)
def test_style_and_meter_make_valid_midi(style, meter, short_config):
    song = compose(7, 3, short_config, style=style, meter=meter)
    plan = song.plan
    assert plan.style.name == style and plan.meter.name == meter
    assert 2 <= len(song.stems) <= 4 and set(song.stems) <= set(STEMS)
    pm = roundtrip(song.midi())
    assert [i.name for i in pm.instruments] == song.stems
    ts = pm.time_signature_changes[0]
    assert f"{ts.numerator}/{ts.denominator}" == meter
    assert pm.get_tempo_changes()[1][0] == pytest.approx(plan.meter.qpm(plan.bpm), rel=1e-3)
    for inst in pm.instruments:
        assert inst.notes, f"{style} {meter}: {inst.name} has no notes"
        if inst.name == "drums":
            assert inst.is_drum and inst.program in KITS
        else:
            assert not inst.is_drum and inst.program in PROGRAM_RANGES[inst.name]
        starts = np.array([n.start for n in inst.notes])
        ends = np.array([n.end for n in inst.notes])
        assert (starts >= 0).all() and (ends > starts).all() and ends.max() <= song.end_time + 1e-6
        assert all(1 <= n.velocity <= 127 and 0 <= n.pitch <= 127 for n in inst.notes)
    bass = song.instruments.get("bass")
    if bass is not None:
        assert max(n.pitch for n in bass.notes) <= 52


def test_every_pattern_family_writes_notes(short_config):
    plan = plan_song(stream(1, 0, "plan"), LIB, short_config, 1, 0, style_name="jazz", meter_name="4/4")
    for stem, families in FAMILIES.items():
        for name, fn in families.items():
            for section in plan.sections:
                notes = fn(Context(plan, LIB, stream(1, 0, stem), stem), section)
                assert notes, f"{stem}/{name} wrote nothing"
                assert all(0 <= n.pitch <= 127 and n.length > 0 for n in notes)


def test_compose_is_deterministic_and_tracks_differ(short_config):
    a, b = compose(5, 2, short_config), compose(5, 2, short_config)
    assert a.stems == b.stems
    for stem in a.stems:
        assert [(n.start, n.end, n.pitch, n.velocity) for n in a.instruments[stem].notes] == \
               [(n.start, n.end, n.pitch, n.velocity) for n in b.instruments[stem].notes]
    c = compose(5, 3, short_config)
    assert caption(a) != caption(c) or a.plan.bpm != c.plan.bpm


def test_some_tracks_lack_a_stem_and_programs_vary(short_config):
    songs = [compose(0, i, short_config) for i in range(40)]
    assert any(len(s.stems) < 4 for s in songs)
    assert len({s.plan.style.name for s in songs}) >= 6
    assert len({s.instruments["bass"].program for s in songs if "bass" in s.instruments}) >= 4


def test_progressions_parse_and_generated_ones_start_on_the_tonic():
    for name, p in LIB.progressions.items():
        assert all(parse_roman(n, 0) for n in p["chords"].split()), name
    rng = np.random.default_rng(0)
    for mode in MODES:
        for style in LIB.styles.values():
            prog = generate(rng, mode, 4, style)
            assert len(prog) == 4 and parse_roman(prog[0], 0).root == 0


def test_caption_names_only_present_instruments(short_config):
    for i in range(20):
        song = compose(3, i, short_config)
        text = caption(song)
        assert text.startswith(("a ", "an ")) and f"{song.plan.bpm} BPM" in text and song.plan.key in text
        assert song.plan.style.name in text
        for stem, word in (("guitar", "guitar"), ("drums", "drums")):
            assert (word in text) == (stem in song.stems), text
        if "bass" not in song.stems:
            assert " bass" not in text
        for stem in set(song.stems) - {"drums"}:  # the main pattern family is named
            word = {"roots": "root-note", "octaves": "octave", "block": "block-chord", "arpeggio": "arpeggiated",
                    "strum": "strummed", "power": "power chords", "lead": "lead lines"}.get(
                song.main_family(stem), song.main_family(stem))
            assert word in text, (stem, song.main_family(stem), text)


def test_tidy_removes_same_pitch_overlaps():
    tick = 0.001
    events = [(0.0, 1.0, 60, 90), (0.5, 1.5, 60, 80), (0.5, 0.6, 60, 100), (0.2, 0.4, 64, 70)]
    out = tidy(events, tick)
    by_pitch = {}
    for s, e, p, v in out:
        by_pitch.setdefault(p, []).append((s, e))
    for spans in by_pitch.values():
        spans.sort()
        assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:]))
    assert (0.5, 0.6, 60, 100) in [(round(s, 6), round(e, 6), p, v) for s, e, p, v in out]
