"""`/api/docs`: the API reference as one plain HTML page, built from the app's OpenAPI schema
(FastAPI's Swagger UI loads its scripts from a CDN; nothing here leaves the machine). The raw
schema stays at `/api/openapi.json` for tools."""

from __future__ import annotations

from html import escape


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
