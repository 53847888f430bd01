"""The API's documentation: the request bodies of the POST routes (OpenAPI fragments), and
`/api/docs`, the reference as one plain HTML page built from the app's OpenAPI schema
(FastAPI's Swagger UI loads its scripts from a CDN; nothing here leaves the machine). The raw
schema stays at `/api/openapi.json` for tools."""

from __future__ import annotations

from html import escape

from msgld.diffusion.samplers import SAMPLERS
from msgld.inference.separator import METHODS, RECONSTRUCT


def field(description: str, kind: str = "string", binary: bool = False) -> dict:
    return {"type": kind, "description": description, **({"format": "binary"} if binary else {})}


def form_body(properties: dict, required: tuple = ()) -> dict:
    """OpenAPI requestBody of a multipart form (the reader is ours, so FastAPI cannot infer it)."""
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return {"requestBody": {"required": bool(required), "content": {"multipart/form-data": {"schema": schema}}}}


SAMPLING = {"steps": field("sampler steps (default: the pipeline's)", "integer"),
            "sampler": field(f"one of {list(SAMPLERS)}"), "seed": field("seed of every random draw", "integer"),
            "eta": field("DDIM eta (0 = deterministic)", "number"),
            "prompt": field("text prompt (models with a text pathway only; separation: an extra hint)"),
            "text_guidance": field("guidance weight of the prompt", "number")}
SEPARATE = form_body({"file": field("the mixture: any audio file soundfile decodes", binary=True), **SAMPLING,
                      "guidance": field("classifier-free guidance weight w", "number"),
                      "overlap": field("overlap of model windows, seconds", "number"),
                      "ensemble": field("samples per window, averaged", "integer"),
                      "method": field(f"one of {list(METHODS)}"),
                      "reconstruct": field(f"one of {list(RECONSTRUCT)}")}, ("file",))
STEM_PROMPTS = field("per-stem descriptions STEM=TEXT separated by ';', e.g. guitar=nylon-string lead;bass=slap "
                     "bass (at most 500 characters; text models only): composed into the prompt as \"..., with a "
                     "slap bass and a nylon-string lead guitar\", which run.json records")
GIVEN_GUIDANCE = field("guidance weight of the given-stems pathway (default 8; 1: as trained)", "number")
GENERATE = form_body({"duration": field("seconds (default 10.24)", "number"), **SAMPLING,
                      "regenerate": field("passes that rewrite stems given the others after the joint draw "
                                          "(default 1; at most ServeConfig.max_regenerate, 4)", "integer"),
                      "given_guidance": GIVEN_GUIDANCE, "stem_prompts": STEM_PROMPTS})
ARRANGE = form_body({"STEM": field("one file field per given stem, named by the stem (e.g. drums)", binary=True),
                     "generate": field("comma-separated stems to write (default: all not given)"), **SAMPLING,
                     "given_guidance": GIVEN_GUIDANCE,
                     "stem_prompts": STEM_PROMPTS})


def fields_of(operation: dict) -> list[tuple[str, str, str, bool]]:
    """(name, type, description, required) of an operation's path parameters and form fields."""
    rows = [(p["name"], p.get("schema", {}).get("type", ""), f"in {p['in']}", p.get("required", False))
            for p in operation.get("parameters", [])]
    for content in operation.get("requestBody", {}).get("content", {}).values():
        schema = content.get("schema", {})
        for name, prop in schema.get("properties", {}).items():
            kind = "file" if prop.get("format") == "binary" else prop.get("type", "")
            rows.append((name, kind, prop.get("description", ""), name in schema.get("required", [])))
    return rows


def render(schema: dict) -> str:
    parts = [f"<h1>{escape(schema['info']['title'])} {escape(schema['info']['version'])}</h1>",
             f"<p>{escape(schema['info'].get('description', ''))}</p>",
             '<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a>. '
             'Example: <code>curl -F file=@song.wav http://127.0.0.1:8000/api/separate</code></p>']
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(f'<section><h2><span class="m">{method.upper()}</span> <code>{escape(path)}</code></h2>')
            parts.append(f"<p><b>{escape(op.get('summary', ''))}</b></p>")
            if op.get("description"):
                parts.append(f"<p>{escape(op['description'])}</p>")
            rows = fields_of(op)
            if rows:
                parts.append("<table><tr><th>field</th><th>type</th><th>about</th><th>required</th></tr>")
                parts += [f"<tr><td><code>{escape(n)}</code></td><td>{escape(t)}</td><td>{escape(d)}</td>"
                          f"<td>{'yes' if r else ''}</td></tr>" for n, t, d, r in rows]
                parts.append("</table>")
            codes = ", ".join(escape(c) for c in op.get("responses", {}))
            parts.append(f"<p>Responses: {codes}; errors are JSON <code>{{\"detail\": \"reason\"}}</code>.</p></section>")
    body = "\n".join(parts)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>msgld serve API</title>'
            f'<link rel="stylesheet" href="/static/style.css"></head><body class="docs"><main>{body}</main></body></html>')
