"""The demo: a new song -> separation; a new piece -> total generation; the song's drums and
bass -> arrangement of the rest. WAVs, pictures and index.html under one folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from msgld import SAMPLE_RATE, __version__
from msgld.audio.io import atomic_write_text, save_audio
from msgld.demo.page import spectrogram_picture, write_page
from msgld.demo.song import demo_song
from msgld.inference import Arranger, Generator, Separator, load_bundle


def save_group(folder: Path, waves: dict[str, np.ndarray]) -> dict[str, Path]:
    return {name: save_audio(folder / f"{name}.wav", wave) for name, wave in waves.items()}


def run_demo(out: str | Path = "demo_out", model: str = "msgld-tiny", seed: int = 2026, seconds: float = 20.0,
             steps: int | None = None, device: str = "cpu", log=print) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    bundle = load_bundle(model, device)
    stems = bundle.stems
    sections = []

    def section(name: str, title: str, text: str, waves: dict[str, np.ndarray]):
        files = save_group(out / name, waves)
        picture = spectrogram_picture(out / f"{name}.png", waves, title)
        sections.append({"title": title, "text": text, "picture": picture.name,
                         "audio": [(k, p.relative_to(out)) for k, p in files.items()]})

    t0 = time.perf_counter()
    song, caption = demo_song(seed, seconds)
    song = {s: song[s] for s in stems}
    mix = np.sum(list(song.values()), axis=0)
    timings["compose_and_render"] = time.perf_counter() - t0
    section("song", "The song (never seen in training)", f"SynthSlakh seed {seed}: {caption}.", {"mix": mix, **song})
    log(f"song: {caption}")

    t0 = time.perf_counter()
    sep = Separator(bundle)
    separated = sep.separate(mix, sample_rate=SAMPLE_RATE, **({"steps": steps} if steps else {})).numpy()
    timings["separate"] = time.perf_counter() - t0
    section("separated", "Separation", f"The mixture above, separated by the model "
            f"(guidance {sep.defaults['guidance']}, mixture-phase reconstruction; the stems sum to the mixture).",
            {"mix": mix, **dict(zip(stems, separated))})
    log(f"separated in {timings['separate']:.1f} s")

    t0 = time.perf_counter()
    gen = Generator(bundle)
    s = gen.resolve(**({"steps": steps} if steps else {}))
    generated = gen.generate(10.24, seed=seed, **s.to_dict()).numpy()
    timings["generate"] = time.perf_counter() - t0
    rewrite = (f", then every other stem written again to fit the {s.anchor}" if s.regenerate else "")
    section("generated", "Total generation", f"A new piece: every stem written together from noise (w = 0){rewrite}; "
            "through the vocoder.", {"mix": generated.sum(0), **dict(zip(stems, generated))})
    log(f"generated in {timings['generate']:.1f} s")

    t0 = time.perf_counter()
    given = {s: song[s] for s in ("drums", "bass") if s in stems}
    arranged = Arranger(bundle).arrange(given, seed=seed, sample_rate=SAMPLE_RATE,
                                        **({"steps": steps} if steps else {})).numpy()
    timings["arrange"] = time.perf_counter() - t0
    written = [s for s in stems if s not in given]
    section("arranged", "Arrangement", f"The song's {' and '.join(given)} kept; the model wrote {', '.join(written)}.",
            {"mix": arranged.sum(0), **dict(zip(stems, arranged))})
    log(f"arranged in {timings['arrange']:.1f} s")

    record = {"msgld_version": __version__, "model": str(bundle.folder), "weights_hash": bundle.weights_hash(),
              "seed": seed, "seconds": seconds, "steps": steps, "caption": caption,
              "timings_s": {k: round(v, 2) for k, v in timings.items()}}
    atomic_write_text(out / "run.json", json.dumps(record, indent=2) + "\n")
    page = write_page(out / "index.html", "msgld demo", f"Model {bundle.folder.name} "
                      f"(weights {record['weights_hash']}), seed {seed}.", sections)
    return page
