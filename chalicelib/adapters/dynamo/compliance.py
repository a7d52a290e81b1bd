"""The suppression list and the audit trail (the Suppressions and Audit ports): what must outlive
a person's erasure, kept without personal data (addresses by digest, records by id)."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib.adapters.dynamo import convert, keys, reads
from chalicelib.adapters.dynamo.models import AuditItem, SuppressionItem
from chalicelib.domain.events import iso
from chalicelib.domain.records import JsonDict

AUDIT_KEEP = timedelta(days=3 * 366)  # as long as the provision records it may have to explain


class DynamoSuppressions:
    """Addresses not to mail, by digest (it outlives a person's erasure)."""

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def reasons(self, tenant: str, email: str) -> list[str]:
        try:
            return list(convert.texts(SuppressionItem.get(*keys.suppression_key(tenant, email), consistent_read=True).reasons))
        except SuppressionItem.DoesNotExist:
            return []

    def add(self, tenant: str, email: str, reason: str) -> None:
        current = self.reasons(tenant, email)
        if reason not in current:
            SuppressionItem(*keys.suppression_key(tenant, email), reasons=current + [reason],
                            updated_at=iso(self._clock())).save()


class DynamoAudit:
    """The audit trail of admin actions: who, when, what and which record, newest first."""

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def record(self, tenant: str, *, who: str, action: str, target: str | None) -> None:
        now = self._clock()
        AuditItem(keys.audit_pk(tenant), keys.audit_sk(iso(now), secrets.token_hex(4)), at=iso(now), who=who,
                  action=action, target=target, expires_at=now + AUDIT_KEEP).save()

    def entries(self, tenant: str, *, limit: int, before: str | None) -> tuple[list[JsonDict], str | None]:
        pk = keys.audit_pk(tenant)
        start = {"pk": {"S": pk}, "sk": {"S": before}} if before else None
        page = AuditItem.query(pk, scan_index_forward=False, limit=limit, page_size=limit, last_evaluated_key=start)
        entries: list[JsonDict] = [{"at": item.at, "who": item.who, "action": item.action, "target": item.target}
                                   for item in page]
        more = page.last_evaluated_key is not None and len(entries) == limit
        return entries, (page.last_evaluated_key["sk"]["S"] if more and page.last_evaluated_key else None)
