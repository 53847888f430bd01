"""The HTTP API and the page, on FastAPI (Starlette underneath, served by uvicorn).

Why FastAPI: it is Starlette (a small, well-kept ASGI toolkit) plus an OpenAPI schema built
from the routes, which the issue asks for, at the cost of one dependency (pydantic). The
bodies are read with our own streaming reader (`uploads.py`) rather than FastAPI's `File()`,
which would spool uploads to the system's temporary folder before any limit applies. Swagger
UI loads its assets from a CDN, so `/api/docs` is our own page built from the same schema.

Routes: `POST /api/separate | /api/generate | /api/arrange` -> 202 and a job;
`GET /api/jobs/{id}`; `GET /api/jobs/{id}/files/{name}`; `DELETE /api/jobs/{id}`;
`GET /api/models`; `GET /api/health`; `GET /` the page; `/static/*` its assets.
"""

from __future__ import annotations

import re
import time
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from msgld import SAMPLE_RATE, __version__
from msgld.diffusion.samplers import SAMPLERS
from msgld.inference import ModelBundle
from msgld.inference.separator import METHODS, RECONSTRUCT
from msgld.serve import docs
from msgld.serve.config import ServeConfig
from msgld.serve.forms import (
    ARRANGE_FIELDS, GENERATE_FIELDS, SEPARATE_FIELDS, FormError, check_caps, decode, display_name, safe_label, typed,
)
from msgld.serve.jobs import Job, JobQueue, QueueFull
from msgld.serve.tasks import Pipelines, run_job
from msgld.serve.uploads import Form, UploadError, UploadedFile, read_form

STATIC = Path(__file__).parent / "static"
JOB_ID = re.compile(r"[0-9a-f]{32}")
MEDIA = {".wav": "audio/wav", ".zip": "application/zip", ".json": "application/json"}
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy",
                     b"default-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; object-src 'none'")]


