"""The HTTP API on the debug model, through the framework's test client."""

from __future__ import annotations

import io
import json
import threading
import zipfile

import numpy as np
import pytest
import soundfile as sf

from msgld.audio.io import load_audio
from tests.serve.conftest import STEMS, wait_for, wav_bytes

FAST = {"steps": "2"}


def post_song(client, data=FAST, name="song.wav", body=None, **kw):
    return client.post("/api/separate", files={"file": (name, wav_bytes(**kw) if body is None else body)}, data=data)


def job_folders(client) -> list[str]:
    return sorted(p.name for p in client.app.state.jobs.root.iterdir())


def test_separate_round_trip_stems_sum_to_the_input(client, tmp_path):
    data = wav_bytes(2.0, sr=44100, channels=2)
    (tmp_path / "in.wav").write_bytes(data)
    r = client.post("/api/separate", files={"file": ("song.wav", data)}, data={"steps": "2", "seed": "3"})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["url"]
    job = wait_for(client, r.json())
    assert job["state"] == "done", job["error"]
    assert job["progress"]["done"] == job["progress"]["total"] > 0 and job["progress"]["unit"] == "windows"
    names = [f["name"] for f in job["files"]]
    assert names == [f"{s}.wav" for s in STEMS] + ["run.json", "stems.zip"]
    stems = []
    for stem in STEMS:
        got = client.get(f"{job['url']}/files/{stem}.wav")
        assert got.status_code == 200 and got.headers["content-type"] == "audio/wav"
        assert 'filename="song-' in got.headers["content-disposition"]
        wave, sr = sf.read(io.BytesIO(got.content), dtype="float32")
        assert sr == 16000
        stems.append(wave)
    mixture = load_audio(tmp_path / "in.wav")  # what the model separated: 16 kHz mono
    assert np.abs(np.sum(stems, axis=0) - mixture).max() < 1e-4
    record = client.get(f"{job['url']}/files/run.json").json()
    assert record["settings"]["steps"] == 2 and record["settings"]["seed"] == 3 and record["input"] == "song.wav"
    with zipfile.ZipFile(io.BytesIO(client.get(f"{job['url']}/files/stems.zip").content)) as z:
        assert sorted(z.namelist()) == sorted([f"{s}.wav" for s in STEMS] + ["run.json"])
        assert z.read("bass.wav") == client.get(f"{job['url']}/files/bass.wav").content


def test_generate_writes_every_stem_and_their_mix(client):
    r = client.post("/api/generate", data={"duration": "1.5", "seed": "4", "steps": "2"})
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json())
    assert job["state"] == "done", job["error"]
    assert job["stems"] == STEMS + ["mix"] and job["seed"] == 4
    waves = {s: sf.read(io.BytesIO(client.get(f"{job['url']}/files/{s}.wav").content))[0] for s in STEMS + ["mix"]}
    assert all(w.shape == (24000,) for w in waves.values())
    assert np.allclose(sum(waves[s] for s in STEMS), waves["mix"], atol=1e-5)


def test_generate_takes_urlencoded_fields_too(client):
    r = client.post("/api/generate", content=b"duration=1&steps=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 202, r.text
    assert wait_for(client, r.json())["state"] == "done"


def test_arrange_keeps_the_given_stems_and_writes_the_chosen_ones(client):
    files = {"drums": ("d.wav", wav_bytes(1.5, seed=1)), "bass": ("b.flac", wav_bytes(1.5, seed=2, fmt="FLAC"))}
    drums, bass = (sf.read(io.BytesIO(files[s][1]), dtype="float32")[0] for s in ("drums", "bass"))
    r = client.post("/api/arrange", files=files, data={"generate": "guitar", "steps": "2"})
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json())
    assert job["state"] == "done", job["error"]
    assert job["given"] == {"drums": "d.wav", "bass": "b.flac"} and job["generate"] == ["guitar"]
    got = {s: sf.read(io.BytesIO(client.get(f"{job['url']}/files/{s}.wav").content))[0] for s in STEMS}
    assert np.abs(got["drums"] - drums).max() < 1e-6 and np.abs(got["bass"] - bass).max() < 1e-6  # as uploaded
    assert np.abs(got["guitar"]).max() > 0 and np.abs(got["piano"]).max() == 0  # neither given nor asked: silent


@pytest.mark.parametrize("files, data, status, words", [
    ({}, {}, 400, "give at least one stem"),
    ({"vocals": ("v.wav", None)}, {}, 400, "unknown stem field(s) ['vocals']"),
    ({"drums": ("d.wav", None)}, {"generate": "drums"}, 422, "cannot generate ['drums']"),
    ({s: (f"{s}.wav", None) for s in STEMS}, {}, 422, "cannot generate anything"),
    ({"drums": ("d.wav", None)}, {"given_guidance": "-1"}, 422, "given_guidance"),
])
def test_arrange_refuses_bad_stem_choices(client, files, data, status, words):
    files = {k: (n, wav_bytes(1.0)) for k, (n, _) in files.items()} or {"x": ("", b"")}  # empty file input
    r = client.post("/api/arrange", files=files, data=data)
    assert r.status_code == status and words in r.json()["detail"], r.text


