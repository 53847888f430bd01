"""Speed of the SynthSlakh pipeline (compose, render every stem, write WAV + MIDI + metadata).

For each backend: the whole pipeline through `synthesize` with W workers, timed end to end
(worker start-up and first soundfont loads included) and as x real time (seconds of music made
per second of wall clock); then a one-process breakdown per stage.

    python benchmarks/bench_synth.py --tracks 40 --workers 2 --out bench_synth.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from msgld.synth import soundfonts as sfonts  # noqa: I001  (msgld.synth first: see its __init__)
from msgld.config import load_config
from msgld.synth.composer import compose
from msgld.synth.render import render_song
from msgld.synth.writer import Job, draw_soundfonts, make_track, synthesize


def stage_breakdown(backend: str, fonts: list[Path], cfg: dict, tracks: int, seed: int) -> dict:
    """Seconds per second of music for compose / render / write, one process, warm caches."""
    pool = tuple(str(p) for p in fonts)
    for i in range(len(fonts)):  # warm every soundfont once
        song = compose(seed, 10_000 + i, cfg)
        render_song(song.instruments, {s: fonts[i] for s in song.stems}, 1.0, backend, cfg)
    t_compose = t_render = t_total = music = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(tracks):
            t0 = time.perf_counter()
            song = compose(seed, i, cfg)
            t1 = time.perf_counter()
            f = draw_soundfonts(seed, i, pool)
            render_song(song.instruments, {s: f[s] for s in song.stems}, song.end_time + cfg["tail_s"], backend, cfg)
            t2 = time.perf_counter()
            t_compose += t1 - t0
            t_render += t2 - t1
            t3 = time.perf_counter()
            _, secs = make_track(Job(seed, i, str(Path(tmp) / f"T{i}"), "train", cfg, backend, pool))
            t_total += time.perf_counter() - t3
            music += secs
    return {"music_s": music, "compose_x": music / t_compose, "render_x": music / t_render,
            "pipeline_x_1proc": music / t_total}


def measure(tracks: int, workers: int, seed: int = 0, backends=("fluidsynth", "tinysoundfont"),
            breakdown_tracks: int = 6, render_rate: int | None = None) -> tuple[dict, list[dict]]:
    cfg = load_config("synth", "default")
    if render_rate:
        cfg["render"]["render_rate"] = render_rate
    results = []
    for backend in backends:
        try:
            name, fonts = sfonts.select(backend, cfg)
        except ValueError as e:
            print(f"{backend}: skipped ({e})")
            continue
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            s = synthesize(Path(tmp) / "ds", tracks=tracks, seed=seed, workers=workers,
                           backend=name, config=cfg, progress=False)
        row = {"backend": name, "soundfonts": [p.name for p in fonts], "tracks": s.made, "workers": workers,
               "music_h": s.seconds / 3600, "elapsed_s": s.elapsed, "x_realtime": s.x_realtime,
               "minutes_for_10h": 36000 / s.x_realtime / 60,
               "render_rate": cfg["render"]["render_rate"], "load_avg_1min_before": load_before}
        row.update(stage_breakdown(name, fonts, cfg, breakdown_tracks, seed))
        results.append(row)
    return cfg, results


def run(quick: bool = False) -> list[dict]:
    """Rows for the common runner (`python -m benchmarks synth`)."""
    _, results = measure(tracks=6 if quick else 40, workers=os.cpu_count() or 1,
                         breakdown_tracks=2 if quick else 6)
    return [{"name": f"synth pipeline {r['backend']}", "seconds": round(r["elapsed_s"], 2),
             "audio_s": round(r["music_h"] * 3600, 1), "x_realtime": round(r["x_realtime"], 1),
             "workers": r["workers"], "render_rate": r["render_rate"]} for r in results]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=40)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backends", nargs="+", default=["fluidsynth", "tinysoundfont"])
    ap.add_argument("--breakdown-tracks", type=int, default=6)
    ap.add_argument("--render-rate", type=int, help="override the config's render rate (Hz)")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    cfg, results = measure(args.tracks, args.workers, args.seed, args.backends, args.breakdown_tracks,
                           args.render_rate)

    print(f"\nSynthSlakh pipeline, {args.workers} workers, {os.cpu_count()} CPUs, render rate "
          f"{cfg['render'].get('render_rate', cfg['sample_rate'])} Hz -> {cfg['sample_rate']} Hz, 4 stems max")
    head = f"{'backend':<14}{'tracks':>7}{'music h':>9}{'wall s':>8}{'x RT':>8}{'10 h in':>9}" \
           f"{'| 1 proc: compose':>19}{'render':>8}{'all':>7}"
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['backend']:<14}{r['tracks']:>7}{r['music_h']:>9.3f}{r['elapsed_s']:>8.1f}{r['x_realtime']:>8.1f}"
              f"{r['minutes_for_10h']:>7.1f} m{r['compose_x']:>18.0f}x{r['render_x']:>7.0f}x{r['pipeline_x_1proc']:>6.0f}x")
    if results:
        print("1-min load average before each run: " + ", ".join(
            f"{r['backend']} {r['load_avg_1min_before']:.1f}" for r in results) + f" (on {os.cpu_count()} CPUs)")
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(),
                                              "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
