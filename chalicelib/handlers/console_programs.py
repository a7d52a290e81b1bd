"""The console's agencies (with the slot ledger explained), segments and campaigns screens (issue 20,
points 3 and 4; docs/console.md "Agencies, segments, campaigns, KPIs"). Every route is wrapped in
`guarded` (the role table, the session, CSRF, the tenant) and calls the same services as the admin
API (`agencies`, `nurture`), writing the same audit entries with the signed-in user as actor. The KPI
screen is chalicelib/handlers/console_kpis.py."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain import segments
from chalicelib.domain.errors import BadRequest, Conflict, NotFound
from chalicelib.handlers import console_admin
from chalicelib.handlers.console import _form, _locale, guarded, redirect, render
from chalicelib.handlers.console_programs_text import TEXT

if TYPE_CHECKING:
    from chalicelib.domain.console import ConsoleSession

_POSITION = re.compile(r"^position (\d+): (.*)$", re.S)
FIRST_MEMBERS = 10
EDITORS = ("editor", "admin", "platform-admin")
ADMINS = ("admin", "platform-admin")


def page(request: Request, session: ConsoleSession, tenant: str, name: str, status: int = 200, **context: Any) -> Response:
    """A screen of this part: the console's words and menu (console_admin's) with this part's words."""
    locale = _locale(request)
    x = {**console_admin.TEXT[locale], **TEXT[locale]}
    context.setdefault("title", x[f"{name.split('_')[0]}_title"])
    context.setdefault("saved_segment", None)
    context.setdefault("one", False)
    role = wiring.hub().console.grants(session).role_name(tenant)
    return render(request, name, status, x=x, tenant=tenant, csrf=session.csrf, role=role,
                  lang_q="?lang=en" if locale == "en" else "", lang_a="&lang=en" if locale == "en" else "",
                  editor=role in EDITORS, admin=role in ADMINS, **context)


def back(request: Request, path: str, done: str) -> Response:
    return redirect(f"{path}?done={done}" + ("&lang=en" if _locale(request) == "en" else ""))


def _known(call: Any) -> Any:
    """A read of a named thing: an unknown name (or a malformed one) is the console's 404 page."""
    try:
        return call()
    except BadRequest:
        raise NotFound("no such page") from None


# -- agencies ----------------------------------------------------------------------------------------

def _paused(agency: dict[str, Any], x: dict[str, Any]) -> str | None:
    if not agency.get("paused"):
        return None
    why = agency.get("paused_why")
    reason = x["why_failures"].format(n=agency.get("consecutive_failures", 0)) if why == "failures" else x.get(f"why_{why}", why)
    return f"{x['paused_until'].format(until=(agency.get('paused_until') or '')[:16].replace('T', ' '))}: {reason}"


