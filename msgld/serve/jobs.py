"""Jobs: one request's work, its state and progress, run by worker threads from a bounded queue.

States: queued -> running -> done | failed. Deleting a job removes it at once; a running one
stops at its next progress callback. A job's files are the names its task registered, each
mapped to a path inside the job's own folder: the API serves only those, so no name from a
client ever becomes a path. Every job folder lives in one private folder (mode 0700) under a
random id; finished jobs expire `ttl_s` after they ended, their folder deleted with them.
"""

from __future__ import annotations

import logging
import queue
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class QueueFull(RuntimeError):
    """More jobs are waiting than the queue holds."""


class JobCancelled(Exception):
    """Raised inside a running task (from its progress callback) once its job was deleted."""


@dataclass
class Job:
    kind: str
    folder: Path  # the job's own folder, root / id
    label: str = "msgld"  # a safe prefix for download names (never a path)
    id: str = ""
    params: dict = field(default_factory=dict)  # what the task needs; dropped once it ran
    state: str = QUEUED
    done: int = 0
    total: int = 0
    unit: str = "windows"
    error: str | None = None
    files: dict[str, Path] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # shown in the job's view (stems, settings)
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def progress(self, *args) -> None:
        """The pipelines' progress callback: `(done, total)`, or one dict with `step`/`done`
        and `total` (k-diffusion style). Stops the task once the job was deleted."""
        if self.cancel.is_set():
            raise JobCancelled(self.id)
        if len(args) == 1 and isinstance(args[0], dict):
            done, total = args[0].get("step", args[0].get("done", 0)), args[0].get("total", 0)
        else:
            done, total = args[0], args[1]
        self.done, self.total = int(done), int(total)

    def add_file(self, name: str, path: Path) -> None:
        """Register a finished result file (written atomically before this call)."""
        self.files[name] = path

    def view(self, now: float, ttl_s: float) -> dict:
        fraction = 1.0 if self.state == DONE else (self.done / self.total if self.total else 0.0)
        return {
            "id": self.id, "kind": self.kind, "state": self.state, "error": self.error,
            "progress": {"done": self.done, "total": self.total, "unit": self.unit, "fraction": round(fraction, 4)},
            "files": [{"name": n, "bytes": p.stat().st_size} for n, p in self.files.items() if p.exists()],
            "created": self.created, "started": self.started, "finished": self.finished,
            "expires_in_s": None if self.finished is None else round(max(0.0, self.finished + ttl_s - now), 1),
            **self.info,
        }


class JobQueue:
    """Jobs by id, waiting jobs bounded by `capacity`, `workers` threads running `runner(job)`.

    A task's ValueError (a bad file or setting) fails its job with the message; any other
    exception fails it with "internal error: ..." and is logged; the workers never die."""

    def __init__(self, runner: Callable[[Job], None], capacity: int = 16, workers: int = 1, ttl_s: float = 3600.0,
                 clock: Callable[[], float] = time.time, root: Path | None = None):
        self.runner, self.capacity, self.ttl_s, self.clock = runner, capacity, ttl_s, clock
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="msgld-serve-"))  # mode 0700
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, name=f"msgld-job-{i}", daemon=True) for i in range(workers)]
        self._threads.append(threading.Thread(target=self._sweeper, name="msgld-job-expiry", daemon=True))

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (running jobs stop at their next progress call), delete every folder."""
        self._stop.set()
        with self._lock:
            jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            job.cancel.set()
        for _ in self._threads:
            self._pending.put(None)
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- jobs ---------------------------------------------------------------------------------

    def new_job(self, kind: str, label: str = "msgld", unit: str = "windows") -> Job:
        """A job with its own empty folder (not queued yet: fill it, then `submit` or `discard`)."""
        self.check_capacity()
        job_id = secrets.token_hex(16)
        job = Job(kind=kind, folder=self.root / job_id, id=job_id, label=label, unit=unit, created=self.clock())
        job.folder.mkdir(mode=0o700)
        return job

    def waiting(self) -> int:
        with self._lock:
            return sum(j.state == QUEUED for j in self._jobs.values())

    def running(self) -> int:
        with self._lock:
            return sum(j.state == RUNNING for j in self._jobs.values())

    def check_capacity(self) -> None:
        if self.waiting() >= self.capacity:
            raise QueueFull(f"the server is busy: {self.capacity} jobs are already waiting; try again in a minute")

    def submit(self, job: Job, params: dict) -> Job:
        with self._lock:
            if sum(j.state == QUEUED for j in self._jobs.values()) >= self.capacity:
                self._remove_folder(job)
                raise QueueFull(f"the server is busy: {self.capacity} jobs are already waiting; try again in a minute")
            job.params = params
            self._jobs[job.id] = job
        self._pending.put(job)
        return job

    def discard(self, job: Job) -> None:
        """Drop a job that was never submitted (e.g. its upload was refused)."""
        self._remove_folder(job)

    def get(self, job_id: str) -> Job | None:
        self.sweep()
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        """How many waiting jobs are ahead of this one (None unless it waits)."""
        if job.state != QUEUED:
            return None
        with self._lock:
            return sum(j.state == QUEUED and j.created < job.created for j in self._jobs.values())

    def delete(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            return False
        job.cancel.set()
        if job.state != RUNNING:  # a running job's worker removes its folder when it stops
            self._remove_folder(job)
        return True

    def sweep(self) -> list[str]:
        """Delete finished jobs older than the expiry time; returns their ids."""
        now = self.clock()
        with self._lock:
            old = [j for j in self._jobs.values() if j.finished is not None and now - j.finished >= self.ttl_s]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            self._remove_folder(job)
        return [j.id for j in old]

    # -- workers ------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            job = self._pending.get()
            if job is None:
                return
            if job.cancel.is_set():
                continue
            job.state, job.started = RUNNING, self.clock()
            try:
                self.runner(job)
                job.state = DONE
            except JobCancelled:
                pass
            except ValueError as e:  # a bad file or setting: the message is for the user
                job.state, job.error = FAILED, str(e)
            except Exception as e:  # noqa: BLE001 -- a worker must outlive any task
                log.exception("job %s (%s) failed", job.id, job.kind)
                job.state, job.error = FAILED, f"internal error: {type(e).__name__}: {e}"
            finally:
                job.params = {}
                job.finished = self.clock()
            if job.cancel.is_set():
                self._remove_folder(job)

    def _sweeper(self) -> None:
        interval = max(0.5, min(30.0, self.ttl_s / 4))
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 -- never stop expiring
                log.exception("job expiry failed")

    def _remove_folder(self, job: Job) -> None:
        if job.folder.parent == self.root:
            shutil.rmtree(job.folder, ignore_errors=True)
