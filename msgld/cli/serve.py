"""`msgld serve`: the web page and HTTP API on http://127.0.0.1:8000 (see msgld/serve/)."""

from __future__ import annotations

import argparse
import logging

from msgld.cli.common import add_model_arguments, load_bundle_from_args

log = logging.getLogger(__name__)


def warn_if_public(host: str) -> None:
    from msgld.serve.config import LOCAL_HOSTS

    if host not in LOCAL_HOSTS:
        bar = "!" * 78
        log.warning("%s\nmsgld serve: listening on %s, NOT only on this machine: anyone who can reach this\n"
                    "address can upload files and use this computer's CPU/GPU. There is no login.\n"
                    "Use --host 127.0.0.1 unless you mean it.\n%s", bar, host, bar)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from msgld.serve.app import create_app
    except ImportError as e:
        raise ValueError(f"msgld serve needs its web packages ({e.name} is missing): "
                         "pip install 'msgld[serve]'") from None
    from msgld.serve.config import LOCAL_HOST_HEADERS, LOCAL_HOSTS, ServeConfig

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}")
    config = ServeConfig(max_upload_mb=args.max_upload_mb, queue_size=args.queue_size, workers=args.workers,
                         job_ttl_s=args.job_ttl_minutes * 60, max_duration_s=args.max_duration,
                         allowed_hosts=LOCAL_HOST_HEADERS if args.host in LOCAL_HOSTS else ("*",))
    warn_if_public(args.host)
    bundle = load_bundle_from_args(args)
    app = create_app(bundle, config)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    log.info("msgld serve: model %s (%s); open http://%s:%d/ (API docs at /api/docs); Ctrl-C stops",
             bundle.folder.name, ", ".join(bundle.stems), shown, args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.log_level == "debug")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="a local web page and HTTP API for separate, generate and arrange",
                              description="Serve the page and the HTTP API (one process, a job queue). Binds "
                                          "127.0.0.1 unless --host says otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="jobs run at once (threads sharing the model)")
    p.add_argument("--queue-size", type=int, default=16, help="jobs that may wait; more are answered 503")
    p.add_argument("--max-upload-mb", type=float, default=200.0, help="largest request body, MB (413 above)")
    p.add_argument("--max-duration", type=float, default=120.0, help="longest piece /api/generate writes, seconds")
    p.add_argument("--job-ttl-minutes", type=float, default=60.0,
                   help="finished jobs and their files are deleted this long after they end")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    add_model_arguments(p)
    p.set_defaults(func=run)
