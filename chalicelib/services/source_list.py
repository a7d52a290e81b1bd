"""The tenant's connected sources in one answer (issue 18, the admin API's lists): each as its own
GET shows it (which secrets are stored, never their values; ok, or failing with a reason and since
when), with how it delivers and, for a webhook, the URL to give the vendor."""
from __future__ import annotations

from chalicelib.domain.errors import UnknownSource
from chalicelib.domain.ports import Tenants
from chalicelib.domain.records import JsonDict
from chalicelib.services.common import check_tenant
from chalicelib.services.intake import Intake


class SourceList:
    def __init__(self, *, intake: Intake, tenants: Tenants, public_url: str) -> None:
        self._intake = intake
        self._tenants = tenants
        self._public_url = public_url.rstrip("/")

    def list_sources(self, tenant: str) -> JsonDict:
        """Every source the tenant connected, by name. Not paged: a tenant connects at most one of
        each registered vendor. The last delivery is not tracked (null): deliveries are remembered
        by id for the dedupe window only."""
        answer = []
        for source in sorted(self._tenants.sources(check_tenant(tenant))):
            try:
                status = self._intake.source_status(tenant, source)
            except UnknownSource:
                continue  # connected once, its adapter since removed: nothing can reach it any more
            pushed = self._intake.is_pushed(source)
            answer.append({**status, "kind": "webhook" if pushed else "polled",
                           "webhook_url": f"{self._public_url}/webhooks/{tenant}/{source}" if pushed else None,
                           "last_delivery_at": None})
        return {"sources": answer}
