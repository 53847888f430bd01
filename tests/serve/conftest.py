"""The debug model, an app factory (the framework's test client), a live uvicorn server on a
free loopback port, audio and a job-poller for the serve tests."""

from __future__ import annotations

import io
import socket
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from msgld.inference.bundle import load_bundle
from msgld.inference.debug_model import make_debug_model

pytest.importorskip("fastapi", reason="msgld serve's packages are not installed: pip install -e '.[serve]'")

from fastapi.testclient import TestClient  # noqa: E402

from msgld.serve.app import create_app  # noqa: E402
from msgld.serve.config import ServeConfig  # noqa: E402

STEMS = ["bass", "drums", "guitar", "piano"]


@pytest.fixture(scope="session")
def debug_model(tmp_path_factory):
    return make_debug_model(tmp_path_factory.mktemp("debug-model"))


@pytest.fixture(scope="session")
def bundle(debug_model):
    return load_bundle(debug_model)


def song(seconds: float = 2.0, sr: int = 16000, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A tone plus noise: [L] or [L, channels] as soundfile writes it."""
    t = np.arange(int(seconds * sr)) / sr
    wave = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(seed).standard_normal(t.size)
    wave = wave.astype(np.float32)
    return wave if channels == 1 else np.stack([wave * (1 - 0.3 * c) for c in range(channels)], 1)


def wav_bytes(seconds: float = 2.0, sr: int = 16000, channels: int = 1, seed: int = 0, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, song(seconds, sr, channels, seed), sr, format=fmt)
    return buf.getvalue()


def wait_for(client, job: dict, states=("done", "failed"), timeout: float = 60.0) -> dict:
    """Poll a job until its state is one of `states`; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(job["url"]).json()
        if view.get("state") in states:
            return view
        assert time.monotonic() < deadline, f"job never reached {states}: {view}"
        time.sleep(0.02)


@pytest.fixture
def make_client(bundle, tmp_path):
    """make_client(**ServeConfig fields, clock=...) -> a started TestClient (closed after the test)."""
    opened = []

    def make(clock=time.time, **config) -> TestClient:
        app = create_app(bundle, ServeConfig(**config), clock=clock, root=tmp_path / f"root{len(opened)}")
        client = TestClient(app)
        client.__enter__()  # runs the lifespan: the job workers start
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


class LiveServer:
    """uvicorn in a thread on 127.0.0.1 (a free port); `url`, and `app` for its job queue."""

    def __init__(self, app):
        import uvicorn

        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the live server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


@pytest.fixture
def live_server(bundle, tmp_path):
    """live_server(**ServeConfig fields) -> a started LiveServer (stopped after the test)."""
    started = []

    def start(**config) -> LiveServer:
        app = create_app(bundle, ServeConfig(**config), root=tmp_path / f"live{len(started)}")
        server = LiveServer(app).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)
