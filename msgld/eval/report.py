"""Results files: one JSON (the record) and one Markdown table (FILE.md next to FILE.json),
both written atomically, with what a number needs to be reproduced."""

from __future__ import annotations

import datetime as _dt
import json
import math
import subprocess
from pathlib import Path

import msgld
from msgld.audio.io import atomic_write_text


def git_state() -> dict:
    """{"git_commit": sha or None, "git_dirty": bool or None} of the code that runs."""
    cwd = Path(msgld.__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return {"git_commit": None, "git_dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=10)
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return {"git_commit": sha.stdout.strip(), "git_dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}


def run_record(**settings) -> dict:
    """The fields every results file carries (data, split, clips, method, model, config, seed,
    embedding, ...) plus the code version and the time."""
    return {
        **settings,
        **git_state(),
        "msgld_version": msgld.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _clean(value):
    """JSON has no NaN/inf: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown_path(json_path: str | Path) -> Path:
    return Path(json_path).with_suffix(".md")


def write_results(path: str | Path, result: dict, markdown: str) -> tuple[Path, Path]:
    """Write FILE.json and FILE.md atomically; returns both paths."""
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"{path}: the results file must end in .json")
    json_path = atomic_write_text(path, json.dumps(_clean(result), indent=2) + "\n")
    md_path = atomic_write_text(markdown_path(path), markdown)
    return json_path, md_path
