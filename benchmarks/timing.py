"""Timing helper shared by the benchmark modules."""

from __future__ import annotations

import time
from typing import Callable


def best_of(fn: Callable[[], object], repeat: int = 3, warmup: int = 1,
            clock: Callable[[], float] = time.perf_counter) -> float:
    """The fastest of `repeat` timed calls (seconds), after `warmup` untimed ones. `clock`:
    wall time by default; `time.process_time` counts this process's CPU time, which other jobs
    on the machine change far less than the wall time."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def row(name: str, seconds: float, audio_seconds: float | None = None, **extra) -> dict:
    """A result row; `x_realtime` = seconds of audio processed per second of wall time."""
    out = {"name": name, "seconds": round(seconds, 5)}
    if audio_seconds is not None:
        out["audio_s"] = round(audio_seconds, 2)
        out["x_realtime"] = round(audio_seconds / seconds, 1) if seconds > 0 else None
    out.update(extra)
    return out


def report(rows: list[dict], out: str | None = None) -> None:
    """Print rows as a `|`-separated table (keys of the first row) and write them to `out` as JSON."""
    import json

    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    if out:
        with open(out, "w") as f:
            json.dump(rows, f, indent=2)
