"""The HTTP API and the page, on FastAPI (Starlette underneath, served by uvicorn).

Why FastAPI: it is Starlette (a small, well-kept ASGI toolkit) plus an OpenAPI schema built
from the routes, which the issue asks for, at the cost of one dependency (pydantic). Bodies
are read by our own streaming reader (`uploads.py`) rather than FastAPI's `File()`, which
spools uploads to the system's temporary folder before any limit applies. Swagger UI loads
its assets from a CDN, so `/api/docs` is our own page built from the same schema.

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
from starlette.middleware.trustedhost import TrustedHostMiddleware

from msgld import SAMPLE_RATE, __version__
from msgld.serve import docs, submissions
from msgld.serve.config import ServeConfig
from msgld.serve.forms import CHOICES, FormError, display_name
from msgld.serve.jobs import Job, JobQueue, QueueFull
from msgld.serve.tasks import Pipelines, run_job
from msgld.serve.uploads import UploadError, read_form

STATIC = Path(__file__).parent / "static"
JOB_ID = re.compile(r"[0-9a-f]{32}")
MEDIA = {".wav": "audio/wav", ".zip": "application/zip", ".json": "application/json"}
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy",
                     b"default-src 'self'; connect-src 'self' blob:; media-src 'self' blob:; img-src 'self' data: blob:; "
                     b"object-src 'none'; frame-ancestors 'none'")]


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


def error(status: int, message: str, **headers) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers or None)


def create_app(bundle, config: ServeConfig = ServeConfig(), clock=time.time, root: Path | None = None) -> FastAPI:
    """The app over one loaded model (a ModelBundle); its job queue starts and stops with the
    app's lifespan. `clock` and `root` (the private folder) are for tests."""
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
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
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

    async def submit(request: Request, kind: str) -> JSONResponse:
        """A job with its own folder, the body read into it, checked, then queued (or the folder deleted)."""
        job = jobs.new_job(kind)  # 503 before the body is read when the queue is full
        try:
            form = await read_form(request, job.folder, config.max_upload_bytes)
            s = await submissions.KINDS[kind](form, pipelines, config)
            job.info, job.label = s.info, s.label
            jobs.submit(job, s.params)
        except BaseException:
            jobs.discard(job)
            raise
        return JSONResponse(view(job), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})

    @app.post("/api/separate", status_code=202, summary="Separate a mixture into stems", openapi_extra=docs.SEPARATE)
    async def separate(request: Request):
        """Upload one audio file (form field `file`); the job writes one WAV per stem (16 kHz; the
        stems sum to the input), run.json and stems.zip."""
        return await submit(request, "separate")

    @app.post("/api/generate", status_code=202, summary="Generate a new piece, every stem", openapi_extra=docs.GENERATE)
    async def generate(request: Request):
        """Form fields only (multipart or urlencoded; all optional); writes every stem and their mix."""
        return await submit(request, "generate")

    @app.post("/api/arrange", status_code=202, summary="Write the missing stems of an arrangement",
              openapi_extra=docs.ARRANGE)
    async def arrange(request: Request):
        """One file field per given stem, named by the stem; `generate` names the stems to write."""
        return await submit(request, "arrange")

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

        return {"loaded": {"name": bundle.folder.name, "stems": bundle.stems, "sample_rate": SAMPLE_RATE,
                           "window_seconds": bundle.window_samples / SAMPLE_RATE,
                           "text": getattr(bundle.ldm, "text_info", None) or None},
                "available": available_models(),
                "defaults": {"separate": type(pipelines.separator).defaults,
                             "generate": type(pipelines.generator).defaults},
                "choices": {k: list(v) for k, v in CHOICES.items()}}

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

    return app
