"""The console's 関係プール (people pool): search, bulk tags, CSV (docs/console.md, "People").

Every route is `guarded` (the one role table); every action calls the services the admin API
calls (People.search_people / tag_person, the CSV writer of people_search) and writes the same
audit entries, with the signed-in user as actor. Bad input answers a page saying what to fix."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.console_roles import Level
from chalicelib.domain.errors import BadRequest, HubError, NotFound
from chalicelib.handlers.console import HEADERS, MAX_FORM_BYTES, MAX_FORM_FIELDS, _locale, guarded, redirect, render
from chalicelib.handlers.console_people_text import PEOPLE_TEXT

if TYPE_CHECKING:
    from collections.abc import Callable

    from chalicelib.domain.console import ConsoleSession
    from chalicelib.domain.person import Person

PAGE_SIZE = 25
BULK_MAX = 50                      # people one bulk form may name (the form's field limit)
CSV_PAGES, CSV_PAGE = 20, 100      # the CSV download reads at most 2,000 people, a page at a time
SEARCH_KEYS = ("q", "tag", "role", "segment", "cursor")
_PHONE = re.compile(r"^[+＋]?[0-9０-９()（）\-－ー‐―−.．\s]{6,40}$")


def text(request: Request) -> dict[str, Any]:
    return PEOPLE_TEXT[_locale(request)]


def level(session: ConsoleSession, tenant: str) -> Level:
    return wiring.hub().console.grants(session).level_for(tenant)


def lang_suffix(request: Request, joiner: str = "?") -> str:
    return f"{joiner}lang=en" if _locale(request) == "en" else ""


def problem(request: Request, session: ConsoleSession, tenant: str, status: int, title: str, message: str,
            back: str) -> Response:
    """A 4xx page that says what to fix, with the way back."""
    return render(request, "people_message", status, title=title, message=message, back=back, tenant=tenant,
                  p=text(request), csrf=session.csrf)


def asked(request: Request) -> dict[str, str]:
    """The pool's query as the page was asked (only the keys the pool knows)."""
    params = request.query_params or {}
    return {key: value for key in SEARCH_KEYS if (value := (params.get(key) or "").strip()[:200])}


def service_query(tenant: str, search: dict[str, str], limit: int) -> tuple[dict[str, str], Callable[[Person], bool] | None, str]:
    """The people search the page's form stands for: the one box is an e-mail (with @), a phone
    (digits and dashes) or a name/reading prefix; a saved segment filters each page with its own
    rule (the nurture job's `matches`). Also the segment expression this search could be saved as."""
    query: dict[str, str] = {}
    q = search.get("q", "")
    if q:
        query["email" if "@" in q else "phone" if _PHONE.match(q) and sum(c.isdigit() for c in q) >= 6 else "name"] = q
    for key in ("tag", "role"):
        if search.get(key):
            query[key] = search[key]
    where = None
    if search.get("segment"):
        try:
            segment, where = wiring.hub().nurture.segment_filter(tenant, search["segment"])
        except NotFound:
            raise BadRequest(f"no segment named '{search['segment']}'") from None
        if not query:
            drivers = [d for d in segment.drivers if d[0] in ("tag", "role")]
            if len(segment.drivers) != 1 or not drivers:
                raise BadRequest(PEOPLE_TEXT["ja"]["segment_alone"] + " / " + PEOPLE_TEXT["en"]["segment_alone"])
            query[drivers[0][0]] = drivers[0][1]
    if search.get("cursor"):
        query["cursor"] = search["cursor"]
    query["limit"] = str(limit)
    expression = " AND ".join(f"{k}:\"{search[k]}\"" for k in ("tag", "role") if search.get(k))
    savable = expression if expression and not q and not search.get("segment") else ""
    return query, where, savable


def find(tenant: str, query: dict[str, str], where: Callable[[Person], bool] | None) -> tuple[list[Person], str | None]:
    hub = wiring.hub()
    region = hub.configuration.phone_region(tenant) if "phone" in query else None
    found = hub.people.find_people(tenant, query, region=region, where=where)
    return found.people, found.next


def row(person: Person) -> dict[str, Any]:
    from chalicelib.domain import person_page

    return {"id": person.person_id, "name": person_page.family_first(person), "kana": person.name_kana,
            "email": person.email, "phone": person.phone_display or person.phone, "roles": list(person.roles),
            "tags": list(person.tags)}


