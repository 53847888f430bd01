"""`msgld serve`: a local web app and HTTP API over the Python inference API.

| module | holds |
| --- | --- |
| `config.py` | the server's limits and settings (`ServeConfig`) |
| `jobs.py` | `Job` (state, progress, files) and `JobQueue` (bounded queue, worker threads, expiry) |
| `uploads.py` | streaming multipart reader: size limit while streaming, files in the job's folder |
| `forms.py` | form fields -> typed settings, uploads -> decoded audio, with 4xx reasons |
| `submissions.py` | one function per endpoint: a request's form -> its job's parameters |
| `tasks.py` | what a worker runs: Separator / Generator / Arranger, stems and a zip written atomically |
| `app.py` | the FastAPI app: routes, security headers, the page |
| `docs.py` | the POST bodies' OpenAPI schemas and `/api/docs`, a page built from the schema (no CDN) |
| `static/` | the page: vanilla HTML, CSS and JS |
"""

from msgld.serve.config import ServeConfig

__all__ = ["ServeConfig"]
