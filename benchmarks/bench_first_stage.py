"""Speed of the first stage on 10.24 s of 4 stems: VAE encode + decode, the vocoder, Griffin-Lim.

    python -m benchmarks first_stage [--quick]

Uses the shipped msgld-tiny VAE and vocoder when present, else untrained models of the tiny
configs (same speed). Rows give seconds (best of 3) and x real time for the 4 stems together.
"""

from __future__ import annotations

import torch

from benchmarks.timing import best_of, row
from msgld.audio.griffinlim import griffin_lim
from msgld.audio.mel import MelFrontEnd
from msgld.config import load_config
from msgld.models.vae import build_vae
from msgld.models.vocoder import build_vocoder


def load_or_build(kind: str, build):
    from msgld.eval.methods.vae_oracle import default_model_folder
    from msgld.weights import load_model, weight_paths

    path = default_model_folder() / kind
    if weight_paths(path)[1].exists():
        return load_model(path, kind=kind), "msgld-tiny"
    return build(load_config(kind, "tiny")["model"]).eval(), "untrained tiny config"


def run(quick: bool = False) -> list[dict]:
    seconds = 2.56 if quick else 10.24
    length = int(seconds * 16000)
    stems = torch.randn(1, 4, length) * 0.1
    front = MelFrontEnd()
    mels = front(stems)  # [1, 4, T, 64]
    vae, vae_src = load_or_build("vae", build_vae)
    vocoder, voc_src = load_or_build("vocoder", build_vocoder)
    audio = 4 * seconds
    rows = []
    with torch.inference_mode():
        x = mels.reshape(-1, 1, *mels.shape[-2:])
        rows.append(row("vae encode (mode)", best_of(lambda: vae.encode(x).mode()), audio, model=vae_src))
        z = vae.encode(x).mode()
        rows.append(row("vae decode", best_of(lambda: vae.decode(z)), audio, model=vae_src))
        rows.append(row("vae encode+decode", best_of(lambda: vae.round_trip(mels)), audio, model=vae_src))
        rows.append(row("vocoder", best_of(lambda: vocoder(mels)), audio, model=voc_src))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rows.append(row("vocoder bf16", best_of(lambda: vocoder(mels)), audio, model=voc_src))
        rows.append(row("griffin-lim 32 iter", best_of(lambda: griffin_lim(mels, n_iter=32), repeat=1), audio))
    return rows
