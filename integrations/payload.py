"""Reading vendor JSON safely: every shape error becomes a PayloadError (400), never a crash."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.errors import PayloadError


def load_json(raw_body: bytes) -> Any:
    """The parsed body; PayloadError when it is not UTF-8 JSON."""
    try:
        return json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise PayloadError("the body is not valid JSON") from error


def load_object(raw_body: bytes) -> dict[str, Any]:
    data = load_json(raw_body)
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    return data


def dig(data: Any, *path: str | int) -> Any:
    """data[path[0]][path[1]]..., or None where any step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(data, list) or not -len(data) <= step < len(data):
                return None
        elif not isinstance(data, dict):
            return None
        data = data[step] if isinstance(step, int) else data.get(step)
    return data


def obj(data: Any, *path: str | int, what: str | None = None) -> dict[str, Any]:
    """The object at path; PayloadError naming `what` when it is absent or not an object."""
    value = dig(data, *path)
    if not isinstance(value, dict):
        raise PayloadError(f"{what or '.'.join(map(str, path))} is missing or not an object")
    return value


def text(data: Any, *path: str | int, required: bool = False, what: str | None = None) -> str | None:
    """A string or number at path as text (ids come as either); None or PayloadError when absent."""
    value = dig(data, *path)
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        value = None
    elif isinstance(value, (int, float)):
        value = str(value)
    elif not isinstance(value, str):
        raise PayloadError(f"{what or '.'.join(map(str, path))} is not text")
    if value is None and required:
        raise PayloadError(f"{what or '.'.join(map(str, path))} is missing")
    return value.strip() if isinstance(value, str) else None


def full_name(*parts: str | None) -> str | None:
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return name or None
