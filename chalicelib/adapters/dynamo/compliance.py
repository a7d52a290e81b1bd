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
AUDIT_FILTER_PAGE = 200     # entries one filtered query request reads (e18-admin: the audit screen's filters)
AUDIT_FILTER_BUDGET = 1000  # entries one filtered page reads at most: then it answers what it found and a cursor


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

    def entries(self, tenant: str, *, limit: int, before: str | None, who: str | None = None,
                action: str | None = None) -> tuple[list[JsonDict], str | None]:
        pk = keys.audit_pk(tenant)
        start = {"pk": {"S": pk}, "sk": {"S": before}} if before else None
        if who is not None or action is not None:
            return self._filtered(pk, start, limit, who, action)
        page = AuditItem.query(pk, scan_index_forward=False, limit=limit, page_size=limit, last_evaluated_key=start)
        entries: list[JsonDict] = [{"at": item.at, "who": item.who, "action": item.action, "target": item.target}
                                   for item in page]
        more = page.last_evaluated_key is not None and len(entries) == limit
        return entries, (page.last_evaluated_key["sk"]["S"] if more and page.last_evaluated_key else None)

    @staticmethod
    def _filtered(pk: str, start: dict | None, limit: int, who: str | None,
                  action: str | None) -> tuple[list[JsonDict], str | None]:
        """The tenant's one audit partition, newest first, with a filter on who and action: a Query
        (never a Scan) that reads at most AUDIT_FILTER_BUDGET entries; the cursor resumes after the last
        entry answered, or after the last one read when the budget ran out first."""
        wanted = [condition for condition in (AuditItem.who == who if who is not None else None,
                                              AuditItem.action == action if action is not None else None) if condition is not None]
        condition = wanted[0] if len(wanted) == 1 else wanted[0] & wanted[1]
        pages = AuditItem.query(pk, scan_index_forward=False, filter_condition=condition, page_size=AUDIT_FILTER_PAGE,
                                last_evaluated_key=start).page_iter
        entries: list[JsonDict] = []
        for page in pages:
            for raw in page.get("Items", ()):
                item = AuditItem.from_raw_data(raw)
                entries.append({"at": item.at, "who": item.who, "action": item.action, "target": item.target})
                if len(entries) == limit:
                    return entries, item.sk
            if pages.total_scanned_count >= AUDIT_FILTER_BUDGET:
                last = pages.last_evaluated_key
                return entries, (last["sk"]["S"] if last else None)
        return entries, None
