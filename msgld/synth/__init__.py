"""SynthSlakh: a Slakh2100-style multi-track dataset made offline from procedurally composed
MIDI, each stem rendered on its own with General MIDI soundfonts.

    compose(seed, index)            -> Song (plan + one pretty_midi instrument per stem)
    render_song(...)                -> stems with one common gain (the mix never clips)
    synthesize(out, tracks=N, ...)  -> a dataset folder in the Slakh layout (resumable)
"""

# soundfile first: its wheel's libsndfile has the soname libsndfile.so.1, so a libfluidsynth loaded
# after it (pretty_midi imports fluidsynth) decodes .sf3 soundfonts with that same library in
# every process; loaded the other way round it takes Debian's, whose Vorbis decoder differs in
# the last bit, and the same seed would not give byte-identical files everywhere.
import soundfile  # noqa: F401  (isort: skip)

from msgld.synth.caption import caption
from msgld.synth.composer import Song, compose
from msgld.synth.render import render_song
from msgld.synth.writer import synthesize

__all__ = ["Song", "caption", "compose", "render_song", "synthesize"]
