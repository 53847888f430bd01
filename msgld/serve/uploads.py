"""Reading a multipart/form-data body as it streams in.

The size limit is checked against Content-Length before anything is read, then against the
bytes counted while reading (a body without a length, or one that lies about it), so an
oversize upload is refused with 413 before it is stored. Each file part goes straight to a
random name in the job's own folder (the client's file name is kept only for messages);
text fields are small and stay in memory. python-multipart's streaming parser does the
parsing; nothing is spooled to the system's temporary folder.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

MAX_PARTS = 16
MAX_FIELD_BYTES = 16 * 1024


class UploadError(Exception):
    """A refused request body: `status` (413, 415, 400) and a reason for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class UploadedFile:
    field: str
    filename: str  # as the client sent it: for messages only, never a path
    path: Path
    size: int = 0


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


def too_large(max_bytes: int) -> UploadError:
    return UploadError(413, f"the upload is larger than this server's limit of {max_bytes / 2**20:.4g} MB "
                            "(msgld serve --max-upload-mb)")


def check_length(request: Request, max_bytes: int) -> None:
    """413 from the Content-Length header alone, before the body is read."""
    length = request.headers.get("content-length")
    if length is None:
        return
    if not length.strip().isdigit():
        raise UploadError(400, f"bad Content-Length header {length!r}")
    if int(length) > max_bytes:
        raise too_large(max_bytes)


class _PartWriter:
    """python-multipart callbacks: headers per part, then its data to a file or a buffer."""

    def __init__(self, folder: Path):
        self.folder, self.form = folder, Form()
        self.parts = 0
        self._reset()

    def _reset(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.header_field, self.header_value = bytearray(), bytearray()
        self.name, self.file, self.out, self.buffer = "", None, None, None

    def callbacks(self) -> dict:
        return {"on_part_begin": self._reset, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field, self.header_value = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadError(400, f"too many form fields (at most {MAX_PARTS})")
        kind, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if kind != b"form-data" or not name:
            raise UploadError(400, "a form part has no name (Content-Disposition: form-data; name=...)")
        if name in self.form.fields or name in self.form.files:
            raise UploadError(400, f"form field {name!r} was sent twice")
        self.name = name
        if b"filename" in params:
            path = self.folder / f"upload-{secrets.token_hex(8)}"
            self.file = UploadedFile(name, params[b"filename"].decode("utf-8", "replace"), path)
            self.out = open(path, "xb")
        else:
            self.buffer = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is not None:
            self.out.write(data[start:end])
            self.file.size += end - start
        else:
            self.buffer += data[start:end]
            if len(self.buffer) > MAX_FIELD_BYTES:
                raise UploadError(400, f"form field {self.name!r} is longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self.out is not None:
            self.close()
            if self.file.size or self.file.filename:  # a browser's empty file input sends neither
                self.form.files[self.name] = self.file
            else:
                self.file.path.unlink(missing_ok=True)
        elif self.buffer is not None:
            self.form.fields[self.name] = self.buffer.decode("utf-8", "replace")
        self._reset()

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


async def read_urlencoded(request: Request, max_bytes: int) -> Form:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > min(max_bytes, MAX_PARTS * MAX_FIELD_BYTES):
            raise too_large(max_bytes) if len(body) > max_bytes else UploadError(400, "form fields too long")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as e:
        raise UploadError(400, "form fields are not UTF-8") from e
    form = Form()
    for name, value in pairs:
        if name in form.fields:
            raise UploadError(400, f"form field {name!r} was sent twice")
        form.fields[name] = value
    return form


async def read_form(request: Request, folder: Path, max_bytes: int) -> Form:
    """The request's form: multipart/form-data (files written into `folder`, which the caller
    deletes on error), application/x-www-form-urlencoded (fields only), or no body at all."""
    check_length(request, max_bytes)
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind == b"application/x-www-form-urlencoded":
        return await read_urlencoded(request, max_bytes)
    if not kind and request.headers.get("content-length", "0") == "0":
        return Form()
    if kind != b"multipart/form-data":
        raise UploadError(415, "send the request as multipart/form-data (e.g. curl -F file=@song.wav URL)")
    if not params.get(b"boundary"):
        raise UploadError(400, "the multipart Content-Type has no boundary")
    writer = _PartWriter(folder)
    parser = MultipartParser(params[b"boundary"], writer.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except (FormParserError, MultipartParseError) as e:
        raise UploadError(400, f"malformed multipart body ({e})") from e
    except ClientDisconnect as e:
        raise UploadError(400, "the upload was interrupted") from e
    finally:
        writer.close()
    if writer.name:
        raise UploadError(400, "the multipart body ended inside a part (truncated upload?)")
    return writer.form
