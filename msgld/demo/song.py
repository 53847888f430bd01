"""A fresh SynthSlakh song for the demo: composed and rendered like the training data, with a
seed the training sets do not use."""

from __future__ import annotations

import numpy as np

from msgld.config import load_config, merge
from msgld.synth.composer import compose
from msgld.synth.render import render_song
from msgld.synth.soundfonts import select
from msgld.synth.writer import draw_soundfonts

STEMS = ("bass", "drums", "guitar", "piano")


def demo_song(seed: int, seconds: float, backend: str = "auto") -> tuple[dict[str, np.ndarray], str]:
    """({stem: wave [L]} with silence for absent stems, caption) of a `seconds`-long song."""
    from msgld.synth.caption import caption

    cfg = merge(load_config("synth", "default"), {"duration_range": [seconds, seconds], "min_stems": 4})
    backend, fonts = select(backend, cfg)
    song = compose(seed, 0, cfg)
    drawn = draw_soundfonts(seed, 0, tuple(str(f) for f in fonts))
    rendered = render_song(song.instruments, {s: drawn[s] for s in song.stems}, seconds, backend, cfg)
    length = next(iter(rendered.stems.values())).shape[0]
    stems = {s: rendered.stems.get(s, np.zeros(length, np.float32)) for s in STEMS}
    return stems, caption(song, rendered.programs)
