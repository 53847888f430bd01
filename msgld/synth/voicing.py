"""Chord voicings: close keyboard voicings with voice leading, guitar shapes, shells, power chords."""

from __future__ import annotations

from msgld.synth.theory import Chord, nearest_pitch


def close_voicing(chord: Chord, center: float, prev: list[int] | None = None, size: int = 4) -> list[int]:
    """`size` chord tones (doubling the root if needed) in a close position near `center`,
    the inversion that moves least from `prev`."""
    pcs = list(dict.fromkeys(chord.pcs))
    if len(pcs) > size:  # drop the fifth first, then the root
        for drop in (chord.fifth(), 0):
            pc = (chord.root + drop) % 12
            if len(pcs) > size and pc in pcs:
                pcs.remove(pc)
    while len(pcs) < size:
        pcs.append(chord.root)
    best, best_cost = None, None
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        notes = [nearest_pitch(order[0], center - 5)]
        for pc in order[1:]:
            notes.append(notes[-1] + 1 + (pc - notes[-1] - 1) % 12)
        mid = (notes[0] + notes[-1]) / 2
        cost = abs(mid - center) * 0.5
        if prev and len(prev) == len(notes):
            cost += sum(abs(a - b) for a, b in zip(sorted(prev), notes)) / len(notes)
        if best_cost is None or cost < best_cost:
            best, best_cost = notes, cost
    return best


def rootless_voicing(chord: Chord, center: float) -> list[int]:
    """Third, seventh (or sixth/fifth) and a colour tone, without the root: jazz comping."""
    third = chord.third() if chord.third() is not None else 7
    seventh = chord.seventh() if chord.seventh() is not None else (9 if chord.quality in ("maj", "6") else chord.fifth())
    colour = 14 if 14 in chord.intervals or chord.quality in ("7", "m7", "maj7", "9", "m9", "maj9") else chord.fifth()
    pcs = [(chord.root + i) % 12 for i in (third, seventh, colour)]
    notes = [nearest_pitch(pcs[0], center - 4)]
    for pc in pcs[1:]:
        notes.append(notes[-1] + 1 + (pc - notes[-1] - 1) % 12)
    return notes


def guitar_voicing(chord: Chord) -> list[int]:
    """An open-position-like shape: root on the low E or A string, then the chord's tones stacked
    as a guitar's strings would give them (E shape 1-5-1-3-5-1, A shape 1-5-1-3-5)."""
    root = 40 + (chord.root - 4) % 12  # E2..D#3
    roles = ["1", "5", "1", "3", "5", "1"]
    if root > 44:  # A shape, one string fewer
        roles = ["1", "5", "1", "3", "5"]
    if chord.seventh() is not None:
        roles[2] = "7"
    if 14 in chord.intervals:
        roles[-1] = "9"
    third = chord.third()
    interval = {"1": 0, "5": chord.fifth(), "3": third if third is not None else 0,
                "7": chord.seventh() or 0, "9": 2}
    notes = [root]
    for role in roles[1:]:
        pc = (chord.root + interval[role]) % 12
        notes.append(notes[-1] + 1 + (pc - notes[-1] - 1) % 12)
    return notes


def power_chord(chord: Chord, low: int = 40) -> list[int]:
    root = low + (chord.root - low) % 12
    return [root, root + 7, root + 12]


def shell(chord: Chord, center: float = 48) -> list[int]:
    """Left hand: root and seventh (or fifth)."""
    root = nearest_pitch(chord.root, center - 3)
    upper = chord.seventh() if chord.seventh() is not None else chord.fifth()
    return [root, root + upper]
