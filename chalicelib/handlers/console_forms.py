"""The console's multipart/form-data forms (e18-admin: the import screen's file upload): read with the
standard library's `email` parser, the whole body at most UPLOAD_BYTES. The guard of
chalicelib/handlers/console.py reads the CSRF token of such a form from here; the handler the file.
Parsed once per request."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from chalice.app import Request

from chalicelib.domain.errors import Forbidden, PayloadTooLarge

MAX_PARTS = 24  # e20-content: the settings form has 18 fields


@dataclass(frozen=True)
class Multipart:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (file name, bytes)


def is_multipart(request: Request) -> bool:
    return (request.headers or {}).get("content-type", "").lower().startswith("multipart/form-data")


def read(request: Request) -> Multipart:
    """The form's text fields and files; 413 over UPLOAD_BYTES, 403 when it cannot be read at all."""
    cached = getattr(request, "_hub_multipart", None)
    if isinstance(cached, Multipart):
        return cached
    from chalicelib.services.common import MAX_BODY_BYTES  # on first use: the services package is cold-start cost

    raw = request.raw_body or b""
    if len(raw) > 2 * MAX_BODY_BYTES + 64 * 1024:  # UPLOAD_BYTES: a file of MAX_BODY_BYTES in base64 on the commit form, and the rest
        raise PayloadTooLarge(f"the upload is over {MAX_BODY_BYTES} bytes: split the file")
    from email.parser import BytesParser
    from email.policy import HTTP

    content_type = (request.headers or {}).get("content-type", "")
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw)
    if not message.is_multipart():
        raise Forbidden("the form could not be read")
    parts = list(message.iter_parts())
    if len(parts) > MAX_PARTS:
        raise Forbidden("the form has too many fields")
    found = Multipart()
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            found.files[name] = (filename, data)
        else:
            found.fields[name] = data.decode("utf-8", "replace")
    with contextlib.suppress(AttributeError):
        request._hub_multipart = found  # type: ignore[attr-defined]
    return found
