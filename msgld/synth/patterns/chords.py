"""Chordal parts of piano and guitar: block chords, comping, strums, power chords, arpeggios."""

from __future__ import annotations

from msgld.synth.patterns.common import Context, Note, downbeat_accent, split_at_changes, tile, velocity
from msgld.synth.plan import Section
from msgld.synth.theory import nearest_pitch
from msgld.synth.voicing import close_voicing, guitar_voicing, power_chord, rootless_voicing

CENTER = {"piano": 64, "guitar": 60}
BASE_VELOCITY = {"piano": 78, "guitar": 82}


def _left_hand(ctx: Context, section: Section, vel_base: float) -> list[Note]:
    """Piano left hand: the root (an octave below the voicing) held through each chord."""
    plan = ctx.plan
    start, end = plan.section_steps(section)
    notes = []
    s = start
    while s < end:
        span = plan.chord_at(s)
        e = min(end, span.end)
        root = nearest_pitch(span.chord.root, 43)
        notes.append(Note(s, (e - s) * 0.95, root, velocity(vel_base - 8, section.energy, 4)))
        if section.energy > 0.75:
            notes.append(Note(s, (e - s) * 0.95, root - 12, velocity(vel_base - 14, section.energy)))
        s = e
    return notes


def block(ctx: Context, section: Section) -> list[Note]:
    plan = ctx.plan
    start, end = plan.section_steps(section)
    cell = ctx.cell("chords", "block", section)
    base = BASE_VELOCITY[ctx.stem]
    notes: list[Note] = []
    prev = None
    for step, length, sym in tile(cell, start, end):
        for s, ln, span in split_at_changes(plan, step, length):
            voicing = close_voicing(span.chord, CENTER[ctx.stem], prev)
            prev = voicing
            vel = velocity(base, section.energy, downbeat_accent(s, plan) + (6 if sym == "X" else 0))
            notes.extend(Note(s, ln * 0.92, p, vel) for p in voicing)
    if ctx.stem == "piano":
        notes.extend(_left_hand(ctx, section, base))
    return notes


def comping(ctx: Context, section: Section) -> list[Note]:
    """Short rootless voicings on syncopated hits; a hit just before a change anticipates the
    next chord."""
    plan = ctx.plan
    start, end = plan.section_steps(section)
    cell = ctx.cell("chords", "comping", section)
    center = CENTER[ctx.stem] - 2
    base = BASE_VELOCITY[ctx.stem] - 4
    notes: list[Note] = []
    for step, length, sym in tile(cell, start, end):
        span = plan.chord_at(step)
        if span.end - step <= 2 and span.end < plan.end_step:
            span = plan.next_chord(span)
        voicing = rootless_voicing(span.chord, center)
        if ctx.stem == "guitar":
            voicing = [nearest_pitch(span.chord.root, 45)] + voicing
        dur = min(length, 3.0) * (0.85 if ctx.rng.random() < 0.7 else 1.5)
        vel = velocity(base, section.energy, 6 if sym == "X" else float(ctx.rng.normal(0, 4)))
        notes.extend(Note(step, dur, p, vel) for p in voicing)
    return notes


def strum(ctx: Context, section: Section) -> list[Note]:
    """Guitar strums: down strokes low to high over all strings, up strokes high to low over
    the top ones, each string a few milliseconds after the last; chords ring until the next."""
    plan, rng = ctx.plan, ctx.rng
    start, end = plan.section_steps(section)
    cell = ctx.cell("chords", "strum", section)
    base = BASE_VELOCITY[ctx.stem]
    spread = float(rng.uniform(0.006, 0.014))
    notes: list[Note] = []
    for step, length, sym in tile(cell, start, end):
        for s, ln, span in split_at_changes(plan, step, length):
            shape = guitar_voicing(span.chord)
            if sym == "U":
                strings, vel = list(reversed(shape))[:4], velocity(base - 14, section.energy)
            else:
                strings = shape
                vel = velocity(base - (12 if sym == "d" else 0), section.energy, downbeat_accent(s, plan))
            for k, p in enumerate(strings):
                notes.append(Note(s, ln * 0.96, p, max(1, vel - 2 * k), offset=k * spread))
    return notes


def power(ctx: Context, section: Section) -> list[Note]:
    """Power chords; plain hits are palm-muted (short), accents ring."""
    plan = ctx.plan
    start, end = plan.section_steps(section)
    cell = ctx.cell("chords", "power", section)
    base = BASE_VELOCITY["guitar"] + 6
    notes: list[Note] = []
    for step, length, sym in tile(cell, start, end):
        for s, ln, span in split_at_changes(plan, step, length):
            dur = ln * 0.95 if sym == "X" else min(ln, 1.5) * 0.7
            vel = velocity(base, section.energy, 8 if sym == "X" else downbeat_accent(s, plan))
            notes.extend(Note(s, dur, p, vel) for p in power_chord(span.chord))
    return notes


ARP_ORDERS = {"up": [0, 1, 2, 3, 4, 5], "updown": [0, 1, 2, 3, 2, 1], "alberti": [0, 2, 1, 2], "broken": [0, 2, 1, 3, 2, 4]}


def arpeggio(ctx: Context, section: Section) -> list[Note]:
    """Broken chords in 8ths (16ths at slow tempi); notes ring on (pedal or let-ring strings)."""
    plan, rng = ctx.plan, ctx.rng
    start, end = plan.section_steps(section)
    spacing = 1 if plan.bpm < 88 and plan.meter.steps_per_beat == 4 else 2
    order = ARP_ORDERS[list(ARP_ORDERS)[int(rng.integers(len(ARP_ORDERS)))]]
    base = BASE_VELOCITY[ctx.stem] - 6
    notes: list[Note] = []
    s = start
    while s < end:
        span = plan.chord_at(s)
        e = min(end, span.end)
        if ctx.stem == "guitar":
            tones = guitar_voicing(span.chord)
        else:
            low = close_voicing(span.chord, 58, size=3)
            tones = low + [p + 12 for p in low]
        for k, step in enumerate(range(s, e, spacing)):
            pitch = tones[order[k % len(order)] % len(tones)]
            ring = min(spacing * 3, e - step)
            vel = velocity(base, section.energy, downbeat_accent(step, plan))
            notes.append(Note(step, ring, pitch, vel))
        s = e
    if ctx.stem == "piano":
        notes.extend(_left_hand(ctx, section, BASE_VELOCITY["piano"]))
    return notes
