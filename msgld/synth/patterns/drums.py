"""Drums: the style's groove tiled over a section, thinned in quiet sections and moved to the
ride or open hat in loud ones, with snare ghost notes, a fill at the section's end and a crash
on the next downbeat."""

from __future__ import annotations

from msgld.synth.patterns.common import Context, Note, velocity
from msgld.synth.plan import Section
from msgld.synth.styles import DRUM_LANES

TOMS = ["tom_hi", "tom_mid", "tom_lo", "floor"]
QUIET_DROP = {"crash", "open", "shaker", "tamb", "cowbell", "clap"}


def fill(ctx: Context, start: int, end: int, energy: float) -> list[Note]:
    """A fill over [start, end): snare roll, descending toms, or snare then toms; crescendo."""
    rng = ctx.rng
    spacing = 1 if ctx.plan.bpm < 125 or rng.random() < 0.3 else 2
    kind = ["snare", "toms", "mixed"][int(rng.integers(3))]
    steps = list(range(start, end, spacing))
    notes = []
    for i, step in enumerate(steps):
        frac = i / max(1, len(steps) - 1)
        if kind == "snare" or (kind == "mixed" and frac < 0.5):
            lane = "snare"
        else:
            lane = TOMS[min(3, int(frac * 4))]
        if rng.random() < 0.12 and i not in (0, len(steps) - 1):
            continue  # a gap makes it sound played
        vel = velocity(70 + 40 * frac, energy)
        notes.append(Note(step, 1.0, DRUM_LANES[lane], vel))
    if kind != "snare":
        notes.append(Note(start, 1.0, DRUM_LANES["kick"], velocity(90, energy)))
    return notes


def groove(ctx: Context, section: Section, groove_name: str, first: bool) -> list[Note]:
    plan, rng = ctx.plan, ctx.rng
    style = plan.style
    g = ctx.library.grooves[groove_name]
    start, end = plan.section_steps(section)
    spb = ctx.spb
    fill_start = end
    if section.fill:
        beats = plan.meter.beats
        n_beats = int(rng.choice([1, 2, beats], p=[0.45, 0.4, 0.15])) if beats > 2 else int(rng.choice([1, 2]))
        fill_start = end - n_beats * plan.meter.steps_per_beat
    level = section.energy_level()
    notes: list[Note] = []
    snare_steps = set()
    for rep in range(start, end, g.steps):
        for s, lane, vel in g.hits:
            step = rep + s
            if step >= fill_start:
                continue
            if level == "low" and lane in QUIET_DROP:
                continue
            if level == "high":
                if lane == "hat" and style.chorus_cymbal == "ride":
                    lane = "ride"
                elif lane == "hat" and style.chorus_cymbal == "open" and step % 4 == 2 and rng.random() < 0.5:
                    lane = "open"
            if lane == "snare":
                snare_steps.add(step)
            accent = 4.0 if step % spb == 0 else 0.0
            notes.append(Note(step, 1.0, DRUM_LANES[lane], velocity(vel, section.energy, accent)))
    if style.ghost_notes > 0 and "snare" in {lane for _, lane, _ in g.hits}:
        for step in range(start, min(end, fill_start)):
            near = any(abs(step - s) <= 1 for s in snare_steps)
            if not near and step % 2 == 1 and rng.random() < style.ghost_notes:
                notes.append(Note(step, 0.5, DRUM_LANES["snare"], int(rng.integers(22, 40))))
    if not first and (section.name == "chorus" or section.energy >= 0.75 or rng.random() < 0.5):
        notes.append(Note(start, 2.0, DRUM_LANES["crash"], velocity(100, section.energy)))
        if not any(n.start == start and n.pitch == DRUM_LANES["kick"] for n in notes):
            notes.append(Note(start, 1.0, DRUM_LANES["kick"], velocity(96, section.energy)))
    if fill_start < end:
        notes.extend(fill(ctx, fill_start, end, section.energy))
    return notes
