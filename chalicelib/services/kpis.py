"""The relationship KPIs: read, published daily, on the dashboard."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import counters, kpis, zones
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.ports import Clock, Counters, KpiPublisher, Tenants
from chalicelib.domain.records import JsonDict
from chalicelib.services.agencies import Agencies
from chalicelib.services.common import check_tenant, period
from chalicelib.services.configuration import Configuration


class Kpis:
    def __init__(self, counters: Counters, tenants: Tenants, publisher: KpiPublisher, configuration: Configuration,
                 agencies: Agencies, clock: Clock) -> None:
        self._counters = counters
        self._tenants = tenants
        self._publisher = publisher
        self._configuration = configuration
        self._agencies = agencies
        self._clock = clock

    def kpis(self, tenant: str, first: str | None, last: str | None, by: str | None = None) -> JsonDict:
        """The KPIs over [first, last] (default: the last 30 days) and a series per day; per cut with `by`.
        Days are the tenant's local days (its time zone), as the counters were written."""
        check_tenant(tenant)
        first_day, last_day = period(first, last, self._clock(), self._configuration.zone(tenant))
        if by is not None and by not in kpis.CUTS:
            raise BadRequest(f"by must be one of {', '.join(kpis.CUTS)}")
        days = self._counters.days(tenant, first_day.isoformat(), last_day.isoformat())
        snapshots = self._counters.snapshots(tenant, first_day.isoformat(), last_day.isoformat())
        total: dict[str, int] = {}
        for counts in days.values():
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
        retained = self._counters.totals(tenant).get(counters.KPI_RETAINED, 0)
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

    def publish_kpis(self, tenant: str) -> JsonDict:
        """The daily run: publish the tenant's KPIs (last 30 days) and keep the day's snapshot; once a day."""
        today = zones.local_date(self._clock(), self._configuration.zone(tenant))
        current = self.kpis(tenant, (today - timedelta(days=29)).isoformat(), today.isoformat())["current"]
        if not self._counters.save_snapshot(tenant, today.isoformat(), current):
            return {"tenant": tenant, "date": today.isoformat(), "published": 0, "status": "already_published"}
        published = self._publisher(tenant, current)
        return {"tenant": tenant, "date": today.isoformat(), "published": published, "status": "published"}

    def publish_all_kpis(self) -> list[JsonDict]:
        return [self.publish_kpis(tenant) for tenant in self._tenants.tenants()]

    def dashboard(self, tenant: str) -> JsonDict:
        """What the HR dashboard shows: the last 30 days' KPIs and trend, and each agency's slots."""
        data = self.kpis(tenant, None, None)
        data["agencies"] = [{**agency, **self._agencies.ledger_counts(tenant, agency["slug"])}
                            for agency in self._configuration.agency_documents(tenant) if "endpoint" in agency]
        data["settings"] = self._configuration.tenant_settings(tenant)
        return data
