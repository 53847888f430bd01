"""Melodic lines (piano melody, guitar lead): a one- or two-bar motif of rhythm and scale-step
contour, repeated over the section and fitted to each bar's chord (chord tones on the beats),
the last repetition varied, phrase ends held."""

from __future__ import annotations

import numpy as np

from msgld.synth.patterns.common import Context, Note, velocity
from msgld.synth.plan import Section
from msgld.synth.theory import MODES, nearest_pitch
from msgld.synth.voicing import shell

REGISTER = {"piano": (62, 86), "guitar": (55, 81)}
DURATIONS = {2: 0.42, 4: 0.28, 6: 0.08, 1: 0.1, 8: 0.07, 3: 0.05}
STEPS = {-2: 0.14, -1: 0.3, 0: 0.08, 1: 0.3, 2: 0.12, 3: 0.03, -3: 0.03}


def _rhythm(rng, steps: int, density: float) -> list[tuple[int, int]]:
    durs, probs = np.array(list(DURATIONS)), np.array(list(DURATIONS.values()))
    if density < 0.5:  # sparser: favour long notes
        probs = probs * np.where(durs >= 4, 2.0, 0.6)
    probs = probs / probs.sum()
    out, pos = [], 0
    while pos < steps:
        d = int(min(rng.choice(durs, p=probs), steps - pos))
        if rng.random() > 0.15 or pos == 0:
            out.append((pos, d))
        pos += d
    return out


def line(ctx: Context, section: Section, density: float) -> list[Note]:
    plan, rng = ctx.plan, ctx.rng
    lo, hi = REGISTER[ctx.stem]
    spb, beat = ctx.spb, plan.meter.steps_per_beat
    start, end = plan.section_steps(section)
    motif_bars = 2 if section.bars >= 4 else 1
    rhythm = _rhythm(rng, motif_bars * spb, density)
    contour = [int(rng.choice(list(STEPS), p=np.array(list(STEPS.values())) / sum(STEPS.values())))
               for _ in rhythm]
    scale = MODES[plan.mode]
    base = nearest_pitch(plan.tonic, (lo + hi) / 2 - 6)

    def pitch_of(degree: int) -> int:
        return base + 12 * (degree // 7) + scale[degree % 7]

    degree = 7 if pitch_of(7) <= hi else 0
    notes: list[Note] = []
    reps = list(range(start, end, motif_bars * spb))
    for r, rep_start in enumerate(reps):
        steps = contour if r < len(reps) - 1 or len(reps) == 1 else [
            int(rng.choice([-2, -1, 1, 2])) for _ in contour]
        for (pos, dur), move in zip(rhythm, steps):
            step = rep_start + pos
            if step >= end:
                break
            degree += move
            pitch = pitch_of(degree)
            if pitch > hi or pitch < lo:
                degree -= 2 * move
                pitch = pitch_of(degree)
            if pos % beat == 0:  # a chord tone on the beat
                chord = plan.chord_at(step).chord
                cands = [p for p in range(pitch - 3, pitch + 4) if p % 12 in chord.pcs]
                if cands:
                    pitch = min(cands, key=lambda p: abs(p - pitch))
            phrase_end = (step + dur) % (4 * spb) == 0 or step + dur >= end
            length = min(dur * (1.0 if phrase_end else 0.9), end - step)
            accent = 6 if step % spb == 0 else 0
            notes.append(Note(step, length, int(np.clip(pitch, lo - 2, hi + 2)), velocity(84, section.energy, accent)))
    return notes


def melody(ctx: Context, section: Section) -> list[Note]:
    """Piano: right-hand melody over left-hand shells held through each chord."""
    notes = line(ctx, section, density=0.7)
    plan = ctx.plan
    start, end = plan.section_steps(section)
    s = start
    while s < end:
        span = plan.chord_at(s)
        e = min(end, span.end)
        notes.extend(Note(s, (e - s) * 0.95, p, velocity(64, section.energy)) for p in shell(span.chord, 50))
        s = e
    return notes


def lead(ctx: Context, section: Section) -> list[Note]:
    return line(ctx, section, density=0.45)
