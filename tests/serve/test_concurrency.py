"""Many uploads at once against a live server: all answered, garbage refused, good ones done."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.serve.conftest import wav_bytes
from tests.serve.test_cli import post_file


def call(url: str, data: bytes | None = None) -> tuple[int, dict]:
    try:
        if data is None:
            with urllib.request.urlopen(url, timeout=30) as r:
                return r.status, json.loads(r.read())
        return 202, post_file(url, "file", "x.wav", data, {"steps": "1"})
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_twenty_simultaneous_uploads_some_garbage(live_server):
    server = live_server(queue_size=32)
    good = wav_bytes(1.0, sr=22050)
    bodies = [b"\x00garbage" * 100 if i % 3 == 0 else good for i in range(20)]  # 7 garbage, 13 good
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda b: call(server.url + "/api/separate", b), bodies))
    statuses = [status for status, _ in answers]
    assert statuses == [422 if i % 3 == 0 else 202 for i in range(20)], answers
    assert all("x.wav: unreadable audio" in body["detail"] for status, body in answers if status == 422)
    jobs = [body for status, body in answers if status == 202]
    deadline = time.monotonic() + 90
    while True:
        views = [call(server.url + job["url"])[1] for job in jobs]
        if all(v["state"] in ("done", "failed") for v in views):
            break
        assert time.monotonic() < deadline, [v["state"] for v in views]
        time.sleep(0.2)
    assert [v["state"] for v in views] == ["done"] * 13
    assert call(server.url + "/api/health")[1]["jobs"]["waiting"] == 0
