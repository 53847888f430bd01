"""Audio files in and out: load any rate/channel count as 16 kHz mono float32, save atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from msgld import SAMPLE_RATE

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
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")
    try:
        return sf.info(str(path))
    except Exception as e:  # soundfile raises several types (LibsndfileError, RuntimeError)
        raise AudioError(f"{path}: unreadable audio ({e})") from e


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
    info = audio_info(path)
    try:
        data, sr = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(f"{path}: unreadable audio ({e})") from e
    if data.shape[0] == 0 and info.frames == 0:
        raise AudioError(f"{path}: zero-length audio")
    wave = data.T  # [channels, L]
    if mono:
        wave = wave.mean(axis=0)
    wave = resample(wave, sr, sample_rate)
    if frames != 0 and wave.shape[-1] > 0:
        check_finite(wave, path)
    return np.ascontiguousarray(wave, dtype=np.float32)


def atomic_path(path: Path) -> Path:
    """A temporary name in the same folder (so the final rename is atomic), same suffix."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    return Path(tmp)


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


def save_audio(
    path: str | os.PathLike,
    wave: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    subtype: str = "float32",
) -> Path:
    """Write WAV/FLAC/MP3 atomically (temp file + rename); never leaves a half-written file.

    `wave` is [L] or [channels, L]; `subtype` is int16, int24 or float32 (FLAC stores at most 24 bit).
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(f"{path}: unsupported output format; use one of {sorted(FORMATS)}")
    if subtype not in SUBTYPES:
        raise AudioError(f"{path}: unknown subtype {subtype!r}; use one of {sorted(SUBTYPES)}")
    wave = np.asarray(wave, dtype=np.float32)
    check_finite(wave, path)
    data = wave.T if wave.ndim == 2 else wave
    sf_subtype = SUBTYPES[subtype]
    if fmt == "FLAC" and subtype == "float32":
        sf_subtype = "PCM_24"
    elif fmt == "MP3":
        sf_subtype = "MPEG_LAYER_III"
    elif fmt == "OGG":
        sf_subtype = "VORBIS"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    try:
        sf.write(str(tmp), data, sample_rate, subtype=sf_subtype, format=fmt)
        if fmt == "WAV" and sf_subtype == "FLOAT":
            _clear_peak_timestamp(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
