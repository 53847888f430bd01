"""What a worker runs for each kind of job: the existing Python API (Separator, Generator,
Arranger), then the results written atomically (`msgld.cli.common.write_stems` saves each stem
to a temporary name and renames it), `run.json`, and a zip of them all, last. A file joins the
job's list only once it is complete, so a stopped server never serves a half-written file."""

from __future__ import annotations

import inspect
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from msgld import SAMPLE_RATE
from msgld.audio.io import atomic_path
from msgld.cli.common import run_record, write_json, write_stems
from msgld.inference import Arranger, Generator, ModelBundle, Separator
from msgld.serve.jobs import Job

ZIP_NAME = "stems.zip"


@dataclass
class Pipelines:
    """The three pipelines over one loaded model, shared by every worker."""

    bundle: ModelBundle
    separator: Separator
    generator: Generator
    arranger: Arranger

    @classmethod
    def of(cls, bundle: ModelBundle) -> "Pipelines":
        return cls(bundle, Separator(bundle), Generator(bundle), Arranger(bundle))


def write_zip(path: Path, files: list[Path]) -> Path:
    """A zip of `files` (stored, not compressed: audio barely shrinks), written atomically."""
    tmp = atomic_path(path)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for f in files:
                z.write(f, arcname=f.name)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def publish(job: Job, p: Pipelines, stems, mix: bool, **record) -> None:
    """Write the stems (and their mix), run.json and the zip; register each in the job."""
    out = job.folder / "out"
    stems = np.asarray(stems, dtype=np.float32)
    written = write_stems(out, p.bundle.stems, stems, "wav", extra={"mix": stems.sum(0)} if mix else None)
    write_json(out / "run.json", run_record(p.bundle, job.params["settings"], job=job.id, kind=job.kind,
                                            files=written, **record))
    names = [*written, "run.json"]
    write_zip(out / ZIP_NAME, [out / n for n in names])
    for name in [*names, ZIP_NAME]:
        job.add_file(name, out / name)


def at_model_rate(method) -> dict:
    """Keyword arguments that say the audio is at the model's rate (uploads are decoded to 16 kHz
    mono): the pipelines redesigned for native-rate audio (issue 13) require `sample_rate=`,
    the earlier ones take no such argument."""
    return {"sample_rate": SAMPLE_RATE} if "sample_rate" in inspect.signature(method).parameters else {}


def separate(job: Job, p: Pipelines) -> None:
    stems = p.separator.separate(job.params["audio"], progress=job.progress, **at_model_rate(p.separator.separate),
                                 **job.params["settings"])
    publish(job, p, stems, mix=False, input=job.params["input"])


def generate(job: Job, p: Pipelines) -> None:
    a = job.params
    stems = p.generator.generate(duration=a["duration"], seed=a["seed"], progress=job.progress, **a["settings"])
    publish(job, p, stems, mix=True, seed=a["seed"], duration=a["duration"])


def arrange(job: Job, p: Pipelines) -> None:
    a = job.params
    stems = p.arranger.arrange(a["given"], a["generate"], seed=a["seed"], progress=job.progress,
                               **at_model_rate(p.arranger.arrange), **a["settings"])
    publish(job, p, stems, mix=True, seed=a["seed"], given=a["inputs"], generated=a["generate"])


RUNNERS = {"separate": separate, "generate": generate, "arrange": arrange}


def run_job(pipelines: Pipelines, job: Job) -> None:
    RUNNERS[job.kind](job, pipelines)
