"""The admin API's lists (issue 18): a tenant's named documents (agencies, segments, campaigns) and a
segment's members, a page at a time: `?limit=` (1-100, default 25) and `?cursor=` (the `next` of
the previous page). Pure rules: what a page asks for, the cursors, which driver lists a member."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.people import search_terms
from chalicelib.domain.people_search import decode_cursor, encode_cursor, page
from chalicelib.domain.person import Person
from chalicelib.domain.segments import Segment

_OTHER_LIST = "cursor belongs to another list: start again without it"


def _known(query: Mapping[str, str]) -> None:
    unknown = set(query) - {"limit", "cursor"}
    if unknown:
        raise BadRequest(f"unknown query parameters: {', '.join(sorted(unknown))} (this list takes limit and cursor)")


def read_page(query: Mapping[str, str], listed: str) -> tuple[int, str | None]:
    """The page a list request asks for: its size and the name it starts after (None: the first)."""
    _known(query)
    limit, after = page(query)
    if query.get("cursor") and decode_cursor(query["cursor"]).get("by") != [listed]:
        raise BadRequest(_OTHER_LIST)
    return limit, after


def cursor(listed: str, after: str | None) -> str | None:
    """The `next` of a page of a list: None on the last page."""
    return encode_cursor({"by": [listed], "after": after}) if after else None


# -- a segment's members ------------------------------------------------------------------------

@dataclass(frozen=True)
class MembersPage:
    """Where a page of a segment's members starts: the driver (index term) read, and where in its
    index (None: at its start). Members are listed driver by driver, each under the first driver it holds."""

    limit: int
    driver: int
    after: str | None


def fingerprint(segment: Segment) -> str:
    """Names the expression a cursor was made for: a changed segment starts again, never mixes two."""
    return hashlib.sha256(segment.expression.encode()).hexdigest()[:16]


def read_members_page(query: Mapping[str, str], slug: str, segment: Segment) -> MembersPage:
    _known(query)
    limit, _ = page(query)
    if not query.get("cursor"):
        return MembersPage(limit, 0, None)
    state = decode_cursor(query["cursor"])
    driver = state.get("driver")
    if state.get("by") != ["segment", slug] or not isinstance(driver, int) or isinstance(driver, bool):
        raise BadRequest(_OTHER_LIST)
    if state.get("of") != fingerprint(segment) or not 0 <= driver < len(segment.drivers):
        raise BadRequest("the segment changed since this cursor was given: start again without it")
    return MembersPage(limit, driver, state["after"] or None)


def members_cursor(slug: str, segment: Segment, driver: int, after: str | None) -> str | None:
    """The `next` of a page of members: where the next page starts (the driver, and where in its
    index: None at its start); None when every driver was read."""
    if driver >= len(segment.drivers):
        return None
    return encode_cursor({"by": ["segment", slug], "of": fingerprint(segment), "driver": driver, "after": after or ""})


def listed_earlier(person: Person, segment: Segment, driver: int) -> bool:
    """Whether the person holds a driver before this one: then they were listed there (a member
    holding two drivers is listed once, under the first)."""
    held = search_terms(person)
    return any(term in held for term in segment.drivers[:driver])
