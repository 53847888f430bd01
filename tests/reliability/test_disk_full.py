"""A full or read-only disk: one clear error naming the file, and no partial outputs (a tiny
tmpfs where mounting works, else a file-size limit in a forked child)."""

from __future__ import annotations

import errno

import pytest
import soundfile as sf
import torch

from msgld.reliability.corpus import music
from msgld.reliability.disk import can_mount, files_under, small_filesystem
from msgld.reliability.kill import run_command

needs_mount = pytest.mark.skipif(not can_mount(), reason="mounting a tmpfs needs root")


@pytest.fixture
def song(tmp_path):
    path = tmp_path / "song.wav"
    sf.write(path, music(3.0), 16000, subtype="FLOAT")
    return path


def separate(song, out, model, log, **kw):
    return run_command(["separate", str(song), "-o", str(out), "--model", str(model), "-q"], log, **kw)


@needs_mount
def test_separate_on_a_full_disk(song, debug_model, tmp_path):
    with small_filesystem(96) as disk:  # room for a stem or two of the four
        run = separate(song, disk / "out", debug_model, tmp_path / "log")
        assert run.rc == 1, run.log[-2000:]
        assert "msgld: error: " in run.log and "No space left on device" in run.log
        assert "Traceback" not in run.log
        assert "/out/song/" in run.log  # names the file
        assert files_under(disk) == []  # no stem, no temporary file


@needs_mount
def test_separate_to_a_read_only_disk(song, debug_model, tmp_path):
    with small_filesystem(1024, read_only=True) as disk:
        run = separate(song, disk / "out", debug_model, tmp_path / "log")
        assert run.rc == 1 and "Read-only file system" in run.log and "Traceback" not in run.log
        assert files_under(disk) == []


def test_separate_past_a_file_size_limit(song, debug_model, tmp_path):
    """Without mount rights: files may not grow past 20 kB (EFBIG, as a full disk gives ENOSPC)."""
    out = tmp_path / "out"
    run = separate(song, out, debug_model, tmp_path / "log", file_size_limit=20_000)
    assert run.rc == 1 and "msgld: error: " in run.log and "Traceback" not in run.log
    assert [f for f in files_under(out) if f.endswith(".wav")] == []


@needs_mount
def test_writers_on_a_full_disk_leave_nothing():
    from msgld.data.latent_cache import save_tensors
    from msgld.training.trainer import AtomicCheckpointIO
    from msgld.weights import save_model

    big = {"a": torch.zeros(100_000)}
    with small_filesystem(64) as disk:
        for name, write in [
            ("checkpoint", lambda: AtomicCheckpointIO().save_checkpoint(big, disk / "c" / "last.ckpt")),
            ("weights", lambda: save_model(torch.nn.Linear(300, 300), disk / "w" / "lin", "linear", {})),
            ("latents", lambda: save_tensors(big, disk / "t" / "Track1.safetensors")),
        ]:
            with pytest.raises(OSError) as info:
                write()
            assert info.value.errno == errno.ENOSPC and info.value.filename.startswith(str(disk)), name
            assert files_under(disk) == [], name
