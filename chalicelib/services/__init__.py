"""The hub's use cases. Pure: they speak to the world only through the ports they are given.

`Hub` holds the ports; its use cases live in one module per capability, mixed in here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from chalicelib.domain.ports import Credentials, PolledSource, Queues, Relations, SourceAdapter, SourceCredentials
from chalicelib.services.agencies import Agencies
from chalicelib.services.common import (  # noqa: F401 - the package's public names
    MAX_BODY_BYTES, PollReport, WebhookReceipt, _locale_from, check_tenant,
)
from chalicelib.services.correspondence import Correspondence
from chalicelib.services.intake import Intake
from chalicelib.services.kpis import Kpis
from chalicelib.services.nurture import Nurture
from chalicelib.services.people import PeopleAdmin


__all__ = ["Hub", "MAX_BODY_BYTES", "PollReport", "WebhookReceipt", "_locale_from", "check_tenant"]


@dataclass(frozen=True)
class Hub(Intake, PeopleAdmin, Correspondence, Agencies, Kpis, Nurture):
    """Built once per container by chalicelib.wiring; by tests with moto-backed adapters."""

    sources: Mapping[str, SourceAdapter]
    credentials: Credentials
    relations: Relations
    queues: Queues | None = None
    polled: Mapping[str, PolledSource] = field(default_factory=dict)
    api_for: Callable[[Any, SourceCredentials], Any] | None = None  # builds a vendor API client
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    config: Any = None          # tenant settings, templates, agencies (documents)
    templates: Any = None       # the mail template module (check, render, default)
    tokens: Any = None          # link tokens
    suppressions: Any = None    # addresses never to mail
    mailer: Any = None          # SES or the tenant's SMTP
    once: Any = None            # side effects done once per key
    public_url: str = "http://127.0.0.1:8000"
    agency_clients: Mapping[str, Any] = field(default_factory=dict)  # integrations.registry.AGENCIES
    referrals_store: Any = None  # referrals, batches, provision records, ledger
    sleep: Callable[[float], None] = lambda seconds: None  # waits between retries (real sleep in wiring)
    agency_timeout_s: float = 15.0
    kpi_publisher: Callable[[str, dict], int] | None = None  # CloudWatch (EMF)
    agency_parallelism: int = 4  # agencies served side by side in one run
    audit_log: Any = None        # who read, exported, erased or changed what
    admin_tokens: Any = None     # tenant-scoped admin tokens
    nurture_store: Any = None    # nurture schedules (chalicelib/adapters/nurture.py)