@guarded
def pool(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """GET /console/t/{tenant}/people: the search form, a page of results, the bulk tag form (editor+)."""
    from chalicelib.domain import person_page
    from chalicelib.domain.person import ROLES

    p, search, held = text(request), asked(request), level(session, tenant)
    context: dict[str, Any] = {
        "title": p["pool"], "p": p, "tenant": tenant, "search": search, "roles": ROLES, "csrf": session.csrf,
        "role_words": person_page.ROLES[_locale(request)], "editor": held >= Level.EDITOR, "admin": held >= Level.ADMIN,
        "people": None, "next": None, "error": None, "savable": "", "csv_max": CSV_PAGES * CSV_PAGE,
        "back": urlencode({k: v for k, v in search.items() if k != "cursor"}),
        "tagged": (request.query_params or {}).get("tagged", "")[:4]}
    if not any(search.get(key) for key in ("q", "tag", "role", "segment")):
        return render(request, "people", **context)
    try:
        query, where, context["savable"] = service_query(tenant, search, PAGE_SIZE)
        people, following = find(tenant, query, where)
    except BadRequest as error:
        return render(request, "people", 400, **{**context, "error": error.message})
    wiring.hub().console.audit(session, tenant, "people.search")
    context.update(people=[row(person) for person in people], next=following)
    return render(request, "people", **context)


def form_lists(request: Request) -> dict[str, list[str]]:
    """A console form with repeated fields (the ids of a bulk action); guarded checked its size and CSRF."""
    raw = request.raw_body or b""
    if len(raw) > MAX_FORM_BYTES:
        raise BadRequest("the form is too large")
    try:
        return parse_qs(raw.decode("utf-8"), max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form could not be read") from None


def back_to_pool(form: dict[str, list[str]]) -> str:
    """The pool's query the form came from, re-encoded with only the pool's own keys."""
    given = parse_qs((form.get("back") or [""])[0][:600])
    return urlencode({key: values[0][:200] for key, values in given.items() if key in SEARCH_KEYS and key != "cursor"})


@guarded
def bulk_tags(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """POST /console/t/{tenant}/people: add or remove one tag on the selected people (editor+).
    The same service as PATCH .../people/{id} and one `person.tags` audit entry per person."""
    p = text(request)
    try:
        form = form_lists(request)
        back = back_to_pool(form)
        ids = list(dict.fromkeys(form.get("id", [])))
        op = (form.get("op") or [""])[0]
        tag = (form.get("tag") or [""])[0].strip()
        if op not in ("add", "remove"):
            raise BadRequest("choose 追加 (add) or 外す (remove)")
        if not ids:
            raise BadRequest("select at least one person (チェックを入れてください)")
        if len(ids) > BULK_MAX:
            raise BadRequest(f"select at most {BULK_MAX} people at once")
        if not tag:
            raise BadRequest("enter the tag (タグ名を入れてください)")
        people, changed = wiring.hub().people, 0
        for person_id in ids:
            try:
                people.tag_person(tenant, person_id, {op: [tag]})
            except NotFound:
                continue  # erased or merged since the page was shown
            wiring.hub().console.audit(session, tenant, "person.tags", person_id)
            changed += 1
    except BadRequest as error:
        return problem(request, session, tenant, 400, p["bad_form"], error.message,
                       f"/console/t/{tenant}/people" + lang_suffix(request))
    query = "&".join(part for part in (back, f"tagged={changed}", lang_suffix(request, "")) if part)
    return redirect(f"/console/t/{tenant}/people?{query}")


@guarded
def pool_csv(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """GET /console/t/{tenant}/people.csv: the search's results as CSV (admin+), through the people
    CSV writer (formula cells neutralised), at most CSV_PAGES pages; audited as the API's search."""
    from chalicelib.domain import people_search

    p, search = text(request), asked(request)
    search.pop("cursor", None)
    back = f"/console/t/{tenant}/people?" + urlencode(search) + lang_suffix(request, "&")
    if not any(search.get(key) for key in ("q", "tag", "role", "segment")):
        return problem(request, session, tenant, 400, p["bad_search"], p["start"], back)
    rows: list[dict[str, Any]] = []
    try:
        for _ in range(CSV_PAGES):
            query, where, _ = service_query(tenant, search, CSV_PAGE)
            people, following = find(tenant, query, where)
            rows += [people_search.summary(person) for person in people]
            if not following:
                break
            search["cursor"] = following
    except (BadRequest, HubError) as error:
        return problem(request, session, tenant, 400, p["bad_search"], error.message, back)
    wiring.hub().console.audit(session, tenant, "people.search")
    return Response(body=people_search.csv_page({"people": rows}), status_code=200,
                    headers={**HEADERS, "Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="people-{tenant}.csv"'})
