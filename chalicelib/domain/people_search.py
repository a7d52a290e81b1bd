"""Finding and editing people from the admin API: queries, cursors, tag edits, the shapes shown
(pure rules; storage keeps one index item per search term, see people.search_terms)."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chalicelib.domain import fields, spreadsheet
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.fields import tag_key
from chalicelib.domain.folding import search_key
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.people import name_keys
from chalicelib.domain.person import Person

MAX_PAGE = 100
DEFAULT_PAGE = 25
_FILTERS = ("email", "phone", "name", "tag", "role")
CSV_COLUMNS = ("id", "name", "email", "roles", "tags", "created_at", "last_contact_at")


def encode_cursor(state: JsonObject) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> JsonObject:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise BadRequest("cursor is not one this API gave (pass `next` from the previous page as is)") from None
    if not isinstance(state, dict) or not isinstance(state.get("after"), str) or len(state["after"]) > 400:
        raise BadRequest("cursor is not one this API gave (pass `next` from the previous page as is)")
    return state


def page(query: Mapping[str, str]) -> tuple[int, str | None]:
    """?limit= (1..100, default 25) and ?cursor= (the `next` of the previous page)."""
    raw = query.get("limit")
    if raw is None:
        limit = DEFAULT_PAGE
    elif not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_PAGE}")
    else:
        limit = int(raw)
    cursor = query.get("cursor")
    return limit, (decode_cursor(cursor)["after"] if cursor else None)


@dataclass(frozen=True)
class Search:
    email: str | None
    name: str | None
    tag: str | None
    role: str | None
    limit: int
    after: str | None
    phone: str | None = None  # E.164; read through the index by its digest (phones.phone_key)

    def lead(self) -> tuple[str, str]:
        """The term the index is read by: a phone narrows most, then a name prefix, a tag, a role."""
        if self.phone:
            from chalicelib.domain.phones import phone_key

            return "phone", phone_key(self.phone)
        if self.name:
            return "name", self.name
        if self.tag:
            return "tag", self.tag
        return "role", self.role  # type: ignore[return-value]  # None only for an e-mail search, which reads no index

    def matches(self, person: Person) -> bool:
        return ((not self.phone or person.phone == self.phone)
                and (not self.name or any(key.startswith(self.name) for key in name_keys(person)))
                and (not self.tag or self.tag in {tag_key(t) for t in person.tags})
                and (not self.role or self.role in person.roles))

    def cursor(self, after: str | None) -> str | None:
        return encode_cursor({"by": list(self.lead()), "after": after}) if after else None


def parse(query: Mapping[str, str], region: str | None = None) -> Search:
    """The search a query asks for; a ?phone= is read in `region` (the tenant's phone_region, JP
    when None) unless it names its country, and searched by its E.164 form."""
    unknown = set(query) - {*_FILTERS, "limit", "cursor"}
    if unknown:
        raise BadRequest(f"unknown query parameters: {', '.join(sorted(unknown))}")
    if not any(query.get(name) for name in _FILTERS):
        raise BadRequest("give at least one of ?email=, ?phone=, ?name= (a prefix), ?tag=, ?role=")
    email = fields.email(query["email"]) if query.get("email") else None
    name = search_key(query["name"]) if query.get("name") else None  # folded as the names are (docs/search.md)
    if query.get("name") is not None and not name:
        raise BadRequest("name must have at least one letter")
    tag = fields.tag(query["tag"], "tag") if query.get("tag") else None
    role = fields.role(query["role"]) if query.get("role") else None
    phone = _phone(query["phone"], region) if query.get("phone") else None
    limit, after = page(query)
    search = Search(email=email, name=name, tag=tag, role=role, limit=limit, after=after, phone=phone)
    if query.get("cursor") and decode_cursor(query["cursor"]).get("by") != list(search.lead()):
        raise BadRequest("cursor belongs to another search: start again without it")
    return search


def _phone(typed: str, region: str | None) -> str:
    from chalicelib.domain import phones  # phonenumbers on first use (cold start)

    e164 = phones.read(typed[:40], region).e164 if len(typed) <= 40 else None
    if e164 is None:
        raise BadRequest("phone is not a telephone number (e.g. 090-1234-5678 or +81 90 1234 5678)")
    return e164


def tag_change(body: JsonObject) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    """{"tags": [...]} replaces the tags; {"add": [...], "remove": [...]} edits them."""
    unknown = set(body) - {"tags", "add", "remove"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    if not body or ("tags" in body and ({"add", "remove"} & set(body))):
        raise BadRequest('give either "tags" (the new list) or "add" and/or "remove"')
    lists = {name: fields.tags(body[name], name) for name in ("tags", "add", "remove") if name in body}

    def change(current: tuple[str, ...]) -> tuple[str, ...]:
        if "tags" in lists:
            result = lists["tags"]
        else:
            removed = {tag_key(t) for t in lists.get("remove", ())}
            kept = [t for t in current if tag_key(t) not in removed]
            seen = {tag_key(t) for t in kept}
            result = (*kept, *(t for t in lists.get("add", ()) if tag_key(t) not in seen))
        return fields.held_tags(result)

    return change


def summary(person: Person) -> JsonObject:
    """A search result: who, how to reach them, where they stand."""
    return {"id": person.person_id, "name": person.name, "email": person.email, "roles": list(person.roles),
            "tags": list(person.tags), "created_at": person.created_at, "last_contact_at": person.last_contact_at}


def csv_page(found: JsonObject) -> str:
    """A page of search results for a spreadsheet: one row per person, formula cells neutralised."""
    return spreadsheet.write(CSV_COLUMNS, ([person.get(column) for column in CSV_COLUMNS] for person in found["people"]))


def full(person: Person) -> JsonObject:
    """Every field held on the person's profile."""
    return {**summary(person), "phone": person.phone, "phone_display": person.phone_display, "locale": person.locale,
            "identities": list(person.identities),
            "consents": person.consents, "milestones": person.milestones,
            "applications": {key: {k: v for k, v in vars(track).items() if v is not None}
                             for key, track in person.tracks.items()}}


def profile_json(person: Person, timeline: list[JsonObject]) -> JsonObject:
    """A person as the admin API shows one: the summary, contact details, consents and timeline
    (re-applications and boomerangs flagged, see rediscovery)."""
    from chalicelib.domain import rediscovery
    return {**summary(person), "phone": person.phone, "phone_display": person.phone_display, "locale": person.locale,
            "consents": person.consents,
            "timeline": rediscovery.annotate(timeline)}
