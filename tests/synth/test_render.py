"""Renderer: stems non-silent, sample-aligned, equal length, one common gain, no clipping,
deterministic; the Debian-free tinysoundfont path always, fluidsynth where installed."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from msgld.data.stems_dataset import SILENCE_THRESHOLD
from msgld.synth import soundfonts as sfonts
from msgld.synth.composer import compose
from msgld.synth.render import common_gain, render_song

HAS_FLUIDSYNTH = sfonts.fluidsynth_importable() and bool(
    sfonts.available(["/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2"]))
BACKENDS = ["tinysoundfont"] + (["fluidsynth"] if HAS_FLUIDSYNTH else [])


def font(backend: str, config: dict):
    return sfonts.select(backend, config)[1][-1]  # the smallest (TimGM6mb) of each list


def single_notes(onset: float) -> dict[str, pretty_midi.Instrument]:
    out = {}
    for stem, program, pitch, drum in (("bass", 33, 40, False), ("drums", 0, 38, True),
                                       ("guitar", 25, 64, False), ("piano", 0, 72, False)):
        inst = pretty_midi.Instrument(program=program, is_drum=drum, name=stem)
        inst.notes.append(pretty_midi.Note(velocity=100, pitch=pitch, start=onset, end=onset + 0.4))
        out[stem] = inst
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_stems_are_aligned_equal_and_share_one_gain(backend, short_config):
    sr = short_config["sample_rate"]
    fonts = {s: font(backend, short_config) for s in ("bass", "drums", "guitar", "piano")}
    out = render_song(single_notes(0.5), fonts, 1.5, backend, short_config)
    assert {a.shape for a in out.stems.values()} == {(int(1.5 * sr),)}
    for stem, audio in out.stems.items():
        onset = int(np.argmax(np.abs(audio) > 0.02 * np.abs(audio).max()))
        assert abs(onset - 0.5 * sr) <= 0.006 * sr, (stem, onset)  # sample-aligned within a few ms
        assert np.abs(audio[: int(0.49 * sr)]).max() < 1e-3  # silence before the note


@pytest.mark.parametrize("backend", BACKENDS)
def test_song_render_nonsilent_no_clipping_deterministic(backend, short_config):
    song = compose(11, 0, short_config, style="pop", meter="4/4")
    fonts = {s: font(backend, short_config) for s in song.stems}
    duration = song.end_time + short_config["tail_s"]
    a = render_song(song.instruments, fonts, duration, backend, short_config)
    b = render_song(song.instruments, fonts, duration, backend, short_config)
    mix = np.sum(list(a.stems.values()), axis=0)
    assert np.abs(mix).max() <= short_config["render"]["peak"] + 1e-5  # the mixture never clips
    for stem, audio in a.stems.items():
        assert audio.dtype == np.float32 and audio.shape == mix.shape
        assert np.abs(audio).mean() > SILENCE_THRESHOLD, stem
        assert np.array_equal(audio, b.stems[stem]), f"{backend} {stem} not deterministic"
    assert a.gain == b.gain


def test_common_gain_keeps_balance_and_caps_the_peak():
    stems = {"a": np.full(100, 0.9, np.float32), "b": np.full(100, 0.6, np.float32)}
    g = common_gain(stems, target_rms=10.0, peak=0.89)
    assert g == pytest.approx(0.89 / 1.5)
    g = common_gain(stems, target_rms=0.15, peak=0.89)
    assert g == pytest.approx(0.1)


def test_backend_selection(short_config, tmp_path):
    name, paths = sfonts.select("tinysoundfont", short_config)
    assert name == "tinysoundfont" and paths == [sfonts.pretty_midi_soundfont()]
    auto, _ = sfonts.select("auto", short_config)
    assert auto == ("fluidsynth" if HAS_FLUIDSYNTH else "tinysoundfont")
    with pytest.raises(ValueError, match="unknown backend"):
        sfonts.select("timidity", short_config)
    with pytest.raises(ValueError, match="none of the soundfonts"):
        sfonts.select("tinysoundfont", short_config, soundfonts=[str(tmp_path / "missing.sf2")])
