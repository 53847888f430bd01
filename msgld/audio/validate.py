"""Is this file usable audio? Refusals that name the file and the problem, and warnings for
files that are usable but odd.

Refused (`AudioError`): missing files, broken symbolic links, folders, unreadable (permission)
and empty files, text or other non-audio content, damaged headers, WAV data shorter than its
header declares (libsndfile would silently read what is there), compressed data that ends
early, NaN or Inf samples, and float samples far above full scale (integers stored as float).
Warned: contents that do not match the file name (FLAC named .wav), very short files, silence,
a DC offset, sample rates below the model's, more than two channels, peaks above full scale.

`msgld.audio.io.audio_info` and `load_audio` call the refusal checks; `file_warnings` is for the
commands that tell a user about an input; `check_file` streams a whole file (any length).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from msgld import SAMPLE_RATE
from msgld.audio.io import AudioError

FAR_ABOVE_FULL_SCALE = 16.0  # +24 dBFS: no mix gets there; integers stored as float do
SILENT_PEAK = 1e-4  # -80 dBFS
DC_OFFSET = 0.05
SHORT_SECONDS = 0.1
MIN_SECONDS = 0.1  # what `msgld separate` and `msgld arrange` take
BLOCK_FRAMES = 1 << 18

CONTAINERS = {".wav": ("WAV",), ".flac": ("FLAC",), ".ogg": ("OGG",), ".mp3": ("MP3",)}


def check_path(path: str | os.PathLike) -> None:
    """Refuse what is not a readable, non-empty regular file, saying why."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise AudioError(f"{path}: broken symbolic link (it points to {os.readlink(path)}, which does not exist)")
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if not path.is_file():
        raise AudioError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError:
        raise AudioError(f"{path}: permission denied (the file cannot be read; check its mode and owner)") from None
    except OSError as e:
        raise AudioError(f"{path}: cannot be read ({e.strerror})") from None
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")


def container(path: str | os.PathLike) -> str | None:
    """What the bytes say the file is: WAV, RF64, FLAC, OGG, MP3, AIFF, or None."""
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] in (b"RF64", b"BW64"):
        return "RF64"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "OGG"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    if head[:4] == b"FORM":
        return "AIFF"
    return None


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(512)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


def open_error(path: str | os.PathLike, error: Exception) -> AudioError:
    """A clear AudioError for a file libsndfile cannot open."""
    path = Path(path)
    reason = re.sub(r"^Error opening .*?: ", "", str(error)).rstrip(".")
    kind = container(path)
    if kind is None:
        what = "it holds text" if _looks_like_text(path) else "format not recognised"
        return AudioError(f"{path}: unreadable audio: not an audio file ({what})")
    return AudioError(f"{path}: unreadable audio: damaged or truncated {kind} file ({reason})")


def read_error(path: str | os.PathLike, error: Exception) -> AudioError:
    """A clear AudioError for a file whose header opened but whose data cannot be decoded."""
    reason = re.sub(r"^Error : ", "", str(error)).rstrip(".")
    return AudioError(f"{path}: unreadable audio: damaged or truncated data ({reason})")


