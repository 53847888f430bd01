"""Pattern families per stem: each turns a section of the song plan into notes on the grid."""

from __future__ import annotations

from msgld.synth.patterns import bass, chords, drums, melody
from msgld.synth.patterns.common import Context, Note, velocity
from msgld.synth.plan import Part
from msgld.synth.theory import nearest_pitch
from msgld.synth.voicing import close_voicing, guitar_voicing

FAMILIES = {
    "bass": bass.FAMILIES,
    "piano": {"block": chords.block, "comping": chords.comping, "arpeggio": chords.arpeggio,
              "melody": melody.melody},
    "guitar": {"strum": chords.strum, "power": chords.power, "arpeggio": chords.arpeggio,
               "lead": melody.lead, "comping": chords.comping},
}


def final_hit(ctx: Context, step: int, length: float) -> list[Note]:
    """The last bar: one held chord (a crash and kick for drums)."""
    plan = ctx.plan
    chord = plan.chord_at(step).chord
    v = velocity(96, 0.8)
    if ctx.stem == "drums":
        return [Note(step, 2.0, 49, v + 8), Note(step, 1.0, 36, v + 4)]
    if ctx.stem == "bass":
        return [Note(step, length, nearest_pitch(chord.root, 35.5), v)]
    if ctx.stem == "guitar":
        return [Note(step, length, p, v - 2 * k, offset=0.012 * k) for k, p in enumerate(guitar_voicing(chord))]
    return [Note(step, length, p, v - 8) for p in close_voicing(chord, 64)] + [
        Note(step, length, nearest_pitch(chord.root, 43), v - 4)]


def part_notes(ctx: Context, part: Part) -> list[Note]:
    plan = ctx.plan
    notes: list[Note] = []
    playing_before = False
    for i, section in enumerate(plan.sections):
        family = part.families[i]
        if family is None:
            playing_before = False
            continue
        if part.is_drum:
            notes.extend(drums.groove(ctx, section, family, first=not playing_before))
        else:
            notes.extend(FAMILIES[part.stem][family](ctx, section))
        playing_before = True
    last = plan.end_step - ctx.spb
    notes = [n for n in notes if n.start < last]
    if part.families[-1] is not None:
        notes.extend(final_hit(ctx, last, ctx.spb * 0.98))
    return notes
