"""The relationship KPIs: read, published daily, on the dashboard."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import kpis
from chalicelib.domain.errors import BadRequest
from chalicelib.services.common import check_tenant, _period


class Kpis:
    """Use cases of chalicelib.services.Hub, over the ports it holds."""

    # -- KPIs -------------------------------------------------------------------------------------

    def kpis(self, tenant: str, first: str | None, last: str | None, by: str | None = None) -> dict:
        """The KPIs over [first, last] (default: the last 30 days) and a series per day; per cut with `by`."""
        check_tenant(tenant)
        first_day, last_day = _period(first, last, self.clock())
        if by is not None and by not in kpis.CUTS:
            raise BadRequest(f"by must be one of {', '.join(kpis.CUTS)}")
        days = self.relations.counter_days(tenant, first_day.isoformat(), last_day.isoformat())
        snapshots = self.relations.snapshots(tenant, first_day.isoformat(), last_day.isoformat())
        total: dict[str, int] = {}
        for counts in days.values():
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
        retained = self.relations.counters(tenant).get("kpi.retained", 0)
        series = []
        day = first_day
        while day <= last_day:
            snap = snapshots.get(day.isoformat())
            series.append({"date": day.isoformat(), **kpis.compute(
                days.get(day.isoformat(), {}), retained=snap["relations_retained"] if snap else None)})
            day += timedelta(days=1)
        answer = {"from": first_day.isoformat(), "to": last_day.isoformat(),
                  "current": kpis.compute(total, retained=retained), "series": series}
        if by:
            answer["by"] = by
            answer["cuts"] = {value: kpis.compute(total, retained=None, cut=f"{by}={value}")
                              for value in kpis.cut_values(total, by)}
        return answer

    def publish_kpis(self, tenant: str) -> dict:
        """The daily run: publish the tenant's KPIs (last 30 days) and keep the day's snapshot; once a day."""
        today = self.clock().date()
        current = self.kpis(tenant, (today - timedelta(days=29)).isoformat(), today.isoformat())["current"]
        if not self.relations.save_snapshot(tenant, today.isoformat(), current):
            return {"tenant": tenant, "date": today.isoformat(), "published": 0, "status": "already_published"}
        published = self.kpi_publisher(tenant, current) if self.kpi_publisher else 0
        return {"tenant": tenant, "date": today.isoformat(), "published": published, "status": "published"}

    def publish_all_kpis(self) -> list[dict]:
        return [self.publish_kpis(tenant) for tenant in self.relations.tenants()]

    def dashboard(self, tenant: str) -> dict:
        """What the HR dashboard shows: the last 30 days' KPIs and trend, and each agency's slots."""
        data = self.kpis(tenant, None, None)
        data["agencies"] = [{**agency, **self.referrals_store.ledger_counts(tenant, agency["slug"])}
                            for agency in self.agencies(tenant) if "endpoint" in agency]
        data["settings"] = self.tenant_settings(tenant)
        return data
