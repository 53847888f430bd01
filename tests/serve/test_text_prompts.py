"""Prompts through the HTTP API: a model with a text pathway takes them (recorded in run.json);
one without refuses with 422 and the reason, before anything is queued."""

from __future__ import annotations

import json

import pytest

from msgld.inference.bundle import load_bundle
from msgld.inference.debug_model import make_debug_model
from tests.serve.conftest import wait_for, wav_bytes

from fastapi.testclient import TestClient  # noqa: E402  (conftest skips without fastapi)

from msgld.serve.app import create_app  # noqa: E402
from msgld.serve.config import ServeConfig  # noqa: E402


@pytest.fixture
def text_client(tmp_path_factory, tmp_path):
    bundle = load_bundle(make_debug_model(tmp_path_factory.mktemp("debug-text"), text_encoder="keywords"))
    with TestClient(create_app(bundle, ServeConfig(), root=tmp_path / "root")) as client:
        yield client


def generated_record(client, data: dict) -> dict:
    """POST /api/generate, wait for the job, and return its run.json."""
    r = client.post("/api/generate", data=data)
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json())
    assert job["state"] == "done", job["error"]
    return json.loads(client.get(f"{job['url']}/files/run.json").content)


def test_generate_with_a_prompt_records_it(text_client):
    assert text_client.get("/api/models").json()["loaded"]["text"]["encoder"] == "keywords"
    record = generated_record(text_client, {"duration": "1", "steps": "1", "prompt": "slow jazz",
                                            "text_guidance": "2"})
    assert record["settings"]["prompt"] == "slow jazz" and record["settings"]["text_guidance"] == 2.0


def test_a_model_without_text_refuses_a_prompt(client):
    assert client.get("/api/models").json()["loaded"]["text"] is None
    r = client.post("/api/generate", data={"duration": "1", "prompt": "slow jazz"})
    assert r.status_code == 422 and "no text pathway" in r.json()["detail"]
    r = client.post("/api/generate", data={"duration": "1", "prompt": "x" * 501})
    assert r.status_code == 422 and "at most 500 characters" in r.json()["detail"]


def test_stem_prompts_field_is_composed_and_recorded(text_client):
    record = generated_record(text_client, {"duration": "1", "steps": "1", "prompt": "slow jazz",
                                            "stem_prompts": "guitar=nylon-string lead; bass=slap bass;"})
    assert record["settings"]["prompt"] == "slow jazz, with a slap bass and a nylon-string lead guitar"
    for fields, words in (({"stem_prompts": "flute=wooden"}, "unknown stem 'flute'"),
                          ({"stem_prompts": "guitar"}, "stem_prompts: 'guitar': expected STEM=TEXT"),
                          ({"stem_prompts": "guitar= "}, "stem prompt of 'guitar' is empty"),
                          ({"stem_prompts": "guitar=" + "x" * 500}, "stem_prompts: at most 500 characters")):
        r = text_client.post("/api/generate", data={"duration": "1", **fields})
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    r = text_client.post("/api/separate", files={"file": ("a.wav", wav_bytes(1.0), "audio/wav")},
                         data={"stem_prompts": "guitar=x"})
    assert r.status_code == 400 and "unknown field" in r.json()["detail"]  # separation takes none
    assert "stem_prompts" in text_client.get("/api/docs").text


def test_a_model_without_text_refuses_stem_prompts(client):
    r = client.post("/api/generate", data={"duration": "1", "stem_prompts": "guitar=nylon-string lead"})
    assert r.status_code == 422 and "cannot follow stem prompts" in r.json()["detail"]