def gate_jobs(monkeypatch):
    """Jobs wait at a gate (reporting progress 0/1, so deleting one stops it) until released."""
    import msgld.serve.app as app_module
    from msgld.serve.tasks import run_job

    gate, entered = threading.Event(), threading.Event()

    def gated(pipelines, job):
        job.progress(0, 1)
        entered.set()
        while not gate.wait(0.01):
            job.progress(0, 1)
        run_job(pipelines, job)

    monkeypatch.setattr(app_module, "run_job", gated)
    return gate, entered


def test_job_states_queued_running_done(make_client, monkeypatch):
    gate, entered = gate_jobs(monkeypatch)
    client = make_client()
    first, second = post_song(client).json(), post_song(client).json()
    assert entered.wait(10)
    assert wait_for(client, first, ("running",))["progress"] == {"done": 0, "total": 1, "unit": "windows", "fraction": 0.0}
    queued = client.get(second["url"]).json()
    assert queued["state"] == "queued" and queued["queue_position"] == 0 and queued["files"] == []
    assert client.get("/api/health").json()["jobs"] == {"waiting": 1, "running": 1, "capacity": 16, "workers": 1}
    gate.set()
    for job in (first, second):
        done = wait_for(client, job)
        assert done["state"] == "done" and done["progress"]["fraction"] == 1.0 and done["expires_in_s"] > 3500


def test_a_failing_task_fails_its_job_in_words_and_the_worker_goes_on(make_client, monkeypatch):
    import msgld.serve.app as app_module
    from msgld.serve.tasks import run_job

    def flaky(pipelines, job):
        if job.params["settings"]["seed"] == 1:
            raise ValueError("this setting cannot work here")
        if job.params["settings"]["seed"] == 2:
            raise RuntimeError("disk on fire")
        run_job(pipelines, job)

    monkeypatch.setattr(app_module, "run_job", flaky)
    client = make_client()
    jobs = [post_song(client, data={"steps": "1", "seed": str(seed)}).json() for seed in (1, 2, 0)]
    views = [wait_for(client, j) for j in jobs]
    assert [v["state"] for v in views] == ["failed", "failed", "done"]
    assert views[0]["error"] == "this setting cannot work here"
    assert views[1]["error"] == "internal error: RuntimeError: disk on fire"


def test_delete_removes_a_finished_job_and_its_files(client):
    job = wait_for(client, post_song(client).json())
    folder = client.app.state.jobs.root / job["id"]
    assert folder.is_dir()
    assert client.delete(job["url"]).json() == {"id": job["id"], "deleted": True}
    assert not folder.exists()
    for url in (job["url"], f"{job['url']}/files/bass.wav"):
        r = client.get(url)
        assert r.status_code == 404 and "no such job" in r.json()["detail"]
    assert client.delete(job["url"]).status_code == 404


def test_delete_stops_a_running_job(make_client, monkeypatch):
    gate, entered = gate_jobs(monkeypatch)
    client = make_client()
    job = post_song(client).json()
    assert entered.wait(10)
    assert client.delete(job["url"]).status_code == 200
    jobs = client.app.state.jobs
    for _ in range(500):  # the worker stops at its next progress call and removes the folder
        if not (jobs.root / job["id"]).exists() and jobs.running() == 0:
            break
        threading.Event().wait(0.01)
    assert not (jobs.root / job["id"]).exists() and jobs.running() == 0
    gate.set()
    assert wait_for(client, post_song(client).json())["state"] == "done"  # the worker still works


def test_oversize_upload_is_413_by_content_length_and_nothing_is_stored(make_client):
    client = make_client(max_upload_mb=0.05)  # 52 kB
    r = post_song(client, seconds=3.0)  # 96 kB of WAV
    assert r.status_code == 413 and "limit of 0.05 MB" in r.json()["detail"]
    assert job_folders(client) == []
    assert client.get("/api/health").json()["status"] == "ok"
    assert post_song(client, seconds=1.0).status_code == 202  # 32 kB is fine


