"""`msgld serve` as a user starts it: a real process, a curl-style upload, Ctrl-C."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import numpy as np
import soundfile as sf

from msgld.audio.io import load_audio
from tests.serve.conftest import STEMS, wav_bytes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def post_file(url: str, field: str, name: str, data: bytes, fields: dict) -> dict:
    """What `curl -F file=@song.wav -F steps=2 URL` sends."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                 f"Content-Type: audio/wav\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 202
        return json.loads(r.read())


def test_msgld_serve_round_trip_then_ctrl_c_leaves_nothing(debug_model, tmp_path):
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "msgld", "serve", "--model", str(debug_model), "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = json.loads(get(base + "/api/health", timeout=1))
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "msgld serve did not answer within 60 s"
                time.sleep(0.2)
        assert health["status"] == "ok" and health["stems"] == STEMS
        song = wav_bytes(2.5, sr=48000, channels=2)
        job = post_file(base + "/api/separate", "file", "song.wav", song, {"steps": "2"})
        while job["state"] in ("queued", "running"):
            time.sleep(0.1)
            job = json.loads(get(base + job["url"]))
        assert job["state"] == "done", job["error"]
        stems = [sf.read(io.BytesIO(get(f"{base}{job['url']}/files/{s}.wav")))[0] for s in STEMS]
        (tmp_path / "song.wav").write_bytes(song)
        assert np.abs(np.sum(stems, 0) - load_audio(tmp_path / "song.wav")).max() < 1e-4
        assert "<title>msgld" in get(base + "/").decode()
        served = [p for p in tmp_path.iterdir() if p.name.startswith("msgld-serve-")]
        assert len(served) == 1 and served[0].stat().st_mode & 0o777 == 0o700
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("msgld-serve-")], "the job folders were left behind"


def test_binding_beyond_this_machine_is_said_loudly(caplog):
    from msgld.cli.serve import warn_if_public

    with caplog.at_level(logging.WARNING):
        warn_if_public("127.0.0.1")
        warn_if_public("localhost")
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        warn_if_public("0.0.0.0")
    assert "NOT only on this machine" in caplog.text and "There is no login" in caplog.text


def test_bad_flags_are_one_clear_line(capsys):
    from msgld.cli import main

    for argv, words in ((["serve", "--port", "70000"], "--port must be in 0..65535"),
                        (["serve", "--max-upload-mb", "0"], "max upload size must be positive"),
                        (["serve", "--workers", "0"], "workers must be at least 1")):
        assert main(argv) == 2
        assert words in capsys.readouterr().err
