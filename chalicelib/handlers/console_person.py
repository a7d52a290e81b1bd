"""The console's 人物 (one person): profile, roles and their history, timeline in words, consents
with their texts, provision records, notices, tags, suggested merges, export, erasure.

Same services and audit entries as the admin API (GET/PATCH/DELETE .../people/{id}, .../export,
.../merge), with the signed-in user as actor."""
from __future__ import annotations

import json
import unicodedata
from typing import TYPE_CHECKING, Any

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.console_roles import Level
from chalicelib.domain.errors import BadRequest, Conflict, NotFound
from chalicelib.handlers.console import HEADERS, _form, _locale, guarded, redirect, render
from chalicelib.handlers.console_people import lang_suffix, level, problem, text

if TYPE_CHECKING:
    from chalicelib.domain.console import ConsoleSession
    from chalicelib.domain.records import JsonDict, Profile

ERASE_WORD = "削除"
_TAG_SPLIT = str.maketrans({"、": ",", "，": ",", "\n": ","})


def _consents(tenant: str, consents: dict[str, Any], zone: str, locale: str) -> list[dict[str, Any]]:
    """Each consent with when, and the exact text the person saw (consent_texts), where kept."""
    from chalicelib.domain import person_page

    shown = []
    for purpose, consent in sorted(consents.items()):
        version = consent.get("text_version")
        text_shown = None
        if isinstance(version, str):
            try:
                text_shown = wiring.hub().configuration.consent_text(tenant, version).get("text")
            except NotFound:
                text_shown = None
        shown.append({"purpose": person_page.CONSENTS[locale].get(purpose, purpose), "given": bool(consent.get("given")),
                      "when": person_page.day(consent.get("at"), zone, locale), "version": version, "text": text_shown,
                      "channel": consent.get("channel")})
    return shown


def _page_context(request: Request, session: ConsoleSession, tenant: str, profile: Profile, record: JsonDict,
                  asked_id: str, merges: list[JsonDict]) -> dict[str, Any]:
    from chalicelib.domain import person_page, rediscovery

    hub, locale, held = wiring.hub(), _locale(request), level(session, tenant)
    zone = hub.configuration.zone(tenant)
    person = profile.person
    notices = [{**n, "when": person_page.day(n.get("decided_at") or n.get("due_at"), zone, locale)}
               for n in record["notices"]]
    provisions = [{**r, "when": person_page.day(r.get("provided_at") or r.get("at"), zone, locale),
                   "until": person_page.day(r.get("keep_until"), zone, locale)} for r in record["provisions"]]
    return {
        "title": person_page.family_first(person) or person.person_id, "p": text(request), "tenant": tenant,
        "csrf": session.csrf, "editor": held >= Level.EDITOR, "admin": held >= Level.ADMIN,
        "person": person, "full_name": person_page.family_first(person), "roles": person_page.roles(person, locale),
        "tracks": person_page.tracks(person, zone, locale),
        "timeline": person_page.timeline(rediscovery.annotate(profile.timeline), zone, locale),
        "consents": _consents(tenant, person.consents, zone, locale), "notices": notices, "provisions": provisions,
        "suppressed": bool(record.get("suppressed_for")), "merges": merges, "merged_from": asked_id
        if asked_id != person.person_id else None, "lang": lang_suffix(request), "erase_error": None, "confirm": ""}


def _person_page(request: Request, session: ConsoleSession, tenant: str, person_id: str, status: int = 200,
                 **extra: Any) -> Response:
    people = wiring.hub().people
    profile = people.person(tenant, person_id)
    if profile is None:
        raise NotFound("no such person")
    record = people.export_person(tenant, profile.person.person_id)
    held = level(session, tenant)
    if held < Level.ADMIN:
        record["provisions"] = []  # GET .../provisions is the admins' (the role table)
    merges = people.suggested_merges(tenant, profile)
    context = _page_context(request, session, tenant, profile, record, person_id, merges)
    context["show_provisions"] = held >= Level.ADMIN
    return render(request, "person", status, **{**context, **extra})


