"""Audio files in and out: load any rate/channel count as 16 kHz mono float32 (or as it is, at
its own rate and channels), save atomically in float or integer PCM (never wrapping around:
integers are clamped or the stems rescaled) or MP3 at a chosen bitrate, whole or block by block."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from msgld import SAMPLE_RATE
from msgld.atomic import atomic_output, atomic_path, atomic_write_text, write_error  # noqa: F401 (atomic_path: re-exported)

READ_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
SUBTYPES = {"int16": "PCM_16", "int24": "PCM_24", "float32": "FLOAT"}
FORMATS = {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3", ".ogg": "OGG"}


class AudioError(ValueError):
    """A file that cannot be used as audio; the message names the file and the problem."""


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample along the last axis with soxr (high quality); identity when the rates match."""
    if sr_in == sr_out:
        return wave
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        return soxr.resample(wave, sr_in, sr_out, quality="HQ").astype(np.float32)
    flat = wave.reshape(-1, wave.shape[-1])
    # soxr wants [time, channels]
    out = soxr.resample(np.ascontiguousarray(flat.T), sr_in, sr_out, quality="HQ").T
    return np.ascontiguousarray(out.reshape(*wave.shape[:-1], -1), dtype=np.float32)


def check_finite(wave: np.ndarray, path: str | os.PathLike) -> None:
    if wave.size == 0:
        raise AudioError(f"{path}: zero-length audio")
    if not np.all(np.isfinite(wave)):
        raise AudioError(f"{path}: contains NaN or Inf samples")


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """soundfile's header info, with a clear error for missing or unreadable files."""
    from msgld.audio import validate  # imports this module

    path = Path(path)
    validate.check_path(path)  # broken links, folders, permissions, empty files
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises several types (LibsndfileError, RuntimeError)
        raise validate.open_error(path, e) from e
    validate.check_header(path, info)  # a WAV shorter than its header says
    return info


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = SAMPLE_RATE,
    start: int = 0,
    frames: int = -1,
    mono: bool = True,
) -> np.ndarray:
    """Load audio as float32 at `sample_rate`; mono by the mean of channels.

    `start` and `frames` are in the file's own sample rate (for cheap random segments).
    Returns [L] if mono else [channels, L].
    """
    from msgld.audio import validate

    info = audio_info(path)
    try:
        data, sr = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except Exception as e:
        raise validate.read_error(path, e) from e
    if data.shape[0] == 0 and info.frames == 0:
        raise AudioError(f"{path}: zero-length audio")
    if start == 0 and frames < 0:
        validate.check_length(path, data.shape[0], info.frames)  # compressed data that ends early
    validate.check_samples(data, path, start, sr)  # NaN/Inf, far above full scale
    wave = data.T  # [channels, L]
    if mono:
        wave = wave.mean(axis=0)
    wave = resample(wave, sr, sample_rate)
    if frames != 0 and wave.shape[-1] > 0:
        check_finite(wave, path)
    return np.ascontiguousarray(wave, dtype=np.float32)


def _clear_peak_timestamp(path: Path) -> None:
    """libsndfile gives float WAVs a PEAK chunk holding the time of writing: zero that field so
    equal audio gives byte-identical files."""
    with open(path, "r+b") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while True:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8 or chunk[:4] == b"data":
                return
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"PEAK":
                f.seek(pos + 12)  # id, size, version, then the timestamp
                f.write(b"\0\0\0\0")
                return
            pos += 8 + size + (size & 1)


def load_audio_native(path: str | os.PathLike, mono: bool = False) -> tuple[np.ndarray, int]:
    """The file as it is: (float32 [channels, L] (or [L] if `mono`), its own sample rate)."""
    rate = audio_info(path).samplerate
    return load_audio(path, sample_rate=rate, mono=mono), rate


MP3_RATES = {  # sample rate -> (lowest, highest) constant bitrate in kbps (MPEG-1, -2 and -2.5 layer III)
    **dict.fromkeys((32000, 44100, 48000), (32, 320)),
    **dict.fromkeys((16000, 22050, 24000), (8, 160)),
    **dict.fromkeys((8000, 11025, 12000), (8, 64)),
}
CLIP_MODES = ("rescale", "clamp")
PCM_BITS = {"int16": 16, "int24": 24}


def output_subtype(fmt: str, subtype: str) -> str:
    """The sample format a file really stores: FLAC holds at most 24-bit integers; MP3 is lossy."""
    if fmt == "MP3":
        return "mp3"
    if fmt == "FLAC" and subtype == "float32":
        return "int24"
    return subtype


