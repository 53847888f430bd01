"""How faithfully vocoders turn real mels back into audio: held-out stems and mixtures -> THE
front-end's log-mel -> each vocoder, against the real waveform.

    python benchmarks/bench_vocoder_fidelity.py --data D [--clips 16] \
        --vocoder msgld/pretrained/msgld-tiny/vocoder --vocoder runs/vocos/weights/best/vocoder [--out F.json]

Per vocoder, means over the first `--clips` clips of `--split` (each clip's 4 stems, the silent
ones left out, and its mixture):

- `log_mel_l1`: L1 between the log-mels of output and input (what the vocoders train on);
- `log_stft_l1_N`: L1 between log-magnitude STFTs of output and real waveform, N-point windows
  (quarter hop), so resolutions the mel does not see count too;
- `chroma_l1`: L1 between 12-bin chroma (4096-point STFT, librosa's filters, each frame summing
  to one): pitch-class fidelity, what stemfit's chroma reads;
- `onset_ratio`: mean onset strength of output over real (stemfit's `FitFrontEnd`: positive
  change of log energy in 8 band groups every 20 ms; 1 is real; above 1, the output's energy
  flickers from frame to frame);
- `silence_dbfs`: the output's median level in the 20 ms frames where the real mixture is below
  -80 dBFS (the vocoder's noise floor);
- `level_db_STEM`: median over clips of the output's RMS over the real one's, in dB (0 = as loud;
  `mixture` for the mixtures).

`--mel-match 0,1,2` measures each vocoder with that many passes of `msgld.audio.mel_match`
after it (one row each; `mel_match_ms` is the CPU time of the passes per second of audio).

Without `--data` (or $MSGLD_VOCODER_DATA) `python -m benchmarks` measures nothing here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import report  # noqa: E402
from msgld.audio.mel import MelFrontEnd  # noqa: E402
from msgld.audio.mel_match import match_mel  # noqa: E402
from msgld.eval.clips import batches, open_split  # noqa: E402
from msgld.models.stemfit import FitFrontEnd  # noqa: E402
from msgld.weights import load_model  # noqa: E402

SHIPPED = "msgld/pretrained/msgld-tiny/vocoder"
FRAME = 320  # 20 ms at 16 kHz, stemfit's hop
SILENT = 1e-4  # -80 dBFS


def log_stft(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    spec = torch.stft(x, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True)
    return torch.log(spec.abs() + 1e-5)


def frame_rms(x: torch.Tensor) -> torch.Tensor:
    frames = x[..., : x.shape[-1] // FRAME * FRAME].reshape(*x.shape[:-1], -1, FRAME)
    return frames.pow(2).mean(-1).sqrt()


class Fidelity:
    def __init__(self):
        self.front, self.fit = MelFrontEnd(), FitFrontEnd()
        self.chroma_filters = torch.from_numpy(librosa.filters.chroma(sr=16000, n_fft=4096)).float()
        self.sums: dict[str, list[float]] = {}
        self.levels: dict[str, list[float]] = {}
        self.match_seconds = 0.0

    def chroma(self, x: torch.Tensor) -> torch.Tensor:
        power = torch.stft(x, 4096, FRAME, window=torch.hann_window(4096), return_complex=True).abs() ** 2
        c = self.chroma_filters @ power
        return c / (c.sum(-2, keepdim=True) + 1e-8)

    def add(self, fake: torch.Tensor, real: torch.Tensor, mixture_fake: torch.Tensor, mixture: torch.Tensor,
            labels: list[str]) -> None:
        n = min(fake.shape[-1], real.shape[-1])
        fake, real = fake[..., :n], real[..., :n]
        level = 20 * torch.log10(fake.pow(2).mean(-1).sqrt().clamp_min(1e-12) / real.pow(2).mean(-1).sqrt())
        for label, value in zip(labels, level.tolist()):
            self.levels.setdefault(f"level_db_{label}", []).append(value)
        row = {"log_mel_l1": (self.front(fake) - self.front(real)).abs().mean().item()}
        for n_fft in (512, 1024, 2048):
            row[f"log_stft_l1_{n_fft}"] = (log_stft(fake, n_fft) - log_stft(real, n_fft)).abs().mean().item()
        row["chroma_l1"] = (self.chroma(fake) - self.chroma(real)).abs().sum(-2).mean().item()
        row["onset_ratio"] = (self.fit(fake)[:, 12:].mean() / self.fit(real)[:, 12:].mean().clamp_min(1e-8)).item()
        silent = frame_rms(mixture) < SILENT
        if silent.any():
            row["silence_dbfs"] = 20 * np.log10(frame_rms(mixture_fake[..., : mixture.shape[-1]])[silent].median().item() + 1e-12)
        for k, v in row.items():
            self.sums.setdefault(k, []).append(v)

    def means(self) -> dict:
        return {**{k: round(float(np.mean(v)), 3) for k, v in self.sums.items()},
                **{k: round(float(np.median(v)), 2) for k, v in self.levels.items()}}


def measure(data: str, vocoders: list[str], clips: int = 16, split: str = "test",
            mel_match: tuple[int, ...] = (0,)) -> list[dict]:
    dataset = open_split(data, split)
    models = {path: load_model(path, kind="vocoder").eval() for path in vocoders}
    scores = {(path, p): Fidelity() for path in vocoders for p in mel_match}
    front = MelFrontEnd()
    seconds = 0.0
    with torch.inference_mode():
        for batch in batches(dataset, limit=clips, batch_size=4, progress=False):
            mixture = batch["mixture"]
            waves = torch.cat([batch["stems"], mixture[:, None]], 1).reshape(-1, mixture.shape[-1])
            labels = [*dataset.stems, "mixture"] * mixture.shape[0]
            active = (waves.abs().amax(-1) > 1e-3).tolist()  # silent stems say nothing about a vocoder
            waves = waves[torch.tensor(active)]
            labels = [label for label, keep in zip(labels, active) if keep]
            seconds += waves.shape[0] * waves.shape[-1] / 16000
            mels, mixture_mels = front(waves), front(mixture)
            for path, model in models.items():
                fake, mixture_fake = model(mels), model(mixture_mels)
                for p in mel_match:
                    score = scores[path, p]
                    start = time.process_time()
                    matched = match_mel(fake[..., :waves.shape[-1]], mels, p, front)
                    score.match_seconds += time.process_time() - start
                    mixture_matched = match_mel(mixture_fake[..., :mixture.shape[-1]], mixture_mels, p, front)
                    score.add(matched, waves, mixture_matched, mixture, labels)
    rows = []
    for (path, p), score in scores.items():
        rows.append({"vocoder": path, "arch": models[path].config.get("arch", "hifigan"), "mel_match": p,
                     "clips": min(clips, len(dataset)), **score.means(),
                     "mel_match_ms": round(1000 * score.match_seconds / seconds, 2)})
    return rows


def run(quick: bool = False, data: str | None = None, vocoders: list[str] | None = None, clips: int = 16) -> list[dict]:
    data = data or os.environ.get("MSGLD_VOCODER_DATA")
    if not data:
        print("bench_vocoder_fidelity: no --data (or $MSGLD_VOCODER_DATA); nothing measured", file=sys.stderr)
        return []
    return measure(data, vocoders or [SHIPPED], clips=4 if quick else clips)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="dataset folder with held-out clips")
    parser.add_argument("--split", default="test")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--vocoder", action="append", help=f"vocoder weights pair (repeatable; default {SHIPPED})")
    parser.add_argument("--mel-match", default="0", help="comma-separated numbers of mel-matching passes (a row each)")
    parser.add_argument("--out", help="also write the rows to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    passes = tuple(int(p) for p in args.mel_match.split(","))
    report(measure(args.data, args.vocoder or [SHIPPED], args.clips, args.split, passes), args.out)