def test_oversize_upload_is_413_while_streaming_without_a_length(make_client):
    client = make_client(max_upload_mb=0.05)
    body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n" + wav_bytes(3.0)

    def chunks():  # no Content-Length: the body is sent chunked
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    r = client.post("/api/separate", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    assert job_folders(client) == []


def raw_asgi(app, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[list[dict], int]:
    """Call the app as an ASGI server would, with headers httpx would not send; -> (messages, chunks read)."""
    import asyncio

    sent, read = [], [0]

    async def receive():
        if read[0] < len(chunks):
            read[0] += 1
            return {"type": "http.request", "body": chunks[read[0] - 1], "more_body": read[0] < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/separate", "raw_path": b"/api/separate",
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("testserver", 80),
             "client": ("127.0.0.1", 1), "http_version": "1.1", "asgi": {"version": "3.0"},
             "headers": [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=b"), *headers]}
    asyncio.run(app(scope, receive, send))
    return sent, read[0]


def test_the_limit_counts_bytes_and_the_length_header_is_checked_before_reading(make_client):
    client = make_client(max_upload_mb=0.05)
    body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n" + wav_bytes(3.0)
    chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)]
    # a body longer than its Content-Length claims: the count, not the header, stops it
    sent, read = raw_asgi(client.app, chunks, [(b"content-length", b"100")])
    assert sent[0]["status"] == 413 and b"limit" in sent[1]["body"] and read < len(chunks)
    # an honest Content-Length over the limit: 413 before one byte of the body is read
    sent, read = raw_asgi(client.app, chunks, [(b"content-length", str(len(body)).encode())])
    assert sent[0]["status"] == 413 and read == 0
    assert job_folders(client) == []


@pytest.mark.parametrize("name, body, data, status, words", [
    ("noise.wav", b"RIFF....WAVEgarbage" * 50, FAST, 422, "noise.wav: unreadable audio"),
    ("empty.wav", b"", FAST, 422, "empty file"),
    ("a.wav", None, {"steps": "abc"}, 422, "steps: expected an integer, got 'abc'"),
    ("a.wav", None, {"steps": "100000"}, 422, "steps must be between 1 and 200"),
    ("a.wav", None, {"guidance": "nan"}, 422, "guidance: expected a finite number"),
    ("a.wav", None, {"sampler": "bogus"}, 422, "sampler: 'bogus' is not one of ['ddim'"),
    ("a.wav", None, {"overlap": "99"}, 422, "overlap must be in"),
    ("a.wav", None, {"path": "/etc/passwd"}, 400, "unknown field(s) ['path']"),
])
def test_bad_uploads_get_a_4xx_with_the_reason(client, name, body, data, status, words):
    r = post_song(client, data=data, name=name, body=body)
    assert r.status_code == status and words in r.json()["detail"], r.text
    assert str(client.app.state.jobs.root) not in r.text  # our private folder is never named
    assert job_folders(client) == []
    assert client.get("/api/health").json()["status"] == "ok"


def test_bad_requests_of_other_shapes(client):
    cases = [
        (client.post("/api/separate", json={"file": "song.wav"}), 415, "multipart/form-data"),
        (client.post("/api/separate", data={"steps": "2"}), 400, "the form field 'file' (got none)"),  # urlencoded
        (client.post("/api/separate", files={"other": ("a.wav", wav_bytes(1.0))}), 400, "the form field 'file'"),
        (client.post("/api/separate", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"}),
         400, "no boundary"),
        (client.post("/api/separate", content=b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc",
                     headers={"content-type": "multipart/form-data; boundary=x"}), 400, "ended inside a part"),
        (client.post("/api/generate", files={"file": ("a.wav", wav_bytes(1.0))}), 400, "takes no files"),
        (client.post("/api/generate", data={"duration": "1000"}), 422, "duration must be more than 0 and at most 120"),
        (client.post("/api/generate", data={"regenerate": "5"}), 422, "regenerate must be between 0 and 4"),
    ]
    for r, status, words in cases:
        assert r.status_code == status and words in r.json()["detail"], (r.request.url, r.text)
    assert job_folders(client) == []


@pytest.mark.parametrize("name", ["../run.json", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "/etc/passwd",
                                  "bass.wav%00.txt", "%2E%2E", "ba%CC%88ss.wav", "C:%5Cwindows%5Cwin.ini"])
def test_path_tricks_in_file_names_are_refused(client, name):
    job = wait_for(client, post_song(client).json())
    r = client.get(f"{job['url']}/files/{name}")
    assert r.status_code == 404, r.text
    assert "root:" not in r.text and "[fonts]" not in r.text
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("job_id", ["..", "..%2F..%2Fetc", "%2Fetc%2Fpasswd", "0" * 31 + "G", "0" * 32, "ÿ" * 32])
def test_path_tricks_in_job_ids_are_refused(client, job_id):
    for method in (client.get, client.delete):
        r = method(f"/api/jobs/{job_id}")
        assert r.status_code == 404, r.text
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("upload_name", ["../../../../tmp/evil.wav", "/etc/passwd", "..\\..\\evil.wav",
                                         "тест 🎵 \u202e.wav", "a\x00b.wav", "con"])
def test_client_file_names_never_become_paths(client, tmp_path, upload_name):
    r = post_song(client, name=upload_name)
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json())
    assert job["state"] == "done"
    root = client.app.state.jobs.root
    assert job_folders(client) == [job["id"]]
    inside = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert inside == [job["id"], f"{job['id']}/out"] + [f"{job['id']}/out/{n}" for n in
                                                        sorted([f"{s}.wav" for s in STEMS] + ["run.json", "stems.zip"])]
    disposition = client.get(f"{job['url']}/files/bass.wav").headers["content-disposition"]
    assert "/" not in disposition and "\\" not in disposition and ".." not in disposition
    assert not (tmp_path.parent / "evil.wav").exists()


def test_folders_are_private(client):
    job = wait_for(client, post_song(client).json())
    root = client.app.state.jobs.root
    assert root.stat().st_mode & 0o777 == 0o700
    assert (root / job["id"]).stat().st_mode & 0o077 == 0


def test_a_full_queue_answers_503_and_the_server_keeps_serving(make_client, monkeypatch):
    gate, entered = gate_jobs(monkeypatch)
    client = make_client(queue_size=1)
    running = post_song(client).json()
    assert entered.wait(10)
    waiting = post_song(client).json()
    r = post_song(client)
    assert r.status_code == 503 and "busy" in r.json()["detail"] and r.headers["retry-after"] == "30"
    assert client.post("/api/generate", data={"duration": "1"}).status_code == 503
    assert sorted(job_folders(client)) == sorted([running["id"], waiting["id"]])
    assert client.get("/api/health").json()["jobs"]["waiting"] == 1
    gate.set()
    assert [wait_for(client, j)["state"] for j in (running, waiting)] == ["done", "done"]
    assert post_song(client).status_code == 202


def test_finished_jobs_expire(make_client):
    now = [1000.0]
    client = make_client(clock=lambda: now[0], job_ttl_s=60)
    job = wait_for(client, post_song(client).json())
    assert job["expires_in_s"] == 60
    now[0] += 59
    assert client.get(job["url"]).json()["expires_in_s"] == 1
    now[0] += 1
    r = client.get(job["url"])
    assert r.status_code == 404 and "expired" in r.json()["detail"]
    assert job_folders(client) == []


def test_host_header_checked_when_bound_locally(make_client):
    from msgld.serve.config import LOCAL_HOST_HEADERS

    client = make_client(allowed_hosts=LOCAL_HOST_HEADERS)
    assert client.get("/api/health", headers={"host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/api/health", headers={"host": "evil.example"}).status_code == 400


def test_health_models_and_docs(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["stems"] == STEMS and health["limits"]["max_upload_mb"] == 200
    models = client.get("/api/models").json()
    assert models["loaded"]["stems"] == STEMS and "msgld-tiny" in models["available"]
    assert models["defaults"]["separate"]["steps"] == 3 and "ddim" in models["choices"]["sampler"]
    schema = client.get("/api/openapi.json").json()
    for path in ("/api/separate", "/api/generate", "/api/arrange", "/api/jobs/{job_id}",
                 "/api/jobs/{job_id}/files/{name}", "/api/models", "/api/health"):
        assert path in schema["paths"]
    body = schema["paths"]["/api/separate"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"] and body["properties"]["file"]["format"] == "binary"
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/api/arrange" in docs.text and "cdn" not in docs.text.lower()


def test_the_page_and_its_assets_are_served_and_nothing_comes_from_elsewhere(client):
    from msgld.serve.app import STATIC

    page = client.get("/")
    assert page.status_code == 200 and 'id="drop"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in sorted(STATIC.iterdir()):
        r = client.get(f"/static/{asset.name}")
        assert r.status_code == 200, asset.name
        assert "http://" not in r.text and "https://" not in r.text and "//cdn" not in r.text, asset.name
    assert "javascript" in client.get("/static/app.js").headers["content-type"]


def test_the_server_limits_are_configurable_and_checked():
    from msgld.serve.config import ServeConfig

    for bad in ({"max_upload_mb": 0}, {"queue_size": 0}, {"workers": 0}, {"job_ttl_s": -1}):
        with pytest.raises(ValueError):
            ServeConfig(**bad)
    assert ServeConfig(max_upload_mb=1).max_upload_bytes == 1 << 20


def test_run_json_is_valid_json_in_the_zip(client):
    job = wait_for(client, post_song(client, data={"steps": "1"}).json())
    with zipfile.ZipFile(io.BytesIO(client.get(f"{job['url']}/files/stems.zip").content)) as z:
        record = json.loads(z.read("run.json"))
    assert record["kind"] == "separate" and record["job"] == job["id"] and record["stems"] == STEMS
