"""Atomic outputs: write under a temporary name in the same folder, then rename.

A reader never sees a half-written file, and a failed or interrupted write leaves only the old
file (or none). Every writer of results uses `atomic_output` (or `atomic_write_text`)."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator


def atomic_path(path: Path) -> Path:
    """A temporary name in the same folder (so the final rename is atomic), same suffix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """`with atomic_output(p) as tmp:` write tmp; on success it becomes `p`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_error(path: str | os.PathLike, error: BaseException) -> OSError:
    """A writer's failure as an OSError naming the file and saying whether the disk is full
    (libsndfile says "System error", torch.save "unexpected pos", safetensors "os error 28")."""
    if isinstance(error, OSError):
        return error
    try:
        st = os.statvfs(Path(path).parent)
        full = st.f_bavail * st.f_frsize < 1 << 20
    except OSError:
        full = False
    if full or "No space left" in str(error) or "os error 28" in str(error):
        return OSError(errno.ENOSPC, "No space left on device (nothing was written under this name)", str(path))
    return OSError(errno.EIO, f"cannot be written ({type(error).__name__}: {error})", str(path))
