"""SIGKILL fault injection: run an `msgld` command in a child process and kill it (its whole
process group, with signal 9) at a chosen moment, as a power cut or the OOM killer would.

Two ways to start the child: `fork` (a copy of this process calls `msgld.cli.main(argv)`;
torch is already imported, so the whole time to the kill is the command's own work) and `exec`
(`python -m msgld ...`, a fresh interpreter, as a user would run it). Moments are drawn from a
seeded generator, so a battery of trials is repeatable.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

NOBODY = 65534


@dataclass
class Run:
    rc: int | None  # None: killed before it finished
    seconds: float
    log: str

    @property
    def killed(self) -> bool:
        return self.rc is None


def kill_moments(seed: int, trials: int, duration: float) -> list[float]:
    """`trials` moments, uniform over (0, duration) seconds of a run, from `seed`."""
    return [float(t) for t in np.random.default_rng(seed).uniform(0.0, duration, trials)]


_warm = False


def warm() -> None:
    """Import every command's modules here, once, so forked children start working at once."""
    global _warm
    if _warm:
        return
    _warm = True
    from msgld.cli import build_parser

    build_parser()
    try:  # what training imports on first use
        import tensorboard  # noqa: F401
        from lightning.pytorch.loggers import TensorBoardLogger  # noqa: F401
    except ImportError:
        pass
    from msgld.training.run import task_class

    for kind in ("vae", "vocoder", "ldm"):
        task_class(kind)
    # what the commands import lazily (a child that drops to another user may not read them)
    import multiprocessing.synchronize  # noqa: F401 (joblib, through librosa)

    from msgld.audio.mel import MelFrontEnd
    from msgld.eval.methods import available

    MelFrontEnd()
    for kind in ("separation", "generation", "arrangement"):
        available(kind)


def _child(argv: list[str], log: Path, env: dict[str, str], user: int | None, file_size_limit: int | None) -> None:
    """In the forked child: never returns."""
    rc = 70
    try:
        os.setpgid(0, 0)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        for handler in logging.root.handlers[:]:  # a test runner's capture handlers
            logging.root.removeHandler(handler)
        os.environ.update(env)
        if file_size_limit is not None:
            from msgld.reliability.disk import limit_file_size

            limit_file_size(file_size_limit)
        if user is not None:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
        from msgld.cli import main

        rc = main(argv)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(int(rc or 0))


def run_command(argv: list[str], log: str | Path, kill_after: float | None = None, mode: str = "fork",
               env: dict[str, str] | None = None, user: int | None = None, timeout: float = 900.0,
               kill_when: Callable[[], bool] | None = None, file_size_limit: int | None = None) -> Run:
    """Run `msgld argv`. With `kill_after`, SIGKILL its process group that many seconds after the
    start (if it is still running); with `kill_when`, as soon as that returns True (polled every
    few milliseconds). Fork mode only: `user`, a uid the child drops to; `file_size_limit`, the
    bytes a file may grow to in the child (a stand-in for a full disk)."""
    log = Path(log)
    env = {"OMP_NUM_THREADS": "1", **(env or {})}
    if mode == "fork":
        warm()
        sys.stdout.flush()
        sys.stderr.flush()
    elif user is not None or file_size_limit is not None:
        raise ValueError("user and file_size_limit: fork mode only")
    started = time.monotonic()
    if mode == "fork":
        pid = os.fork()
        if pid == 0:
            _child(argv, log, env, user, file_size_limit)
        try:
            os.setpgid(pid, pid)  # also here, so that a kill right away finds the group
        except (PermissionError, ProcessLookupError):
            pass  # the child did it first, or is gone
    elif mode == "exec":
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "msgld", *argv], stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, **env}, start_new_session=True)
        pid = proc.pid
    else:
        raise ValueError(f"mode must be fork or exec, got {mode!r}")
    deadline = started + (timeout if kill_after is None else min(timeout, kill_after))
    while True:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
            break
        if time.monotonic() >= deadline or (kill_when is not None and kill_when()):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                os.kill(pid, signal.SIGKILL)
            _, raw = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(raw)
            status = None if code == -signal.SIGKILL else code
            if status is None and kill_after is None and kill_when is None:
                raise TimeoutError(f"msgld {' '.join(argv)}: still running after {timeout:.0f} s (killed)")
            break
        time.sleep(0.005)
    if mode == "exec":
        proc.returncode = -9 if status is None else status  # reaped here, not by Popen
    return Run(status, time.monotonic() - started, log.read_text(errors="replace") if log.exists() else "")


def tree_digest(root: str | Path, hidden: bool = False) -> dict[str, str]:
    """sha256 of every file under `root` by relative path (hidden names skipped unless `hidden`)."""
    root = Path(root)
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not hidden and any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def hidden_leftovers(root: str | Path) -> list[str]:
    """Temporary names a killed writer left (hidden files and folders)."""
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))
