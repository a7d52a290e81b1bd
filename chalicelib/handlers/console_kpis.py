"""The console's KPI screen (issue 20 point 5; docs/console.md "Agencies, segments, campaigns, KPIs"):
the dashboard moved into the console. The same service as GET /admin/tenants/{t}/kpis (`Kpis.kpis`:
from/to as the tenant's local days, default the last 30; `by` a cut), the dashboard's SVG pieces
(chalicelib/handlers/dashboard.py), and the daily series as CSV through domain/spreadsheet.py
(formula cells neutralised). Aggregates only: no personal data, nothing audited."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain import kpis, spreadsheet
from chalicelib.domain.errors import BadRequest
from chalicelib.handlers import dashboard
from chalicelib.handlers.console import HEADERS, _locale, guarded
from chalicelib.handlers.console_programs import page

if TYPE_CHECKING:
    from chalicelib.domain.console import ConsoleSession

RATES = tuple(dashboard.RATE_COLORS)


def _query(request: Request) -> dict[str, str]:
    query = request.query_params or {}
    return {k: query[k].strip() for k in ("from", "to", "by") if (query.get(k) or "").strip()}


def _read(tenant: str, query: dict[str, str]) -> dict[str, Any]:
    return wiring.hub().kpis.kpis(tenant, query.get("from"), query.get("to"), query.get("by"))


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A series day as flat columns: nested objects joined with dots (career_relay.consents)."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        flat.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def series_csv(answer: dict[str, Any]) -> str:
    """The daily series of GET .../kpis as CSV: one row a day, one column per value (flattened)."""
    rows = [flatten(day) for day in answer["series"]]
    header = list(rows[0]) if rows else ["date"]
    return spreadsheet.write(header, ([row.get(name) for name in header] for row in rows))


def _percent(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


@guarded
def kpis_page(request: Request, session: ConsoleSession, tenant: str) -> Response:
    locale = _locale(request)
    labels = dashboard.LABELS[locale]
    query = _query(request)
    zone = wiring.hub().configuration.zone(tenant)
    try:
        answer = _read(tenant, query)
    except BadRequest as refused:
        return page(request, session, tenant, "kpis", 400, error=refused.message, query=query, zone=zone, answer=None,
                    cut_names=kpis.CUTS)
    current = answer["current"]
    cards = [(labels["kpis"]["relations_retained"], str(current["relations_retained"] or 0))]
    cards += [(labels["kpis"][name], _percent(current[name])) for name in RATES]
    nps = current["brand_perception"]
    cards.append((labels["kpis"]["brand_perception"], "–" if nps is None else f"{nps * 100:+.0f}"))
    cuts = [(value, [_percent(c[name]) for name in RATES], c["people"]) for value, c in (answer.get("cuts") or {}).items()]
    channels = [(labels["channels"].get(name, name), steps)
                for name, steps in (current.get("career_relay_by_channel") or {}).items()]
    csv_query = {"from": answer["from"], "to": answer["to"], **({"lang": "en"} if locale == "en" else {})}
    return page(request, session, tenant, "kpis", query=query, zone=zone, answer=answer, labels=labels, cards=cards,
                bars=dashboard.funnel_bars(current["career_relay"], labels["funnel_steps"]),
                lines=dashboard.trend_lines(answer["series"]),
                legend=[(labels["kpis"][name], color) for name, color in dashboard.RATE_COLORS.items()],
                rate_names=[labels["kpis"][name] for name in RATES], cuts=cuts, channels=channels, cut_names=kpis.CUTS,
                csv_query=csv_query, error=None)


@guarded
def kpis_csv(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """GET /console/t/{tenant}/kpis.csv?from=&to=: the series GET .../kpis answers for the period."""
    query = _query(request)
    query.pop("by", None)
    try:
        answer = _read(tenant, query)
    except BadRequest as refused:
        return page(request, session, tenant, "kpis", 400, error=refused.message, query=query,
                    zone=wiring.hub().configuration.zone(tenant), answer=None, cut_names=kpis.CUTS)
    name = f"kpis-{tenant}-{answer['from']}-{answer['to']}.csv"
    return Response(body=series_csv(answer), status_code=200,
                    headers={**HEADERS, "Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="{name}"'})