class SecurityHeaders:
    """ASGI middleware: the same safe headers on every response (pure ASGI: bodies still stream)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def field(description: str, kind: str = "string", binary: bool = False) -> dict:
    return {"type": kind, "description": description, **({"format": "binary"} if binary else {})}


def form_body(properties: dict, required: tuple = ()) -> dict:
    """OpenAPI requestBody of a multipart form (the reader is ours, so FastAPI cannot infer it)."""
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return {"requestBody": {"required": bool(required), "content": {"multipart/form-data": {"schema": schema}}}}


SAMPLING = {"steps": field("sampler steps (default: the pipeline's)", "integer"),
            "sampler": field(f"one of {list(SAMPLERS)}"), "seed": field("seed of every random draw", "integer"),
            "eta": field("DDIM eta (0 = deterministic)", "number")}
SEPARATE_DOC = form_body({"file": field("the mixture: any audio file soundfile decodes", binary=True), **SAMPLING,
                          "guidance": field("classifier-free guidance weight w", "number"),
                          "overlap": field("overlap of model windows, seconds", "number"),
                          "ensemble": field("samples per window, averaged", "integer"),
                          "method": field(f"one of {list(METHODS)}"),
                          "reconstruct": field(f"one of {list(RECONSTRUCT)}")}, ("file",))
GENERATE_DOC = form_body({"duration": field("seconds (default 10.24)", "number"), **SAMPLING})
ARRANGE_DOC = form_body({"STEM": field("one file field per given stem, named by the stem (e.g. drums)", binary=True),
                         "generate": field("comma-separated stems to write (default: all not given)"), **SAMPLING})


def create_app(bundle: ModelBundle, config: ServeConfig = ServeConfig(), clock=time.time,
               root: Path | None = None) -> FastAPI:
    """The app over one loaded model; its job queue starts and stops with the app's lifespan."""
    pipelines = Pipelines.of(bundle)
    jobs = JobQueue(partial(run_job, pipelines), capacity=config.queue_size, workers=config.workers,
                    ttl_s=config.job_ttl_s, clock=clock, root=root)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        jobs.start()
        try:
            yield
        finally:
            jobs.close()

    app = FastAPI(title="msgld serve", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json",
                  description="Separate, generate and arrange music stems with one multi-track latent "
                              "diffusion model. Every POST answers 202 with a job; poll it, then download its files.")
    app.state.jobs, app.state.pipelines, app.state.config = jobs, pipelines, config
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(config.allowed_hosts))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def error(status: int, message: str, **headers) -> JSONResponse:
        return JSONResponse({"detail": message}, status_code=status, headers=headers or None)

    app.add_exception_handler(UploadError, lambda r, e: error(e.status, e.message))
    app.add_exception_handler(FormError, lambda r, e: error(e.status, e.message))
    app.add_exception_handler(QueueFull, lambda r, e: error(503, str(e), **{"Retry-After": "30"}))

    def view(job: Job) -> dict:
        v = job.view(clock(), config.job_ttl_s)
        v["url"] = f"/api/jobs/{job.id}"
        v["queue_position"] = jobs.position(job)
        for f in v["files"]:
            f["url"] = f"/api/jobs/{job.id}/files/{f['name']}"
        return v

    def find(job_id: str) -> Job:
        job = jobs.get(job_id) if JOB_ID.fullmatch(job_id) else None
        if job is None:
            raise FormError(404, "no such job (it expired, was deleted, or never existed)")
        return job

    def settings_of(make, **values) -> dict:
        try:
            return make(**values)
        except ValueError as e:  # the pipeline's own validation, worded for the user
            raise FormError(422, str(e)) from None

    async def submitted(request: Request, kind: str, fill) -> JSONResponse:
        """Create a job, read the body into its folder, let `fill(job, form)` -> params, queue it."""
        job = jobs.new_job(kind)  # 503 before the body is read when the queue is full
        try:
            form = await read_form(request, job.folder, config.max_upload_bytes)
            params = await fill(job, form)
            jobs.submit(job, params)
        except BaseException:
            jobs.discard(job)
            raise
        return JSONResponse(view(job), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})

    def only_fields(form: Form) -> None:
        if form.files:
            raise FormError(400, f"this endpoint takes no files, got {sorted(form.files)}")

    async def decoded(upload: UploadedFile):
        audio = await run_in_threadpool(decode, upload, config)
        upload.path.unlink(missing_ok=True)  # decoded: the upload is no longer needed
        return audio

    @app.post("/api/separate", status_code=202, summary="Separate a mixture into stems", openapi_extra=SEPARATE_DOC)
    async def separate(request: Request):
        """Upload one audio file (form field `file`); the job writes one WAV per stem (16 kHz; the
        stems sum to the input), run.json and stems.zip."""

        async def fill(job: Job, form: Form) -> dict:
            if "file" not in form.files or len(form.files) > 1:
                raise FormError(400, "send exactly one audio file as the form field 'file' "
                                     f"(got {sorted(form.files) or 'none'})")
            values = check_caps(typed(form.fields, SEPARATE_FIELDS), config)
            settings = settings_of(pipelines.separator.settings, **values)
            upload = form.files["file"]
            audio = await decoded(upload)
            name = display_name(upload.filename)
            job.label = safe_label(upload.filename)
            job.info = {"stems": bundle.stems, "input": name, "settings": settings,
                        "audio_seconds": round(len(audio) / SAMPLE_RATE, 3)}
            return {"audio": audio, "settings": settings, "input": name}

        return await submitted(request, "separate", fill)

    @app.post("/api/generate", status_code=202, summary="Generate a new piece, every stem", openapi_extra=GENERATE_DOC)
    async def generate(request: Request):
        """Form fields only (multipart or urlencoded; all optional); writes every stem and their mix."""

        async def fill(job: Job, form: Form) -> dict:
            only_fields(form)
            values = check_caps(typed(form.fields, GENERATE_FIELDS), config)
            duration, seed = values.pop("duration", 10.24), values.pop("seed", 0)
            settings = settings_of(pipelines.generator.settings, guidance=0.0, **values)
            job.label = f"generated-{seed}"
            job.info = {"stems": bundle.stems + ["mix"], "settings": settings, "duration": duration, "seed": seed}
            return {"settings": settings, "duration": duration, "seed": seed}

        return await submitted(request, "generate", fill)

    @app.post("/api/arrange", status_code=202, summary="Write the missing stems of an arrangement",
              openapi_extra=ARRANGE_DOC)
    async def arrange(request: Request):
        """One file field per given stem, named by the stem; `generate` names the stems to write."""

        async def fill(job: Job, form: Form) -> dict:
            stems = bundle.stems
            unknown = sorted(set(form.files) - set(stems))
            if unknown:
                raise FormError(400, f"unknown stem field(s) {unknown}: send each given stem as a file field "
                                     f"named by its stem, one of {stems}")
            if not form.files:
                raise FormError(400, f"give at least one stem as a file field named by its stem, one of {stems}")
            fields = dict(form.fields)
            wanted = [s.strip() for s in fields.pop("generate", "").split(",") if s.strip()]
            open_stems = [s for s in stems if s not in form.files]
            bad = [s for s in wanted if s not in open_stems]
            if bad or not (wanted or open_stems):
                raise FormError(422, f"cannot generate {bad or 'anything'}: choose from the stems not given, "
                                     f"{open_stems}")
            values = check_caps(typed(fields, ARRANGE_FIELDS), config)
            seed = values.pop("seed", 0)
            settings = settings_of(pipelines.arranger.settings, guidance=0.0, **values)
            given = {stem: await decoded(upload) for stem, upload in form.files.items()}
            inputs = {stem: display_name(upload.filename) for stem, upload in form.files.items()}
            job.label = "arranged"
            job.info = {"stems": stems + ["mix"], "given": inputs, "generate": wanted or open_stems,
                        "settings": settings, "seed": seed}
            return {"given": given, "generate": wanted or None, "inputs": inputs, "seed": seed, "settings": settings}

        return await submitted(request, "arrange", fill)

    @app.get("/api/jobs/{job_id}", summary="A job's state, progress, error and files")
    def get_job(job_id: str):
        return view(find(job_id))

    @app.delete("/api/jobs/{job_id}", summary="Delete a job and its files (a running job stops)")
    def delete_job(job_id: str):
        job = find(job_id)
        jobs.delete(job.id)
        return {"id": job.id, "deleted": True}

    @app.get("/api/jobs/{job_id}/files/{name}", summary="Download one of a job's files (a stem, run.json, stems.zip)",
             response_class=FileResponse)
    def get_file(job_id: str, name: str):
        job = find(job_id)
        path = job.files.get(name)  # only names the job registered; the client's text is never a path
        if path is None or not path.exists():
            raise FormError(404, f"this job has no file {display_name(name)!r}; it has {list(job.files)}")
        return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                            filename=f"{job.label}-{name}")

    @app.get("/api/models", summary="The loaded model, the shipped ones, and the pipelines' defaults")
    def models():
        from msgld.inference.bundle import available_models
        from msgld.inference.generator import Generator
        from msgld.inference.separator import Separator

        return {"loaded": {"name": bundle.folder.name, "stems": bundle.stems, "sample_rate": SAMPLE_RATE,
                           "window_seconds": bundle.window_samples / SAMPLE_RATE},
                "available": available_models(),
                "defaults": {"separate": Separator.defaults, "generate": Generator.defaults},
                "choices": {"sampler": list(SAMPLERS), "method": list(METHODS), "reconstruct": list(RECONSTRUCT)}}

    @app.get("/api/health", summary="Liveness, queue and limits")
    def health():
        jobs.sweep()
        return {"status": "ok", "version": __version__, "model": bundle.folder.name, "stems": bundle.stems,
                "jobs": {"waiting": jobs.waiting(), "running": jobs.running(), "capacity": config.queue_size,
                         "workers": config.workers},
                "limits": {"max_upload_mb": config.max_upload_mb, "max_duration_s": config.max_duration_s,
                           "max_audio_s": config.max_audio_s, "max_steps": config.max_steps,
                           "job_ttl_s": config.job_ttl_s}}

    @app.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs():
        return docs.render(app.openapi())

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.add_middleware(SecurityHeaders)
    return app
