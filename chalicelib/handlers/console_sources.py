"""e20-sources: the console's 連携元 (sources) screen (issue 20; docs/console.md "Sources").

Every route is `guarded` (the one role table: admin) and calls the services the admin API calls
(SourceList, SourceDeliveries, Intake.poll_source, FailedWork), writing the same audit entries
(source.test, source.rotate, job.poll_sources, dead_letter.redrive) with the signed-in user as actor.
The webhook URL is a readonly input the user selects and copies: no script. A new secret is shown
once, on the page the rotation answers (never in a URL, a log or an audit entry)."""
from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.errors import Conflict, HubError, NotFound
from chalicelib.handlers.console import _form, _locale, guarded, redirect, render
from chalicelib.handlers.console_admin import TEXT as ADMIN_TEXT
from chalicelib.handlers.console_sources_text import SOURCES_TEXT
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalicelib.domain.console import ConsoleSession

LOG_PAGE = 50
_CURSOR = re.compile(r"^[0-9T:.Z+-]{10,40}#[0-9a-f]{1,16}$")


def _x(request: Request) -> dict[str, Any]:
    locale = _locale(request)
    return {**ADMIN_TEXT[locale], **SOURCES_TEXT[locale]}


def _local_time(tenant: str) -> Any:
    """Times as the tenant reads them: its time zone, to the minute (stored as UTC ISO)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(wiring.hub().configuration.zone(tenant))

    def when(value: str | None) -> str:
        if not value:
            return ""
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return when


def _page(request: Request, session: ConsoleSession, tenant: str, name: str, status: int = 200, **context: Any) -> Response:
    x = _x(request)
    return render(request, name, status, x=x, tenant=tenant, csrf=session.csrf, screen="sources", when=_local_time(tenant),
                  lang_q="?lang=en" if _locale(request) == "en" else "",
                  role=wiring.hub().console.grants(session).role_name(tenant), title=context.pop("title", x["sources_title"]),
                  **context)


def _age(x: dict[str, Any], seconds: int | None) -> str:
    if seconds is None:
        return "-"
    minutes = max(seconds // 60, 0)
    if minutes < 60:
        return str(x["minutes"]).format(n=minutes)
    if minutes < 24 * 60:
        return str(x["hours"]).format(n=minutes // 60)
    return str(x["days"]).format(n=minutes // (24 * 60))


def _dead_letters(x: dict[str, Any], tenant: str) -> list[dict[str, Any]]:
    try:
        found = wiring.hub().failed_work.list_dead_letters(tenant)["dead_letters"]
    except HubError as error:  # the queues unreachable: the screen still shows the sources
        logger.warning("dead letters not listed", extra={"error": error.code})
        return []
    return [{**item, "age": _age(x, item["age_s"])} for item in found]


@guarded
def sources_page(request: Request, session: ConsoleSession, tenant: str) -> Response:
    done = (request.query_params or {}).get("done")
    return _sources(request, session, tenant, notice=_x(request)["redriven"] if done == "redriven" else None)


def _sources(request: Request, session: ConsoleSession, tenant: str, status: int = 200,
             notice: str | None = None, error: str | None = None) -> Response:
    x = _x(request)
    sources = wiring.hub().source_list.list_sources(tenant)["sources"]
    return _page(request, session, tenant, "sources", status, sources=sources, dead_letters=_dead_letters(x, tenant),
                 notice=notice, error=error)


def _source(request: Request, session: ConsoleSession, tenant: str, source: str, status: int = 200,
            **context: Any) -> Response:
    hub = wiring.hub()
    try:
        found = next((s for s in hub.source_list.list_sources(tenant)["sources"] if s["source"] == source), None)
    except HubError:
        found = None
    if found is None:
        raise NotFound("no such source")
    cursor = (request.query_params or {}).get("cursor") or None
    if cursor is not None and not _CURSOR.match(cursor):
        cursor = None
    for key in ("error", "tested", "rotated", "ended", "polled"):
        context.setdefault(key, None)
    log = hub.deliveries.deliveries(tenant, source, {"limit": str(LOG_PAGE), **({"cursor": cursor} if cursor else {})})
    return _page(request, session, tenant, "source", status, title=f"{_x(request)['source_title']}: {source}", source=found,
                 log=log["deliveries"], next=log["next"], **context)


@guarded
def source_page(request: Request, session: ConsoleSession, tenant: str, source: str) -> Response:
    return _source(request, session, tenant, source)


def _act(request: Request, session: ConsoleSession, tenant: str, source: str, action: str, call: Any,
         key: str) -> Response:
    """Run an action through the service, audit it, answer the source page with its result."""
    try:
        result = call()
    except NotFound:
        raise
    except HubError as refused:
        return _source(request, session, tenant, source, 400, error=f"{_x(request)['cannot']}: {refused.message}")
    wiring.hub().console.audit(session, tenant, action, target=source)
    return _source(request, session, tenant, source, **{key: result})


@guarded
def send_test(request: Request, session: ConsoleSession, tenant: str, source: str) -> Response:
    return _act(request, session, tenant, source, "source.test",
                lambda: wiring.hub().deliveries.send_test(tenant, source), "tested")


@guarded
def rotate(request: Request, session: ConsoleSession, tenant: str, source: str) -> Response:
    end = _form(request).get("end_previous") == "1"
    return _act(request, session, tenant, source, "source.rotate",
                lambda: wiring.hub().deliveries.rotate_secret(tenant, source, end_previous=end), "rotated")


@guarded
def end_previous(request: Request, session: ConsoleSession, tenant: str, source: str) -> Response:
    return _act(request, session, tenant, source, "source.rotate",
                lambda: wiring.hub().deliveries.end_previous(tenant, source), "ended")


@guarded
def poll(request: Request, session: ConsoleSession, tenant: str, source: str) -> Response:
    def run() -> dict[str, Any]:
        intake = wiring.hub().intake
        intake.source_status(tenant, source)  # 404 unless connected
        if intake.is_pushed(source):
            raise Conflict("this source delivers webhooks: there is nothing to poll")
        return dict(intake.poll_source(tenant, source).to_json())
    return _act(request, session, tenant, source, "job.poll_sources", run, "polled")


@guarded
def redrive(request: Request, session: ConsoleSession, tenant: str) -> Response:
    x = _x(request)
    message_id = _form(request).get("id", "")
    lang = "&lang=en" if _locale(request) == "en" else ""
    if not message_id:
        return redirect(f"/console/t/{tenant}/sources{lang.replace('&', '?', 1)}")
    try:
        wiring.hub().failed_work.redrive(tenant, message_id)
    except NotFound:
        return _sources(request, session, tenant, 404, error=x["gone"])
    wiring.hub().console.audit(session, tenant, "dead_letter.redrive", target=message_id)
    return redirect(f"/console/t/{tenant}/sources?done=redriven{lang}")

