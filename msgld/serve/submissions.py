"""A request's form -> what its job needs: one function per endpoint, each
`async (form, pipelines, config) -> Submission`, refusing with a `FormError` (4xx and the reason)
before anything is queued. Settings are validated by the pipelines' own `settings()`; uploads
are decoded (in a thread: decoding must not block the server) and then deleted."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from msgld import SAMPLE_RATE
from msgld.serve.config import ServeConfig
from msgld.serve.forms import (
    ARRANGE_FIELDS, GENERATE_FIELDS, SEPARATE_FIELDS, FormError, check_caps, decode, display_name, safe_label, typed,
)
from msgld.serve.tasks import Pipelines
from msgld.serve.uploads import Form, UploadedFile


@dataclass
class Submission:
    params: dict  # for the task (msgld.serve.tasks)
    info: dict    # shown in the job's view
    label: str    # prefix of download names


def settings_of(make, **values) -> dict:
    try:
        return make(**values)
    except ValueError as e:  # the pipeline's own validation, worded for the user
        raise FormError(422, str(e)) from None


async def decoded(upload: UploadedFile, config: ServeConfig):
    audio = await run_in_threadpool(decode, upload, config)
    upload.path.unlink(missing_ok=True)  # decoded: the upload is no longer needed
    return audio


async def separate(form: Form, p: Pipelines, config: ServeConfig) -> Submission:
    if "file" not in form.files or len(form.files) > 1:
        raise FormError(400, f"send exactly one audio file as the form field 'file' (got {sorted(form.files) or 'none'})")
    values = check_caps(typed(form.fields, SEPARATE_FIELDS), config)
    settings = settings_of(p.separator.settings, **values)
    upload = form.files["file"]
    audio = await decoded(upload, config)
    name = display_name(upload.filename)
    info = {"stems": p.bundle.stems, "input": name, "settings": settings,
            "audio_seconds": round(len(audio) / SAMPLE_RATE, 3)}
    return Submission({"audio": audio, "settings": settings, "input": name}, info, safe_label(upload.filename))


async def generate(form: Form, p: Pipelines, config: ServeConfig) -> Submission:
    if form.files:
        raise FormError(400, f"this endpoint takes no files, got {sorted(form.files)}")
    values = check_caps(typed(form.fields, GENERATE_FIELDS), config)
    duration, seed = values.pop("duration", 10.24), values.pop("seed", 0)
    settings = settings_of(p.generator.settings, guidance=0.0, **values)
    info = {"stems": p.bundle.stems + ["mix"], "settings": settings, "duration": duration, "seed": seed}
    return Submission({"settings": settings, "duration": duration, "seed": seed}, info, f"generated-{seed}")


async def arrange(form: Form, p: Pipelines, config: ServeConfig) -> Submission:
    stems = p.bundle.stems
    unknown = sorted(set(form.files) - set(stems))
    if unknown:
        raise FormError(400, f"unknown stem field(s) {unknown}: send each given stem as a file field named by "
                             f"its stem, one of {stems}")
    if not form.files:
        raise FormError(400, f"give at least one stem as a file field named by its stem, one of {stems}")
    fields = dict(form.fields)
    wanted = [s.strip() for s in fields.pop("generate", "").split(",") if s.strip()]
    open_stems = [s for s in stems if s not in form.files]
    bad = [s for s in wanted if s not in open_stems]
    if bad or not open_stems:
        raise FormError(422, f"cannot generate {bad or 'anything'}: choose from the stems not given, {open_stems}")
    values = check_caps(typed(fields, ARRANGE_FIELDS), config)
    seed = values.pop("seed", 0)
    settings = settings_of(p.arranger.settings, guidance=0.0, **values)
    given = {stem: await decoded(upload, config) for stem, upload in form.files.items()}
    inputs = {stem: display_name(upload.filename) for stem, upload in form.files.items()}
    info = {"stems": stems + ["mix"], "given": inputs, "generate": wanted or open_stems, "settings": settings,
            "seed": seed}
    params = {"given": given, "generate": wanted or None, "inputs": inputs, "seed": seed, "settings": settings}
    return Submission(params, info, "arranged")


KINDS = {"separate": separate, "generate": generate, "arrange": arrange}
