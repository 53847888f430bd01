"""Speed of the first stage on 10.24 s of 4 stems: VAE encode + decode, the vocoder, Griffin-Lim.

    OMP_NUM_THREADS=1 python -m benchmarks first_stage [--quick]
    OMP_NUM_THREADS=1 python -m benchmarks.bench_first_stage --vocoders tiny,vocos-tiny   # these rows alone

Uses the shipped msgld-tiny VAE and vocoder when present, else untrained models of the tiny
configs (same speed). Rows give seconds (best of 3) and x real time for the 4 stems together.
The `vocoder ARCH CONFIG` rows compare the vocoder architectures (HiFi-GAN, Vocos) on the
same mels, untrained (the speed does not depend on the weights): parameters, threads, and
besides the wall time the process's CPU time (`cpu_s`, `x_realtime_cpu`), which other jobs
on the machine change far less. `--quick` leaves out `vocos-paper`; HiFi-GAN `paper` (about 1
TFLOP per stem and 10.24 s, `msgld model summary vocoder paper`) runs only when named.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.timing import best_of, report, row
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
    rows += vocoder_rows(mels, audio, ["tiny", "vocos-tiny"] + ([] if quick else ["vocos-paper"]))
    return rows


def vocoder_rows(mels: torch.Tensor, audio: float, configs: list[str]) -> list[dict]:
    """One row per vocoder config (fp32, and bf16 autocast for the tiny ones)."""
    rows = []
    for name in configs:
        torch.manual_seed(0)
        cfg = load_config("vocoder", name)["model"]
        model = build_vocoder(cfg).eval()
        label = f"vocoder {cfg.get('arch', 'hifigan')} {name}"
        params = sum(p.numel() for p in model.parameters())
        repeat = 3 if "tiny" in name else 1
        for precision in ("fp32", "bf16") if "tiny" in name else ("fp32",):
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                wall = best_of(lambda: model(mels), repeat=repeat)
                cpu = best_of(lambda: model(mels), repeat=repeat, warmup=0, clock=time.process_time)
            rows.append(row(f"{label} {precision}", wall, audio, model="untrained", params=params,
                            threads=torch.get_num_threads(), cpu_s=round(cpu, 5),
                            x_realtime_cpu=round(audio / cpu, 1) if cpu > 0 else None))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The vocoder rows alone, on 4 stems of noise.")
    parser.add_argument("--vocoders", default="tiny,vocos-tiny", help="vocoder config names, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.24)
    parser.add_argument("--out", help="also write the rows to this JSON file")
    args = parser.parse_args()
    torch.manual_seed(0)
    mels = MelFrontEnd()(torch.randn(1, 4, int(args.seconds * 16000)) * 0.1)
    report(vocoder_rows(mels, 4 * args.seconds, args.vocoders.split(",")), args.out)
