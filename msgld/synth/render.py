"""Render each stem on its own to mono audio, then scale all stems of a track by one common
gain so that the mixture (their plain sum) has a set loudness and never clips.

Each stem gets a fresh synthesiser: a reused one keeps voice state (filter histories) from the
stem before and so would not give byte-identical audio. Loaded sample data is cached per
process (fluidsynth's sample cache is kept warm by one idle synth per soundfont; tinysoundfont
keeps the file's bytes), so a fresh synth costs little. Reverb and chorus are off: stems are
dry and deterministic. No stem is normalised on its own.
"""

from __future__ import annotations

import ctypes
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from msgld.audio.io import resample

DRUM_BANK = 128
DRUM_CHANNEL = 9
FLUID_WARN = 2  # fluidsynth log level


def note_events(inst: pretty_midi.Instrument, sample_rate: int) -> list[tuple[int, int, int, int]]:
    """(sample, kind, key, velocity), note-offs (kind 0) before note-ons (kind 1) at one sample."""
    ev = []
    for n in inst.notes:
        ev.append((int(round(n.start * sample_rate)), 1, n.pitch, n.velocity))
        ev.append((int(round(n.end * sample_rate)), 0, n.pitch, 0))
    ev.sort()
    return ev


def controls(inst: pretty_midi.Instrument) -> list[tuple[int, int]]:
    return [(c.number, c.value) for c in inst.control_changes if c.time == 0.0]


def sndfile_libraries() -> set[str]:
    """The libsndfile files mapped into this process (Linux; empty elsewhere)."""
    try:
        with open("/proc/self/maps") as f:
            return {line.split()[-1] for line in f if "libsndfile" in line}
    except OSError:
        return set()


