"""Native-rate separation: the rules for the masks above 8 kHz, measured on full-band renders.

    python benchmarks/bench_native_rate.py --data DIR [--stereo-out DIR] [--clips 24] [--model-clips 6] --out F.json

DIR is a dataset folder (`test/<track>/<stem>.wav`) rendered above 16 kHz (e.g. SynthSlakh at
44.1 kHz: `msgld data synth --config FILE` with `sample_rate: 44100` and `render_rate: 44100`).
Mono stems are panned to stereo first (constant-power, a fixed seeded position per stem and
track; written to --stereo-out, or DIR + "-stereo"), so the test set is 44.1 kHz stereo.

Per clip (10.24 s, at least two active stems) and per `high_band` rule:
- the oracle: masks from the TRUE stems' 16 kHz mono log-mels (what a perfect model would
  estimate, as `oracle-mel-mask` does), applied at the file's rate on each channel;
- `oracle-band` (a ceiling, not a rule): above 8 kHz each stem's true share of the >8 kHz energy;
- the model (`--model`, default the shipped msgld-tiny, default settings) on `--model-clips` clips:
  one estimate per clip, reconstructed with each rule.
Scores: si_sdri_wave (MSDM's windowed protocol) of the full-band stems against the full-band
references (windows of every channel pooled), and of their 16 kHz mono downmix against the
references' downmix; the `16k path` row is the 16 kHz reconstruction of the same masks on the
16 kHz mono mixture, which is what the 16 kHz-only pipeline returned. Also the SNR of the
sum of the stems against the input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from msgld.audio.io import resample, save_audio
from msgld.audio.reconstruct import HIGH_BANDS, MaskReconstructor, StftGrid, native_oracle_log_mels
from msgld.eval.metrics import SeparationScores, windowed_si_sdr

STEMS = ["bass", "drums", "guitar", "piano"]
CLIP_SECONDS = 10.24
RATE16 = 16000


def make_stereo(src: Path, out: Path, seed: int = 0) -> Path:
    """Pan every mono stem of src/test/* to stereo (constant power, position in [-0.7, 0.7] drawn
    from default_rng([seed, track, stem])) into out/test/*; existing tracks are kept."""
    for k, track in enumerate(sorted((src / "test").iterdir())):
        if not track.is_dir():
            continue
        for j, stem in enumerate(STEMS):
            f, g = track / f"{stem}.wav", out / "test" / track.name / f"{stem}.wav"
            if not f.exists() or g.exists():
                continue
            x, sr = sf.read(f, dtype="float32", always_2d=True)
            pan = np.random.default_rng([seed, k, j]).uniform(-0.7, 0.7)
            theta = (pan + 1) * np.pi / 4
            gains = np.array([np.cos(theta), np.sin(theta)], dtype=np.float32) * np.sqrt(2)
            save_audio(g, gains[:, None] * x.mean(1)[None], sr, "float32")
    return out


def clips(data: Path, count: int) -> list[tuple[str, int, int]]:
    """(track, start, rate) of up to `count` 10.24 s clips with >= 2 active stems, spread over tracks."""
    found = []
    for track in sorted((data / "test").iterdir()):
        files = [track / f"{s}.wav" for s in STEMS if (track / f"{s}.wav").exists()]
        if not files:
            continue
        info = sf.info(files[0])
        n = int(CLIP_SECONDS * info.samplerate)
        for start in range(0, info.frames - n + 1, n):
            stems = read_clip(data, track.name, start, n)
            active = (np.abs(stems).mean(axis=(1, 2)) > 1.5e-5).sum()
            if active >= 2:
                found.append((track.name, start, info.samplerate))
    picks = sorted({int(i) for i in np.linspace(0, len(found) - 1, min(count, len(found)))}) if found else []
    return [found[i] for i in picks]


def read_clip(data: Path, track: str, start: int, n: int) -> np.ndarray:
    """-> stems [S, C, n] (a missing stem is silence)."""
    out = None
    for j, stem in enumerate(STEMS):
        f = data / "test" / track / f"{stem}.wav"
        if f.exists():
            x, _ = sf.read(f, start=start, frames=n, dtype="float32", always_2d=True)
            if out is None:
                out = np.zeros((len(STEMS), x.shape[1], n), np.float32)
            out[j, :, : x.shape[0]] = x.T
    return out


def downmix16(x: torch.Tensor, sr: int) -> torch.Tensor:
    """[..., C, L] at sr -> [..., L16] mono at 16 kHz (channel mean, then soxr)."""
    return torch.from_numpy(resample(x.mean(-2).numpy(), sr, RATE16))


def oracle_band(stems: torch.Tensor, mix: torch.Tensor, sr: int, log_mels: torch.Tensor) -> torch.Tensor:
    """The ceiling of a one-band rule: masks up to 8 kHz from the 16 kHz mels, above 8 kHz each
    stem's true share of the >8 kHz energy per frame (of the downmix). -> [S, C, L]."""
    rec = MaskReconstructor()
    grid = StftGrid.for_rate(sr)
    spec = grid.stft(mix)  # [C, F, T]
    masks = rec.linear_masks(log_mels, grid, spec.shape[-1])  # [S, F, T]
    freqs = torch.from_numpy(np.fft.rfftfreq(grid.n_fft, 1 / sr)).float()
    high = freqs > 8000
    energy = grid.stft(stems.mean(1)).abs().pow(2)[:, high].sum(1)  # [S, T]
    share = energy / energy.sum(0, keepdim=True).clamp(min=1e-20)
    masks[:, high] = share[:, None, :]
    return grid.istft(spec[None] * masks[:, None], mix.shape[-1])


def above_8k(x: torch.Tensor, sr: int) -> torch.Tensor:
    """Only the content above 8 kHz (STFT bins up to 8 kHz zeroed), same shape."""
    n = 4096
    window = torch.hann_window(n)
    flat = x.reshape(-1, x.shape[-1])
    spec = torch.stft(flat, n, n // 4, window=window, return_complex=True)
    spec[:, torch.from_numpy(np.fft.rfftfreq(n, 1 / sr)) <= 8000] = 0
    return torch.istft(spec, n, n // 4, window=window, length=x.shape[-1]).reshape(x.shape)


class Pooled:
    """si_sdri_wave per stem, the windows of every channel pooled (MSDM's protocol at `sr`)."""

    def __init__(self, sr: int):
        self.sr, self.values = sr, {s: [] for s in STEMS}

    def update(self, est: torch.Tensor, ref: torch.Tensor) -> None:  # [S, C, L] each
        for c in range(ref.shape[1]):
            w = windowed_si_sdr(est[:, c], ref[:, c], ref[:, c].sum(0), self.sr)
            keep = w["kept"][:, None] & w["active"]
            for j, s in enumerate(STEMS):
                self.values[s] += (w["si_sdr"][keep[:, j], j] - w["si_sdr_mix"][keep[:, j], j]).tolist()

    def per_stem(self) -> dict[str, float | None]:
        return {s: (round(float(np.mean(v)), 2) if v else None) for s, v in self.values.items()}

    def mean(self) -> float:
        vals = [v for v in self.per_stem().values() if v is not None]
        return round(float(np.mean(vals)), 2)


def sum_snr(est: torch.Tensor, mix: torch.Tensor) -> float:
    err = (est.double().sum(0) - mix.double()).pow(2).sum()
    return round(float(10 * torch.log10(mix.double().pow(2).sum() / err.clamp(min=1e-30))), 1)


def r2(v):
    return None if v is None else round(v, 2)


def score_rows(name: str, results: dict, high: dict) -> list[dict]:
    rows = []
    for rule, (full, down, snr) in results.items():
        fb, d16 = (full.per_stem() if full else {}), down.per_stem()
        hb = high[rule].per_stem() if rule in high else {}
        rows.append({"estimate": name, "high_band": rule, "clips": down.clips,
                     "above_8k_si_sdri": high[rule].mean() if rule in high else None, "above_8k_drums": hb.get("drums"),
                     "full_band_si_sdri": full.mean() if full else None, "full_band_drums": fb.get("drums"),
                     "downmix16k_si_sdri": r2(down.mean()["si_sdri_wave"]),
                     "downmix16k_drums": r2(d16["drums"]["si_sdri_wave"]), "min_sum_snr_db": snr,
                     "full_band_per_stem": fb, "above_8k_per_stem": hb,
                     "downmix16k_per_stem": {s: r2(v["si_sdri_wave"]) for s, v in d16.items()}})
    return rows


def run(quick: bool = False, data: str | None = None, stereo_out: str | None = None, clips_n: int = 24,
        model_clips: int = 6, model: str | None = None) -> list[dict]:
    data = data or os.environ.get("MSGLD_NATIVE_DATA")
    if not data:
        print("bench_native_rate: no --data (or $MSGLD_NATIVE_DATA); nothing measured", file=sys.stderr)
        return []
    src = Path(data)
    stereo = make_stereo(src, Path(stereo_out) if stereo_out else src.with_name(src.name + "-stereo"))
    picked = clips(stereo, 4 if quick else clips_n)
    rules = list(HIGH_BANDS)
    rows: list[dict] = []

    def fresh(sr):
        return {r: (Pooled(sr), SeparationScores(STEMS), np.inf) for r in [*rules, "oracle-band", "16k path"]}

    oracle, high = None, {}
    started = time.perf_counter()
    for track, start, sr in picked:
        oracle = oracle or fresh(sr)
        high = high or {r: Pooled(sr) for r in [*rules, "oracle-band"]}
        stems = torch.from_numpy(read_clip(stereo, track, start, int(CLIP_SECONDS * sr)))
        mix = stems.sum(0)
        refs16, mix16 = downmix16(stems, sr), downmix16(mix, sr)
        log_mels = native_oracle_log_mels(stems, sr)
        ests = {r: MaskReconstructor(high_band=r)(log_mels, mix, sample_rate=sr).transpose(0, 1) for r in rules}
        ests["oracle-band"] = oracle_band(stems, mix, sr, log_mels)
        stems_hi = above_8k(stems, sr)
        for r, est in ests.items():
            full, down, snr = oracle[r]
            full.update(est, stems)
            high[r].update(above_8k(est, sr), stems_hi)
            down.update(downmix16(est, sr)[None], refs16[None], mix16[None])
            oracle[r] = (full, down, min(snr, sum_snr(est, mix)))
        est16 = MaskReconstructor()(log_mels, mix16)
        full, down, snr = oracle["16k path"]
        down.update(est16[None], refs16[None], mix16[None])
        oracle["16k path"] = (None, down, min(snr, sum_snr(est16, mix16)))
    if oracle:
        rows += score_rows("oracle (true stems' 16 kHz mels)", oracle, high)
    print(f"oracle: {len(picked)} clips in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    if model_clips and picked:
        from msgld.inference.bundle import DEFAULT_MODEL
        from msgld.inference.separator import Separator

        sep = Separator(model or DEFAULT_MODEL)
        chosen = [picked[int(i)] for i in np.linspace(0, len(picked) - 1, min(model_clips, len(picked)))]
        res = {r: (Pooled(chosen[0][2]), SeparationScores(STEMS), np.inf) for r in [*rules, "16k path"]}
        high = {r: Pooled(chosen[0][2]) for r in rules}
        t_model = t_rec = 0.0
        for i, (track, start, sr) in enumerate(chosen):
            stems = torch.from_numpy(read_clip(stereo, track, start, int(CLIP_SECONDS * sr)))
            mix = stems.sum(0)
            refs16, mix16 = downmix16(stems, sr), downmix16(mix, sr)
            t0 = time.perf_counter()
            est = sep.estimate(mix, sample_rate=sr, seed=i)
            t_model += time.perf_counter() - t0
            for r in rules:
                est.settings = est.settings.replace(high_band=r)
                t0 = time.perf_counter()
                out = torch.cat(list(sep.reconstruct(est, mix, sr)), dim=-1)
                t_rec += time.perf_counter() - t0
                full, down, snr = res[r]
                full.update(out, stems)
                high[r].update(above_8k(out, sr), above_8k(stems, sr))
                down.update(downmix16(out, sr)[None], refs16[None], mix16[None])
                res[r] = (full, down, min(snr, sum_snr(out, mix)))
            out16 = torch.cat(list(sep.reconstruct(est, mix16, RATE16)), dim=-1)
            full, down, snr = res["16k path"]
            down.update(out16[None], refs16[None], mix16[None])
            res["16k path"] = (None, down, min(snr, sum_snr(out16, mix16)))
        rows += score_rows(f"model {Path(sep.bundle.folder).name} (defaults, seed = clip index)", res, high)
        rows.append({"estimate": "model timing", "clips": len(chosen),
                     "model_s_per_clip": round(t_model / len(chosen), 2),
                     "native_reconstruction_s_per_clip_and_rule": round(t_rec / len(chosen) / len(rules), 3)})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| estimate | high_band | clips | full-band si_sdri | full-band drums | above 8 kHz si_sdri | "
             "above 8 kHz drums | 16 kHz downmix si_sdri | 16 kHz drums | min sum SNR dB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def cell(v):
        return "-" if v is None else v

    for r in rows:
        if "high_band" in r:
            lines.append(f"| {r['estimate']} | {r['high_band']} | {r['clips']} | {cell(r['full_band_si_sdri'])} | "
                         f"{cell(r['full_band_drums'])} | {cell(r['above_8k_si_sdri'])} | {cell(r['above_8k_drums'])} | "
                         f"{r['downmix16k_si_sdri']} | {r['downmix16k_drums']} | {r['min_sum_snr_db']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset folder with a test split rendered above 16 kHz")
    parser.add_argument("--stereo-out", help="where the panned stereo set goes (default: DATA-stereo)")
    parser.add_argument("--clips", type=int, default=24, help="oracle clips")
    parser.add_argument("--model-clips", type=int, default=6, help="clips separated by the model (0: none)")
    parser.add_argument("--model", help="model name or folder (default: the shipped one)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="write the rows as JSON")
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())
    from benchmarks.run import format_table

    result = run(args.quick, args.data, args.stereo_out, args.clips, args.model_clips, args.model)
    print(format_table([{k: v for k, v in r.items() if not k.endswith("per_stem")} for r in result]))
    print()
    print(markdown(result))
    if args.out:
        from msgld.atomic import atomic_write_text

        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
