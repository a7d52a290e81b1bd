"""Reading vendor JSON safely: every shape error becomes a PayloadError (400), never a crash."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, overload

from chalicelib.domain.errors import PayloadError
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.names import NameParts


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


@overload
def text(data: Any, *path: str | int, required: Literal[True], what: str | None = None) -> str: ...
@overload
def text(data: Any, *path: str | int, required: bool = False, what: str | None = None) -> str | None: ...
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


def preferred_name(family: str | None, preferred: str | None) -> str | None:
    """The whole name with the person's preferred (called) name in place of the legal given name,
    in the reading order of its script (docs/names.md), or None when there is no preferred name (the
    hub then builds the name from the legal parts)."""
    return NameParts(family=family, given=preferred).display if preferred else None


def read_cursor(cursor: str | None, state: Callable[[JsonObject], JsonObject]) -> JsonObject:
    """A poller's JSON cursor (version 1) read through `state`; {} (a first run) when it is absent,
    unreadable or of another version, so a bad cursor restarts a source rather than stopping it."""
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        if not isinstance(data, dict) or data.get("v") != 1:
            return {}
        return state(data)
    except (ValueError, KeyError, TypeError, PayloadError):
        return {}


def write_cursor(state: JsonObject) -> str:
    """The cursor for a state (datetimes in the hub's one textual form)."""
    from chalicelib.domain.events import iso
    return json.dumps({"v": 1, **{k: iso(v) if isinstance(v, datetime) else v for k, v in state.items()}}, sort_keys=True)


def pass_start(last: datetime | None, now: datetime, *, every: timedelta, overlap: timedelta,
               first_lookback: timedelta) -> datetime | None:
    """Where a new polling pass over a whole list starts reading (overlapping the last pass, since
    late entries happen); None when the last pass is too recent for another."""
    if last is not None and now - last < every:
        return None
    return (last - overlap) if last is not None else now - first_lookback