def _all_agencies(tenant: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    for _ in range(10):  # at most 10 pages of the list
        answer = wiring.hub().agencies.list_agencies(tenant, {"limit": "100", **({"cursor": cursor} if cursor else {})})
        found += answer["agencies"]
        cursor = answer["next"]
        if not cursor:
            break
    return found


@guarded
def agencies(request: Request, session: ConsoleSession, tenant: str) -> Response:
    x = TEXT[_locale(request)]
    listed = [{**a, "why": _paused(a, x)} for a in _all_agencies(tenant)]
    return page(request, session, tenant, "agencies", agencies=listed)


def _consent_versions(tenant: str, agency: dict[str, Any], ledger: dict[str, Any]) -> list[dict[str, Any]]:
    """The agency's consent versions: the current one and every one referrals were sent under, each
    with the facts it stands for (the consent_text document, as GET .../consent_texts/{version})."""
    versions = [agency["consent_version"]]
    versions += [e["consent_version"] for e in reversed(ledger["entries"])
                 if e.get("consent_version") and e["consent_version"] not in versions]
    shown = []
    for version in versions[:10]:
        try:
            text = wiring.hub().configuration.consent_text(tenant, version)
        except NotFound:
            text = {"version": version}
        used = sum(int(e.get("referrals", 0)) for e in ledger["entries"] if e.get("consent_version") == version)
        shown.append({**text, "current": version == agency["consent_version"], "sent": used})
    return shown


def _agency_page(request: Request, session: ConsoleSession, tenant: str, slug: str, status: int = 200,
                 error: str | None = None) -> Response:
    hub = wiring.hub()
    x = TEXT[_locale(request)]
    view = _known(lambda: hub.agencies.agency_view(tenant, slug))
    ledger = hub.agencies.ledger(tenant, slug)
    listed = next((a for a in _all_agencies(tenant) if a["slug"] == slug), {})
    done = (request.query_params or {}).get("done")
    return page(request, session, tenant, "agencies_detail", status, title=view["name"], agency=view, ledger=ledger,
                entries=list(reversed(ledger["entries"])), why=_paused(listed, x), paused=bool(listed.get("paused")),
                auth=bool(listed.get("secrets", {}).get("auth")), versions=_consent_versions(tenant, view, ledger),
                batches=view.get("recent_batches", []), error=error, notice=x["used_done"] if done == "used" else None)


@guarded
def agency(request: Request, session: ConsoleSession, tenant: str, slug: str) -> Response:
    return _agency_page(request, session, tenant, slug)


@guarded
def use_slot(request: Request, session: ConsoleSession, tenant: str, slug: str) -> Response:
    """Admin: one slot used with a reason, through the admin API's service; audited `slot.use`."""
    x = TEXT[_locale(request)]
    hub = wiring.hub()
    _known(lambda: hub.agencies.agency(tenant, slug))
    reason = _form(request).get("note", "").strip()
    if not reason or len(reason) > 500:
        return _agency_page(request, session, tenant, slug, 400, error=x["need_reason"])
    try:
        hub.agencies.use_slot(tenant, slug, {"note": reason}, by=session.identity.actor)
    except Conflict:
        return _agency_page(request, session, tenant, slug, 409, error=x["no_slot"])
    hub.console.audit(session, tenant, "slot.use", target=slug)
    return back(request, f"/console/t/{tenant}/agencies/{slug}", "used")


# -- segments ----------------------------------------------------------------------------------------

def _error_at(message: str, x: dict[str, Any]) -> tuple[str, int | None]:
    """A parse error's message and its position (1-based), when it names one."""
    found = _POSITION.match(message)
    if not found:
        return message, None
    return f"{x['error_at'].format(position=found.group(1))}: {found.group(2)}", int(found.group(1))


def _segment_form(x: dict[str, Any], slug: str, expression: str, description: str, error: str | None = None,
                  position: int | None = None, preview: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"slug": slug, "expression": expression, "description": description, "error": error, "position": position,
            "preview": preview, "fields": ", ".join(segments.FIELDS)}


def _count(request: Request, session: ConsoleSession, tenant: str, form: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The Count button (a GET of the editor with ?expression=): the count and first members of the
    expression as typed, nothing saved. People are shown: audited like the admin API's members list."""
    x = TEXT[_locale(request)]
    try:
        form["preview"] = wiring.hub().nurture.preview_expression(tenant, form["expression"], first=FIRST_MEMBERS)
    except BadRequest as refused:
        form["error"], form["position"] = _error_at(refused.message, x)
        return form, 400
    wiring.hub().console.audit(session, tenant, "segment.members", target=form["slug"] or None)
    return form, 200


@guarded
def segments_page(request: Request, session: ConsoleSession, tenant: str) -> Response:
    query = request.query_params or {}
    x = TEXT[_locale(request)]
    form = _segment_form(x, query.get("segment", ""), query.get("expression", ""), query.get("description", ""))
    status = 200
    if "expression" in query:
        form, status = _count(request, session, tenant, form)
    listed = wiring.hub().nurture.list_segments(tenant, {"limit": "100"})
    return page(request, session, tenant, "segments", status, segments=listed["segments"], form=form,
                notice=x["saved_done"] if query.get("done") == "saved" else None)


@guarded
def segment(request: Request, session: ConsoleSession, tenant: str, slug: str) -> Response:
    query = request.query_params or {}
    x = TEXT[_locale(request)]
    hub = wiring.hub()
    saved = _known(lambda: hub.nurture.segment_preview(tenant, slug))
    status = 200
    if "expression" in query:
        form, status = _count(request, session, tenant, _segment_form(x, slug, query["expression"], query.get("description", "")))
    else:
        form = _segment_form(x, slug, saved["expression"], saved.get("description") or "")
        members = hub.nurture.segment_members(tenant, slug, {"limit": str(FIRST_MEMBERS)})
        form["preview"] = {**saved, "people": members["people"]}
        hub.console.audit(session, tenant, "segment.members", target=slug)
    return page(request, session, tenant, "segments", status, title=slug, saved_segment=saved, form=form, segments=None,
                notice=x["saved_done"] if query.get("done") == "saved" else None)


@guarded
def save_segment(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """Editor: `op=count` counts the expression as typed; else PUT segment's service
    (`nurture.put_segment`): a parse error at its position next to the editor (400, nothing saved);
    audited `segment.change`."""
    fields = _form(request)
    x = TEXT[_locale(request)]
    slug, expression, description = (fields.get(k, "").strip() for k in ("segment", "expression", "description"))
    if fields.get("op") == "count":  # the editor's Count button: nothing saved
        form, status = _count(request, session, tenant, _segment_form(x, slug, expression, description))
        listed = wiring.hub().nurture.list_segments(tenant, {"limit": "100"})
        return page(request, session, tenant, "segments", status, segments=listed["segments"], form=form, notice=None)
    body: dict[str, Any] = {"expression": expression, **({"description": description} if description else {})}
    try:
        stored = wiring.hub().nurture.put_segment(tenant, slug, body)
    except BadRequest as refused:
        form = _segment_form(x, slug, expression, description)
        form["error"], form["position"] = _error_at(refused.message, x)
        listed = wiring.hub().nurture.list_segments(tenant, {"limit": "100"})
        return page(request, session, tenant, "segments", 400, segments=listed["segments"], form=form, notice=None)
    wiring.hub().console.audit(session, tenant, "segment.change", target=stored["segment"])
    return back(request, f"/console/t/{tenant}/segments/{stored['segment']}", "saved")


# -- campaigns ---------------------------------------------------------------------------------------

def cadence_words(cadence: dict[str, Any], x: dict[str, Any]) -> str:
    if "every" in cadence:
        return str(x["yearly"].format(anchor=x["anchors"].get(cadence.get("on"), cadence.get("on"))))
    return str(x["after"].format(anchor=x["anchors"].get(cadence.get("after"), cadence.get("after")), days=cadence.get("days")))


def _campaign_view(found: dict[str, Any], x: dict[str, Any]) -> dict[str, Any]:
    stats = found.get("stats") or {}
    skipped = stats.get("skipped") or {}
    return {**found, "paused": not found.get("active", True), "cadence_words": cadence_words(found.get("cadence") or {}, x),
            "sent": stats.get("sent", 0), "deferred": stats.get("deferred", 0), "skipped_total": sum(skipped.values()),
            "skipped_by": sorted(((x["skip_reasons"].get(k, k), k, v) for k, v in skipped.items()), key=lambda r: -r[2])}


@guarded
def campaigns(request: Request, session: ConsoleSession, tenant: str) -> Response:
    x = TEXT[_locale(request)]
    listed = wiring.hub().nurture.list_campaigns(tenant, {"limit": "100"})
    return page(request, session, tenant, "campaigns", campaigns=[_campaign_view(c, x) for c in listed["campaigns"]],
                notice=None)


@guarded
def campaign(request: Request, session: ConsoleSession, tenant: str, slug: str) -> Response:
    x = TEXT[_locale(request)]
    found = _known(lambda: wiring.hub().nurture.campaign(tenant, slug))
    done = (request.query_params or {}).get("done")
    return page(request, session, tenant, "campaigns", title=slug, campaigns=[{**_campaign_view(found, x), "campaign": slug}],
                one=True, notice=x.get(f"{done}_done") if done in ("paused", "resumed") else None)


def _active(active: bool):  # type: ignore[no-untyped-def]
    @guarded
    def route(request: Request, session: ConsoleSession, tenant: str, slug: str) -> Response:
        """Editor: pause or resume through PUT campaign's service (`active`); audited `campaign.change`."""
        hub = wiring.hub()
        found = _known(lambda: hub.nurture.campaign(tenant, slug))
        body = {k: found[k] for k in ("segment", "template_kind", "cadence") if k in found}
        hub.nurture.put_campaign(tenant, slug, {**body, "active": active})
        hub.console.audit(session, tenant, "campaign.change", target=slug)
        return back(request, f"/console/t/{tenant}/campaigns/{slug}", "resumed" if active else "paused")
    return route


pause_campaign = _active(False)
resume_campaign = _active(True)