def wav_data_sizes(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """A RIFF/WAVE file's (data bytes its header declares, data bytes present, block align);
    None when the layout is not a plain RIFF WAVE or the size is the 'unknown' marker."""
    size = os.path.getsize(path)
    align = 0
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            ident, length = chunk[:4], int.from_bytes(chunk[4:], "little")
            if ident == b"fmt ":
                fmt = f.read(min(length, 16))
                align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else 0
            if ident == b"data":
                if length in (0, 0xFFFFFFFF) or align == 0:
                    return None  # streamed WAVs leave the size open
                return length, size - pos - 8, align
            pos += 8 + length + (length & 1)
    return None


def check_header(path: str | os.PathLike, info) -> None:
    """Refuse a WAV whose data chunk is shorter than its header declares."""
    sizes = wav_data_sizes(path)
    if sizes is None:
        return
    declared, present, align = sizes
    if present + 1 < declared:  # one pad byte may be missing
        rate = info.samplerate
        want, have = declared // align, present // align
        raise AudioError(f"{path}: truncated: the header declares {want} frames ({want / rate:.3f} s) but the file "
                         f"holds {have} ({have / rate:.3f} s); the end of the file is missing")


def check_length(path: str | os.PathLike, frames: int, declared: int) -> None:
    """Refuse a file whose data decoded to fewer frames than its header declares."""
    if declared and frames < 0.99 * declared - 2304:  # MP3 headers count up to 2 frames of padding
        raise AudioError(f"{path}: truncated: decoded {frames} of the {declared} frames its header declares; "
                         "the end of the file is missing")


def check_samples(data: np.ndarray, path: str | os.PathLike, offset: int = 0, rate: int | None = None) -> None:
    """Refuse NaN/Inf and far-above-full-scale samples in `data` [frames, channels] read from
    frame `offset` of the file."""
    finite = np.isfinite(data)
    if not finite.all():
        bad = int((~finite).sum())
        first = offset + int(np.argmin(finite.all(axis=-1) if data.ndim == 2 else finite))
        at = f", the first at {first / rate:.3f} s" if rate else f", the first at frame {first}"
        raise AudioError(f"{path}: contains NaN or Inf samples ({bad}{at})")
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak >= FAR_ABOVE_FULL_SCALE:
        raise AudioError(f"{path}: peak {peak:.4g} ({20 * math.log10(peak):+.1f} dBFS) is far above full scale "
                         "(1.0); probably integer values stored as float: scale the file into [-1, 1]")


def check_duration(path: str | os.PathLike, frames: int, rate: int, minimum: float = MIN_SECONDS) -> None:
    """Refuse an input too short for the model's commands (their STFTs need a few hundred samples)."""
    if frames < minimum * rate:
        samples = f"{frames} sample{'s' if frames != 1 else ''}"
        raise AudioError(f"{path}: too short: {samples} ({1000 * frames / rate:.3g} ms); "
                         f"separation and arrangement take files of at least {minimum:g} s")


def file_warnings(path: str | os.PathLike, wave: np.ndarray, rate: int) -> list[str]:
    """What is odd but usable about an input: wave [channels, L] (or [L]) as read at `rate`."""
    wave = np.atleast_2d(np.asarray(wave))
    frames = wave.shape[-1]
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    dc = float(np.abs(wave.mean(axis=-1)).max()) if frames else 0.0
    return stats_warnings(path, frames, rate, wave.shape[0], peak, dc)


def stats_warnings(path: str | os.PathLike, frames: int, rate: int, channels: int, peak: float,
                   dc: float) -> list[str]:
    """`file_warnings` from a file's statistics (the largest |mean| of a channel as `dc`)."""
    path = Path(path)
    out = []
    kind = container(path)
    expected = CONTAINERS.get(path.suffix.lower())
    if kind and expected and kind not in expected:
        out.append(f"the contents are {kind}, not {expected[0]} as the name says (read as {kind})")
    if frames / rate < SHORT_SECONDS:
        out.append(f"very short: {frames} sample{'s' if frames != 1 else ''} ({1000 * frames / rate:.3g} ms)")
    if peak == 0.0:
        out.append("silent: every sample is 0")
    elif peak < SILENT_PEAK:
        out.append(f"nearly silent: peak {peak:.2g} ({20 * math.log10(peak):.0f} dBFS)")
    if dc > DC_OFFSET and frames / rate >= SHORT_SECONDS:
        out.append(f"DC offset: the samples average {dc:.3g}")
    if 1.0 < peak < FAR_ABOVE_FULL_SCALE:
        out.append(f"peaks at {peak:.3g}, above full scale")
    if rate < SAMPLE_RATE:
        out.append(f"sample rate {rate} Hz: nothing above {rate // 2} Hz (the model hears up to {SAMPLE_RATE // 2} Hz)")
    if channels > 2:
        out.append(f"{channels} channels")
    return out


def check_file(path: str | os.PathLike) -> list[str]:
    """Stream the whole file in blocks (bounded memory, any length): refusals raise AudioError;
    returns the warnings of `file_warnings`."""
    from msgld.audio.io import audio_info

    path = Path(path)
    info = audio_info(path)
    frames, peak, total = 0, 0.0, np.zeros(info.channels)
    try:
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
                check_samples(block, path, offset=frames, rate=info.samplerate)
                peak = max(peak, float(np.abs(block).max()) if block.size else 0.0)
                total += block.sum(axis=0, dtype=np.float64)
                frames += block.shape[0]
    except AudioError:
        raise
    except Exception as e:  # libsndfile raises several types mid-stream
        raise read_error(path, e) from e
    check_length(path, frames, info.frames)
    dc = float(np.abs(total / frames).max()) if frames else 0.0
    return stats_warnings(path, frames, info.samplerate, info.channels, peak, dc)
