"""Full and read-only disks for tests: a tmpfs of a few kilobytes mounted for the duration
(root), else a file-size limit (RLIMIT_FSIZE) in a forked child, under which a write past the
limit fails as on a full disk (EFBIG instead of ENOSPC)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator


def can_mount() -> bool:
    return os.geteuid() == 0 and _run(["mount", "--version"])


def _run(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def small_filesystem(kilobytes: int = 64, read_only: bool = False, parent: str | None = None) -> Iterator[Path]:
    """A tmpfs of `kilobytes` (mounted read-only if asked), unmounted and removed afterwards.
    Raises OSError where mounting is not possible (callers fall back to `limit_file_size`)."""
    folder = Path(tempfile.mkdtemp(prefix="msgld-tinyfs-", dir=parent))
    options = f"size={kilobytes}k" + (",ro" if read_only else "")
    if not _run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]):
        folder.rmdir()
        raise OSError(f"cannot mount a tmpfs on {folder} (needs root and mount rights)")
    try:
        yield folder
    finally:
        _run(["umount", str(folder)]) or _run(["umount", "-l", str(folder)])
        try:
            folder.rmdir()
        except OSError:
            pass


def limit_file_size(nbytes: int) -> None:
    """In a child process: files can grow to `nbytes` only; further writes fail (EFBIG)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))


def files_under(folder: str | Path) -> list[str]:
    """Every file left under `folder` (hidden ones too), relative."""
    folder = Path(folder)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink())
