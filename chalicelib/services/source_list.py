"""The tenant's connected sources in one answer (issue 18, the admin API's lists): each as its own
GET shows it (which secrets are stored, never their values; ok, or failing with a reason and since
when), with how it delivers and, for a webhook, the URL to give the vendor."""
from __future__ import annotations

from chalicelib.domain.errors import UnknownSource
from chalicelib.domain.ports import Tenants
from chalicelib.domain.records import JsonDict
from chalicelib.services.common import check_tenant
from chalicelib.services.deliveries import SourceDeliveries
from chalicelib.services.intake import Intake


class SourceList:
    def __init__(self, *, intake: Intake, tenants: Tenants, public_url: str,
                 deliveries: SourceDeliveries | None = None) -> None:
        self._intake = intake
        self._deliveries = deliveries
        self._tenants = tenants
        self._public_url = public_url.rstrip("/")

    def list_sources(self, tenant: str) -> JsonDict:
        """Every source the tenant connected, by name. Not paged: a tenant connects at most one of
        each registered vendor. e20-sources: the last delivery from the delivery log (14 days; null
        when none, with the state never_delivered for a webhook source), and a refused last delivery
        marks the source failing (reason delivery_signature, ...)."""
        answer = []
        for source in sorted(self._tenants.sources(check_tenant(tenant))):
            try:
                status = self._intake.source_status(tenant, source)
            except UnknownSource:
                continue  # connected once, its adapter since removed: nothing can reach it any more
            pushed = self._intake.is_pushed(source)
            answer.append({**status, "kind": "webhook" if pushed else "polled",
                           "webhook_url": f"{self._public_url}/webhooks/{tenant}/{source}" if pushed else None,
                           **self.delivery_state(tenant, source, status)})
        return {"sources": answer}

    def delivery_state(self, tenant: str, source: str, status: JsonDict) -> JsonDict:
        """e20-sources: last_delivery_at (and a state the log decides) of one source."""
        if self._deliveries is None:
            return {"last_delivery_at": None}
        return self._deliveries.state(tenant, source, status)
