"""Link tokens and tenant-scoped admin tokens (the Tokens and AdminTokens ports): both stored by a
hash only, never the secret."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime

from chalicelib.adapters.dynamo import convert, keys, reads
from chalicelib.adapters.dynamo.models import AdminTokenItem, TokenItem, TokenRefItem
from chalicelib.adapters.dynamo.transaction import conditional
from chalicelib.domain.events import iso
from chalicelib.domain.records import TokenInfo


class DynamoTokens:
    """Link tokens "<tenant>.<random>": the random part is 144 bits and is stored only as a hash."""

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def issue(self, tenant: str, person_id: str, purpose: str, valid_until: datetime, notice: str | None = None) -> str:
        token = f"{tenant}.{secrets.token_urlsafe(18)}"
        key = keys.token_key(token)
        assert key is not None
        # its place in the person's partition first: erasure finds every token that can exist
        TokenRefItem(keys.person_pk(tenant, person_id), keys.token_ref_sk(keys.token_digest(key))).save()
        TokenItem(*key, person_id=person_id, purpose=purpose, valid_until=iso(valid_until),
                  csrf=secrets.token_urlsafe(16), notice=notice, created_at=iso(self._clock()),
                  expires_at=valid_until).save()
        return token

    def resolve(self, token: str) -> TokenInfo | None:
        """The token's binding if it exists and has not expired; None for unknown and expired alike."""
        key = keys.token_key(token)
        if key is None:
            return None
        try:
            item = TokenItem.get(*key, consistent_read=True)
        except TokenItem.DoesNotExist:
            return None
        if item.valid_until <= iso(self._clock()):
            return None  # TTL removes it later; until then it is as dead as an unknown one
        return convert.token_info(item, token.split(".", 1)[0])

    def mark_opened(self, token: str) -> bool:
        """Record the first opening; False when it was opened before (or there is no such token)."""
        key = keys.token_key(token)
        if key is None:
            return False
        return conditional(lambda: TokenItem(*key).update(
            actions=[TokenItem.opened_at.set(iso(self._clock()))],
            condition=TokenItem.opened_at.does_not_exist() & TokenItem.pk.exists()))


class DynamoAdminTokens:
    """Tenant-scoped admin tokens "<tenant>.<id>.<secret>", kept as a SHA-256 of the whole token."""

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def issue(self, tenant: str, *, by: str) -> tuple[str, str]:
        token_id = secrets.token_hex(8)
        token = f"{tenant}.{token_id}.{secrets.token_urlsafe(32)}"
        AdminTokenItem(*keys.admin_token_key(tenant, token_id), digest=hashlib.sha256(token.encode()).hexdigest(),
                       created_at=iso(self._clock()), created_by=by).save()
        return token_id, token

    def tenant_of(self, token: str) -> tuple[str, str] | None:
        """(tenant, token id) of a live token; None for anything else."""
        parts = token.split(".") if isinstance(token, str) and len(token) < 200 else []
        if len(parts) != 3 or not all(parts):
            return None
        tenant, token_id, _ = parts
        try:
            item = AdminTokenItem.get(*keys.admin_token_key(tenant, token_id), consistent_read=True)
        except AdminTokenItem.DoesNotExist:
            return None
        given = hashlib.sha256(token.encode()).hexdigest()
        return (tenant, token_id) if hmac.compare_digest(given, item.digest) else None

    def revoke(self, tenant: str, token_id: str) -> bool:
        item = AdminTokenItem(*keys.admin_token_key(tenant, token_id))
        return conditional(lambda: item.delete(condition=AdminTokenItem.pk.exists()))