def check_output(path: Path, sample_rate: int, channels: int, subtype: str, mp3_bitrate: int | None = None) -> str:
    """Refuse what the format cannot hold, before anything is computed; -> libsndfile's format."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(f"{path}: unsupported output format; use one of {sorted(FORMATS)}")
    if subtype not in SUBTYPES:
        raise AudioError(f"{path}: unknown subtype {subtype!r}; use one of {sorted(SUBTYPES)}")
    if fmt == "MP3":
        if sample_rate not in MP3_RATES:
            raise AudioError(f"{path}: MP3 cannot store {sample_rate} Hz; choose one of {sorted(MP3_RATES)} "
                             "(e.g. --sample-rate 44100) or another format")
        if channels > 2:
            raise AudioError(f"{path}: MP3 holds at most 2 channels, not {channels}; use wav or flac (or --mono)")
        lo, hi = MP3_RATES[sample_rate]
        if mp3_bitrate is not None and not lo <= mp3_bitrate <= hi:
            raise AudioError(f"{path}: an MP3 at {sample_rate} Hz takes {lo}-{hi} kbps, not {mp3_bitrate}")
    return fmt


def mp3_compression(sample_rate: int, kbps: int | None) -> float:
    """libsndfile's compression level for a constant `kbps` (None: the highest the rate allows)."""
    lo, hi = MP3_RATES[sample_rate]
    kbps = hi if kbps is None else kbps
    return min(0.999, (hi - kbps) / (hi - lo))


def to_pcm(wave: np.ndarray, subtype: str) -> np.ndarray:
    """Float [-1, 1) -> the integers an int16/int24 file stores (int16, or int32 with the 24 bits
    on top, as libsndfile takes them), rounded and clamped: never wrapped around."""
    bits = PCM_BITS[subtype]
    full = float(2 ** (bits - 1))
    q = np.clip(np.round(np.asarray(wave, dtype=np.float64) * full), -full, full - 1)
    return q.astype(np.int16) if bits == 16 else (q.astype(np.int32) << 8)


def from_pcm(q: np.ndarray, subtype: str) -> np.ndarray:
    """The float values a reader gets back from `to_pcm`'s integers."""
    if subtype == "int16":
        return q.astype(np.float64) / 2 ** 15
    return (q >> 8).astype(np.float64) / 2 ** 23


def pcm_peak(subtype: str) -> float:
    """The largest value an integer file stores (1 - one step)."""
    return 1.0 - 2.0 ** (1 - PCM_BITS[subtype])


class AudioWriter:
    """An audio file written block by block under a temporary name; `close()` renames it into
    place (`abort()` or an error removes it). Integer subtypes are rounded and clamped here."""

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int, subtype: str = "float32",
                 mp3_bitrate: int | None = None):
        self.path = Path(path)
        fmt = check_output(self.path, sample_rate, channels, subtype, mp3_bitrate)
        self.stored = output_subtype(fmt, subtype)
        kw = {}
        if fmt == "MP3":
            kw = {"subtype": "MPEG_LAYER_III", "compression_level": mp3_compression(sample_rate, mp3_bitrate),
                  "bitrate_mode": "CONSTANT"}
        elif fmt == "OGG":
            kw = {"subtype": "VORBIS"}
        else:
            kw = {"subtype": SUBTYPES[self.stored]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._atomic = atomic_output(self.path)
        self.tmp = self._atomic.__enter__()
        try:
            self.file = sf.SoundFile(str(self.tmp), "w", sample_rate, channels, format=fmt, **kw)
        except BaseException as e:
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise
        self.fmt, self.channels = fmt, channels

    def write(self, wave: np.ndarray) -> np.ndarray:
        """Append [channels, n] (or [n]); returns the values as stored (integers: as read back)."""
        wave = np.asarray(wave, dtype=np.float32)
        check_finite(wave, self.path)
        data = wave.T if wave.ndim == 2 else wave
        if self.stored in PCM_BITS:
            q = to_pcm(data, self.stored)
            self._put(q)
            return from_pcm(q, self.stored).T if wave.ndim == 2 else from_pcm(q, self.stored)
        self._put(data)
        return wave

    def _put(self, data: np.ndarray) -> None:
        try:
            self.file.write(data)
        except sf.LibsndfileError as e:  # it says only "System error" when the disk is full
            raise write_error(self.path, e) from e

    def close(self) -> Path:
        try:
            self.file.close()
        except Exception as e:  # the last block or the header could not be written
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise write_error(self.path, e) from e
        if self.fmt == "WAV" and self.stored == "float32":
            _clear_peak_timestamp(self.tmp)
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        try:
            self.file.close()
        except Exception:
            pass  # a full disk may refuse the last block too; the file is removed anyway
        err = RuntimeError("aborted")
        self._atomic.__exit__(RuntimeError, err, None)


def save_audio(
    path: str | os.PathLike,
    wave: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    subtype: str = "float32",
    mp3_bitrate: int | None = None,
) -> Path:
    """Write WAV/FLAC/MP3 atomically (temp file + rename); never leaves a half-written file.

    `wave` is [L] or [channels, L]; `subtype` is int16, int24 or float32 (FLAC stores at most
    24 bit); integers are rounded and clamped, never wrapped around.
    """
    wave = np.asarray(wave, dtype=np.float32)
    writer = AudioWriter(path, sample_rate, 1 if wave.ndim == 1 else wave.shape[0], subtype, mp3_bitrate)
    try:
        writer.write(wave)
    except BaseException:
        writer.abort()
        raise
    return writer.close()