class FluidSynthBackend:
    """pyfluidsynth with ctypes for what it does not wrap: float output, and handing a loaded
    soundfont to a fresh synth (`fluid_synth_add_sfont`) so it is parsed once per process."""

    name = "fluidsynth"

    def __init__(self, gain: float = 0.4):
        import fluidsynth

        if len(sndfile_libraries()) > 1:
            logging.getLogger(__name__).warning(
                "fluidsynth was loaded before soundfile, so it decodes .sf3 soundfonts with another "
                "libsndfile than usual: audio from .sf3 fonts may differ in the last bit; import "
                "msgld.synth before pretty_midi or fluidsynth")
        self.fs = fluidsynth
        self.gain = gain
        self.fonts: dict[Path, tuple[object, int]] = {}  # path -> (owning synth, fluid_sfont_t*)
        lib = fluidsynth._fl
        self.write = self._proto(lib.fluid_synth_write_float, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                 ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                                 ctypes.c_int, ctypes.c_int)
        self.get_sfont = self._proto(lib.fluid_synth_get_sfont_by_id, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
        self.add_sfont = self._proto(lib.fluid_synth_add_sfont, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        self.remove_sfont = self._proto(lib.fluid_synth_remove_sfont, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        self.set_log = self._proto(lib.fluid_set_log_function, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                   ctypes.c_void_p)

    @staticmethod
    def _proto(fn, restype, *argtypes):
        fn.argtypes, fn.restype = list(argtypes), restype
        return fn

    def _synth(self, sample_rate: int):
        return self.fs.Synth(gain=self.gain, samplerate=float(sample_rate), channels=16, **{
            "synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1})

    def _release(self, synth, font) -> None:
        """Take the shared soundfont back (quietly: fluidsynth warns for every channel left
        without a preset), then delete the synth."""
        previous = self.set_log(FLUID_WARN, None, None)
        try:
            self.remove_sfont(synth.synth, font)
        finally:
            self.set_log(FLUID_WARN, previous, None)
        synth.delete()

    def _font(self, soundfont: Path, sample_rate: int) -> int:
        if soundfont not in self.fonts:
            owner = self._synth(sample_rate)
            sfid = owner.sfload(str(soundfont))
            if sfid < 0:
                raise ValueError(f"{soundfont}: fluidsynth could not load this soundfont")
            self.fonts[soundfont] = (owner, self.get_sfont(owner.synth, sfid))
        return self.fonts[soundfont][1]

    def render(self, inst: pretty_midi.Instrument, soundfont: Path, n: int, sample_rate: int) -> tuple[np.ndarray, int]:
        font = self._font(soundfont, sample_rate)
        synth = self._synth(sample_rate)
        sfid = self.add_sfont(synth.synth, font)
        try:
            chan = DRUM_CHANNEL if inst.is_drum else 0
            bank = DRUM_BANK if inst.is_drum else 0
            program = inst.program
            if synth.sfpreset_name(sfid, bank, program) is None:
                program = 0 if inst.is_drum else program - program % 8
            synth.program_select(chan, sfid, bank, program)
            for number, value in controls(inst):
                synth.cc(chan, number, value)
            left = np.zeros(n, np.float32)
            right = np.zeros(n, np.float32)
            cur = 0

            def run_to(t: int) -> None:
                nonlocal cur
                t = min(t, n)
                if t > cur:
                    self.write(synth.synth, t - cur, left.ctypes.data + 4 * cur, 0, 1,
                               right.ctypes.data + 4 * cur, 0, 1)
                    cur = t

            for t, kind, key, vel in note_events(inst, sample_rate):
                if t >= n:
                    break
                run_to(t)
                if kind:
                    synth.noteon(chan, key, vel)
                else:
                    synth.noteoff(chan, key)
            run_to(n)
            return (left + right) * 0.5, program
        finally:
            self._release(synth, font)  # the owning synth keeps the soundfont


class TinySoundFontBackend:
    name = "tinysoundfont"

    def __init__(self, gain: float = 0.4):
        from tinysoundfont import _tinysoundfont

        self.tsf = _tinysoundfont
        self.gain_db = 20 * math.log10(gain)
        self.data: dict[Path, bytes] = {}

    def render(self, inst: pretty_midi.Instrument, soundfont: Path, n: int, sample_rate: int) -> tuple[np.ndarray, int]:
        if soundfont not in self.data:
            self.data[soundfont] = soundfont.read_bytes()
        sf = self.tsf.SoundFont(self.data[soundfont])
        sf.set_output(self.tsf.OutputMode.Mono, sample_rate, self.gain_db)
        sf.set_max_voices(256)
        chan = DRUM_CHANNEL if inst.is_drum else 0
        program = inst.program
        if sf.get_preset_index(DRUM_BANK if inst.is_drum else 0, program) < 0:
            program = 0 if inst.is_drum else program - program % 8
        sf.channel_set_preset_number(chan, program, inst.is_drum)
        for number, value in controls(inst):
            sf.channel_midi_control(chan, number, value)
        out = np.zeros(n, np.float32)
        cur = 0
        for t, kind, key, vel in note_events(inst, sample_rate):
            if t >= n:
                break
            if t > cur:
                sf.render(memoryview(out[cur:t]).cast("B"), False)
                cur = t
            if kind:
                sf.channel_note_on(chan, key, vel / 127.0)
            else:
                sf.channel_note_off(chan, key)
        if n > cur:
            sf.render(memoryview(out[cur:n]).cast("B"), False)
        return out, program


_BACKENDS: dict[tuple[str, float], object] = {}


def get_backend(name: str, gain: float = 0.4):
    """One backend object per process (it caches soundfont data)."""
    key = (name, gain)
    if key not in _BACKENDS:
        _BACKENDS[key] = {"fluidsynth": FluidSynthBackend, "tinysoundfont": TinySoundFontBackend}[name](gain)
    return _BACKENDS[key]


@dataclass
class Rendered:
    stems: dict[str, np.ndarray]  # stem -> [L] float32, common gain applied
    gain: float
    programs: dict[str, int]  # the program (kit) actually played, after any fallback


def common_gain(stems: dict[str, np.ndarray], target_rms: float, peak: float) -> float:
    mix = np.sum(list(stems.values()), axis=0, dtype=np.float64)
    mix_peak = float(np.abs(mix).max()) if mix.size else 0.0
    if mix_peak == 0.0:
        return 1.0
    rms = float(np.sqrt(np.mean(mix**2)))
    return min(target_rms / max(rms, 1e-9), peak / mix_peak)


def render_song(instruments: dict[str, pretty_midi.Instrument], soundfonts: dict[str, Path], duration: float,
                backend: str, config: dict) -> Rendered:
    """All stems, `duration` seconds each (sample-aligned, equal length), at config's sample rate."""
    sr = int(config["sample_rate"])
    rate = int(config["render"].get("render_rate", sr))
    engine = get_backend(backend, float(config["render"]["synth_gain"]))
    n = int(math.ceil(duration * rate))
    length = int(math.ceil(duration * sr))
    stems, programs = {}, {}
    for stem, inst in instruments.items():
        audio, programs[stem] = engine.render(inst, soundfonts[stem], n, rate)
        if rate != sr:
            audio = resample(audio, rate, sr)
        audio = audio[:length]
        stems[stem] = np.pad(audio, (0, length - audio.shape[0])).astype(np.float32)
    gain = common_gain(stems, float(config["render"]["target_rms"]), float(config["render"]["peak"]))
    return Rendered({k: (v * gain).astype(np.float32) for k, v in stems.items()}, gain, programs)
