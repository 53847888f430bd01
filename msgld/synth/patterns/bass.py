"""Bass lines: roots, octaves, syncopated (rhythm cells) and walking (generated per beat)."""

from __future__ import annotations

import numpy as np

from msgld.synth.patterns.common import Context, Note, downbeat_accent, split_at_changes, tile, velocity
from msgld.synth.plan import Section
from msgld.synth.theory import nearest_pitch, scale_pcs

LOW, HIGH = 28, 52  # E1 .. E3
BASE_VELOCITY = 92


def root_pitch(pc: int) -> int:
    return nearest_pitch(pc, 35.5)


def cell_line(ctx: Context, section: Section, family: str, legato: float) -> list[Note]:
    plan = ctx.plan
    start, end = plan.section_steps(section)
    cell = ctx.cell("bass", family, section)
    notes: list[Note] = []
    for step, length, sym in tile(cell, start, end):
        for s, ln, span in split_at_changes(plan, step, length) if sym in "ro" else [(step, length, plan.chord_at(step))]:
            chord = span.chord
            root = root_pitch(chord.root)
            vel = velocity(BASE_VELOCITY, section.energy, downbeat_accent(s, plan))
            dur = ln * legato
            if sym == "r":
                pitch = root
            elif sym == "o":
                pitch = root + 12
            elif sym == "5":
                pitch = root + chord.fifth()
            elif sym == "3":
                pitch = root + (chord.third() or 7)
            elif sym == "7":
                pitch = root + (chord.seventh() or 10)
            elif sym == "a":
                nxt = plan.next_chord(span).chord
                target = root_pitch(nxt.root)
                pitch = target + (1 if ctx.rng.random() < 0.5 else -1) if nxt != chord else root + chord.fifth()
            elif sym == "g":  # dead note: short, soft, pitch of the last note
                pitch = notes[-1].pitch if notes else root
                vel, dur = max(1, vel // 3), 0.5
            else:
                continue
            notes.append(Note(s, max(0.5, dur), int(np.clip(pitch, LOW, HIGH)), vel))
    return notes


def roots(ctx: Context, section: Section) -> list[Note]:
    return cell_line(ctx, section, "roots", legato=0.92)


def octaves(ctx: Context, section: Section) -> list[Note]:
    return cell_line(ctx, section, "octaves", legato=0.8)


def syncopated(ctx: Context, section: Section) -> list[Note]:
    return cell_line(ctx, section, "syncopated", legato=0.75)


def walking(ctx: Context, section: Section) -> list[Note]:
    """Quarter notes: the root on the chord's first beat, chord and scale tones moving toward the
    next root, a chromatic or fifth approach on the beat before a change; now and then a swung
    pickup eighth."""
    plan, rng = ctx.plan, ctx.rng
    beat = plan.meter.steps_per_beat
    start, end = plan.section_steps(section)
    scale = list(scale_pcs(plan.tonic, plan.mode))
    notes: list[Note] = []
    prev = None
    for step in range(start, end, beat):
        span = plan.chord_at(step)
        chord = span.chord
        nxt = plan.next_chord(span)
        vel = velocity(BASE_VELOCITY - 4, section.energy, 6 if step % plan.meter.steps_per_bar == 0 else 0)
        if step == span.start or prev is None:
            pitch = nearest_pitch(chord.root, prev if prev is not None else 38)
        elif step + beat >= span.end and nxt.chord != chord:
            target = nearest_pitch(nxt.chord.root, prev)
            pitch = target + (int(rng.choice([-1, 1])) if rng.random() < 0.7 else 7)
        else:
            target = nearest_pitch(nxt.chord.root, prev)
            direction = np.sign(target - prev) or (1 if rng.random() < 0.5 else -1)
            pool = set(chord.pcs) if rng.random() < 0.6 else set(scale)
            cands = [p for p in range(prev - 5, prev + 6) if p % 12 in pool and p != prev
                     and np.sign(p - prev) == direction]
            pitch = cands[int(rng.integers(len(cands)))] if cands else prev + int(direction) * 2
        while pitch < LOW:
            pitch += 12
        while pitch > HIGH:
            pitch -= 12
        notes.append(Note(step, beat * 0.9, int(pitch), vel))
        if rng.random() < 0.12 and step + beat < end and beat == 4:  # pickup "and" of the beat
            notes[-1].length = 1.8
            notes.append(Note(step + 2, 1.8, int(pitch + rng.choice([-2, -1, 1, 2])), max(1, vel - 18)))
        prev = pitch
    return notes


FAMILIES = {"roots": roots, "octaves": octaves, "syncopated": syncopated, "walking": walking}