@guarded
def person(request: Request, session: ConsoleSession, tenant: str, person_id: str) -> Response:
    """GET /console/t/{tenant}/people/{person_id} (viewer+); audited as the API's read."""
    answer = _person_page(request, session, tenant, person_id)
    wiring.hub().console.audit(session, tenant, "person.read", person_id)
    return answer


def _to_person(request: Request, tenant: str, person_id: str) -> Response:
    return redirect(f"/console/t/{tenant}/people/{person_id}" + lang_suffix(request))


@guarded
def tags(request: Request, session: ConsoleSession, tenant: str, person_id: str) -> Response:
    """POST .../people/{person_id}/tags (editor+): `add` (comma separated) and/or `remove`, through
    the same service as PATCH .../people/{id}; one `person.tags` audit entry."""
    form = _form(request)
    add = [t.strip() for t in form.get("add", "").translate(_TAG_SPLIT).split(",") if t.strip()]
    remove = [form["remove"].strip()] if form.get("remove", "").strip() else []
    change: dict[str, list[str]] = {name: values for name, values in (("add", add), ("remove", remove)) if values}
    try:
        if not change:
            raise BadRequest("enter a tag to add (追加するタグを入れてください)")
        wiring.hub().people.tag_person(tenant, person_id, change)
    except BadRequest as error:
        p = text(request)
        return problem(request, session, tenant, 400, p["bad_form"], error.message,
                       f"/console/t/{tenant}/people/{person_id}" + lang_suffix(request))
    wiring.hub().console.audit(session, tenant, "person.tags", person_id)
    return _to_person(request, tenant, person_id)


@guarded
def export(request: Request, session: ConsoleSession, tenant: str, person_id: str) -> Response:
    """GET .../people/{person_id}/export (admin+): the admin export's JSON, as a download."""
    document = wiring.hub().people.export_person(tenant, person_id)
    wiring.hub().console.audit(session, tenant, "person.export", person_id)
    return Response(body=json.dumps(document, ensure_ascii=False), status_code=200,
                    headers={**HEADERS, "Content-Type": "application/json; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="{person_id}.json"'})


@guarded
def merge(request: Request, session: ConsoleSession, tenant: str, person_id: str) -> Response:
    """POST .../people/{person_id}/merge (admin+): `other` becomes part of this person (the service
    of POST .../people/{id}/merge; audited `person.merge` with both ids)."""
    p = text(request)
    other = _form(request).get("other", "").strip()
    try:
        if not other:
            raise BadRequest("choose the person to merge into this one (統合する人を選んでください)")
        merged = wiring.hub().people.merge_people(tenant, person_id, {"other": other})
    except (BadRequest, Conflict) as error:
        return problem(request, session, tenant, error.status, p["conflict"], error.message,
                       f"/console/t/{tenant}/people/{person_id}" + lang_suffix(request))
    wiring.hub().console.audit(session, tenant, "person.merge", f"{merged.person_id}+{merged.merged}")
    return _to_person(request, tenant, merged.person_id)


@guarded
def erase(request: Request, session: ConsoleSession, tenant: str, person_id: str) -> Response:
    """POST .../people/{person_id}/erase (admin+): typed confirmation (the id, or 削除), then the
    erase service of DELETE .../people/{id}; a page saying what went and what stays."""
    p = text(request)
    typed = unicodedata.normalize("NFKC", _form(request).get("confirm", "")).strip()
    if typed not in (person_id, unicodedata.normalize("NFKC", ERASE_WORD)):
        if wiring.hub().people.person(tenant, person_id) is None:
            raise NotFound("no such person")
        return _person_page(request, session, tenant, person_id, 400, confirm=typed[:100],
                            erase_error=p["erase_wrong"].format(id=person_id))
    answer = wiring.hub().people.erase_person(tenant, person_id)
    wiring.hub().console.audit(session, tenant, "person.erase", person_id)
    from chalicelib.domain import person_page

    zone = wiring.hub().configuration.zone(tenant)
    until = person_page.day(answer.get("kept_until"), zone, _locale(request))
    return render(request, "person_erased", title=p["erased_title"], p=p, tenant=tenant, csrf=session.csrf,
                  erased=person_id, kept=answer["provision_records_kept"], until=until, lang=lang_suffix(request))
