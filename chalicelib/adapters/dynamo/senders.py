"""Sender domains and the tenant holding each (the SenderDomains port): one claim item per domain,
taken by a conditional put, so two tenants can never hold the same domain."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from chalicelib.adapters.dynamo import convert, keys, reads
from chalicelib.adapters.dynamo.config import CACHE_S
from chalicelib.adapters.dynamo.models import SenderClaimItem
from chalicelib.adapters.dynamo.transaction import conditional
from chalicelib.domain.events import iso
from chalicelib.domain.records import SenderClaim


class DynamoSenderDomains:
    """A claim read is reused CACHE_S seconds by this container (every notice asks for its sender's);
    a change through this container forgets it at once."""

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock
        self._kept: dict[str, tuple[float, SenderClaim | None]] = {}

    def claim(self, domain: str, tenant: str) -> bool:
        self._kept.pop(domain, None)
        item = SenderClaimItem(*keys.sender_key(domain), tenant=tenant, claimed_at=iso(self._clock()))
        if conditional(lambda: item.save(condition=SenderClaimItem.pk.does_not_exist())):
            return True
        found = self._read(domain)
        return found is not None and found.tenant == tenant

    def release(self, domain: str, tenant: str) -> None:
        self._kept.pop(domain, None)
        item = SenderClaimItem(*keys.sender_key(domain))
        conditional(lambda: item.delete(condition=SenderClaimItem.tenant == tenant))  # False: not theirs

    def get(self, domain: str) -> SenderClaim | None:
        kept = self._kept.get(domain)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        found = self._read(domain)
        self._kept[domain] = (time.monotonic() + CACHE_S, found)
        return found

    def _read(self, domain: str) -> SenderClaim | None:
        try:
            item = SenderClaimItem.get(*keys.sender_key(domain), consistent_read=True)
        except SenderClaimItem.DoesNotExist:
            return None
        return SenderClaim(domain=domain, tenant=item.tenant, claimed_at=item.claimed_at, status=item.status,
                           dkim_tokens=convert.texts(item.dkim_tokens), checked_at=item.checked_at)

    def save(self, claim: SenderClaim) -> bool:
        self._kept.pop(claim.domain, None)
        item = SenderClaimItem(*keys.sender_key(claim.domain))
        return conditional(lambda: item.update(
            actions=[SenderClaimItem.status.set(claim.status), SenderClaimItem.dkim_tokens.set(list(claim.dkim_tokens)),
                     SenderClaimItem.checked_at.set(claim.checked_at)],
            condition=SenderClaimItem.tenant == claim.tenant))
