"""GET /admin/tenants/{tenant}/dashboard: the KPIs for HR admins, server-rendered, charts as
inline SVG, no outside assets, ja/en."""
from __future__ import annotations

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.handlers.http import api, authorize
from chalicelib.handlers.pages import HEADERS

LABELS = {
    "ja": {"title": "採用リレーション ダッシュボード", "period": "期間", "funnel": "キャリアリレーのファネル",
           "trends": "KPIの推移（日別）", "agencies": "人材紹介会社と無料紹介枠", "none": "データがありません",
           "kpis": {"relations_retained": "関係維持人数", "recontact_rate": "再接触率", "reapplication_rate": "再応募率",
                    "alumni_reapplication_rate": "離職後再応募率", "brand_perception": "ブランド良認知度"},
           "funnel_steps": {"notices_sent": "通知送信", "links_opened": "リンク開封", "consents": "同意",
                            "referrals_sent": "紹介送信", "referrals_accepted": "紹介受理", "slots_earned": "獲得枠",
                            "slots_used": "使用枠"},
           "agency_cols": ("紹介会社", "送信", "受理", "獲得枠", "使用枠", "残り"),
           "by_channel": "経路別のファネル", "channel_cols": ("経路", "通知送信", "リンク開封", "同意"),
           "channels": {"hub_notice": "ハブからの通知", "ats_field": "ATSの項目", "invitation": "招待メール",
                        "standard_answer": "標準回答リンク"}},
    "en": {"title": "Recruiting relations dashboard", "period": "Period", "funnel": "Career Relay funnel",
           "trends": "KPI trends (daily)", "agencies": "Agencies and free referral slots", "none": "No data yet",
           "kpis": {"relations_retained": "Relations retained", "recontact_rate": "Re-contact rate",
                    "reapplication_rate": "Re-application rate", "alumni_reapplication_rate": "Alumni re-application rate",
                    "brand_perception": "Brand perception (NPS)"},
           "funnel_steps": {"notices_sent": "Notices sent", "links_opened": "Links opened", "consents": "Consents",
                            "referrals_sent": "Referrals sent", "referrals_accepted": "Accepted", "slots_earned": "Slots earned",
                            "slots_used": "Slots used"},
           "agency_cols": ("Agency", "Sent", "Accepted", "Earned", "Used", "Balance"),
           "by_channel": "Funnel by channel", "channel_cols": ("Channel", "Notices sent", "Links opened", "Consents"),
           "channels": {"hub_notice": "Hub notice", "ats_field": "ATS field", "invitation": "Invitation",
                        "standard_answer": "Standard answer link"}},
}
RATE_COLORS = {"recontact_rate": "#1f5fbf", "reapplication_rate": "#2e8b57", "alumni_reapplication_rate": "#c0632b"}


def funnel_bars(funnel: dict, labels: dict) -> list[dict]:
    top = max([v or 0 for v in funnel.values()] + [1])
    return [{"label": labels[name], "value": value or 0, "width": round(300 * (value or 0) / top, 1), "y": 10 + i * 30}
            for i, (name, value) in enumerate(funnel.items())]


def trend_lines(series: list[dict]) -> list[dict]:
    """Polylines of the daily rates in a 600x160 box (gaps where a rate has no denominator)."""
    count = max(len(series) - 1, 1)
    lines = []
    for name, color in RATE_COLORS.items():
        points = [f"{round(20 + 560 * i / count, 1)},{round(150 - 140 * day[name], 1)}"
                  for i, day in enumerate(series) if day.get(name) is not None]
        lines.append({"name": name, "color": color, "points": " ".join(points), "dots": points})
    return lines


def _percent(value) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


@api
def dashboard(request: Request, tenant: str) -> Response:
    authorize(request.headers, request.context, tenant)
    data = wiring.hub().kpis.dashboard(tenant)
    settings = data["settings"]
    query = request.query_params or {}
    locale = query.get("lang") if query.get("lang") in LABELS else (settings.default_locale if settings else "ja")
    text = LABELS[locale]
    current = data["current"]
    cards = [(text["kpis"]["relations_retained"], str(current["relations_retained"] or 0))]
    cards += [(text["kpis"][name], _percent(current[name])) for name in RATE_COLORS]
    nps = current["brand_perception"]
    cards.append((text["kpis"]["brand_perception"], "–" if nps is None else f"{nps * 100:+.0f}"))
    from chalicelib.adapters import templates  # Jinja2: ~20 ms of imports, on first page

    html = templates.page("dashboard", locale=locale, title=text["title"], t=text, cards=cards,
                          company=settings.company_name if settings else tenant, period=(data["from"], data["to"]),
                          bars=funnel_bars(current["career_relay"], text["funnel_steps"]), lines=trend_lines(data["series"]),
                          legend=[(text["kpis"][name], color) for name, color in RATE_COLORS.items()],
                          agencies=data["agencies"], first_day=data["from"], last_day=data["to"],
                          channels=[(text["channels"].get(name, name), steps)
                                    for name, steps in (current.get("career_relay_by_channel") or {}).items()])
    return Response(body=html, status_code=200, headers=HEADERS)
