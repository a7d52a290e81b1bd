"""Tenants, their connected sources and the sources' poll cursors (the Tenants port)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.adapters.dynamo import keys, reads
from chalicelib.adapters.dynamo.models import PollCursorItem, SourceLinkItem, TenantItem
from chalicelib.adapters.dynamo.transaction import conditional
from chalicelib.domain.events import iso
from chalicelib.domain.records import PollState


class DynamoTenants:
    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def add_tenant(self, tenant: str) -> None:
        item = TenantItem(*keys.tenant_key(tenant), created_at=iso(self._clock()))
        conditional(lambda: item.save(condition=TenantItem.pk.does_not_exist()))  # False: known already

    def tenants(self) -> list[str]:
        return [item.sk for item in TenantItem.query(keys.TENANTS)]

    def add_source(self, tenant: str, source: str) -> None:
        self.add_tenant(tenant)
        SourceLinkItem(keys.conf_pk(tenant), keys.source_sk(source), updated_at=iso(self._clock())).save()

    def sources(self, tenant: str) -> list[str]:
        return [keys.source_of(item.sk) for item in
                SourceLinkItem.query(keys.conf_pk(tenant), SourceLinkItem.sk.startswith(keys.SOURCE_PREFIX))]

    def poll_state(self, tenant: str, source: str) -> PollState:
        try:
            item = PollCursorItem.get(keys.conf_pk(tenant), keys.cursor_sk(source), consistent_read=True)
        except PollCursorItem.DoesNotExist:
            return PollState(cursor=None, version=None)
        return PollState(cursor=item.cursor, version=item.version)

    def save_poll_state(self, tenant: str, source: str, cursor: str | None, version: int | None) -> int | None:
        """Store the cursor if nobody else advanced it (PynamoDB conditions the put on the version read);
        the new version, or None on a lost race."""
        item = PollCursorItem(keys.conf_pk(tenant), keys.cursor_sk(source), cursor=cursor, updated_at=iso(self._clock()))
        if version is not None:
            item.version = version
        return item.version if conditional(item.save) else None
