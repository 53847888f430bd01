"""The bad-input corpus and the debug model, made once per session; a way to run a check as
another user (root reads chmod 000 files)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from msgld.inference.debug_model import make_debug_model
from msgld.reliability.corpus import make_corpus

ROOT = os.geteuid() == 0


@pytest.fixture(scope="session")
def debug_model(tmp_path_factory) -> Path:
    return make_debug_model(tmp_path_factory.mktemp("debug-model"))


@pytest.fixture(scope="session")
def shared_dir():
    """A folder other users can enter (pytest's own are private), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="msgld-reliability-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def corpus(shared_dir) -> tuple[Path, list]:
    """Every case of the corpus but the 1-hour file: (folder, cases)."""
    folder = shared_dir / "corpus"
    cases = make_corpus(folder, long=False)
    folder.chmod(0o755)
    return folder, cases
