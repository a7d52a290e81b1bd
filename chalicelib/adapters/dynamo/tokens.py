"""Link tokens, tenant-scoped admin tokens and IAM principal grants (the Tokens and AdminTokens
ports). Tokens are stored by a hash only, never the secret."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from chalicelib.adapters.dynamo import convert, keys, reads
from chalicelib.adapters.dynamo.models import AdminTokenItem, GranteeItem, GrantItem, TokenItem, TokenRefItem
from chalicelib.adapters.dynamo.transaction import Raced, Transaction, conditional
from chalicelib.domain import principals
from chalicelib.domain.delivery import new_link_token
from chalicelib.domain.events import iso
from chalicelib.domain.records import AdminToken, LinkGrant, PrincipalGrant, TokenInfo


class DynamoTokens:
    """Link tokens "<tenant>.<random>": the random part is 144 bits and is stored only as a hash."""

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def issue(self, tenant: str, person_id: str, purpose: str, valid_until: datetime, notice: str | None = None,
              channel: str = "hub_notice") -> str:
        token = new_link_token(tenant)
        self.keep(tenant, person_id, [LinkGrant(token, purpose, valid_until, notice=notice, channel=channel)])
        return token

    def keep(self, tenant: str, person_id: str, links: Sequence[LinkGrant]) -> None:
        # each token and its place in the person's partition in one transaction (one request):
        # erasure finds every token that can exist
        with Transaction("the token store") as tx:
            for link in links:
                for item in link_items(tenant, person_id, link, self._clock()):
                    tx.save(item)

    def register(self, tenant: str, token: str, person_id: str, purpose: str, valid_until: datetime, *,
                 channel: str) -> bool:
        """Keep a token the caller computed (an application link: delivery.link_token), by its hash
        only. Registering it again writes nothing (False): its csrf and first opening stay."""
        key = keys.token_key(token)
        if key is None or not token.startswith(f"{tenant}."):
            raise ValueError("not a link token of this tenant")
        try:
            TokenItem.get(*key, consistent_read=True)
            return False
        except TokenItem.DoesNotExist:
            pass
        TokenRefItem(keys.person_pk(tenant, person_id), keys.token_ref_sk(keys.token_digest(key))).save()
        item = TokenItem(*key, person_id=person_id, purpose=purpose, valid_until=iso(valid_until),
                         csrf=secrets.token_urlsafe(16), notice=None, created_at=iso(self._clock()),
                         expires_at=valid_until, channel=channel)
        return conditional(lambda: item.save(condition=TokenItem.pk.does_not_exist()))  # a racing twin: one item

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


def link_items(tenant: str, person_id: str, link: LinkGrant, now: datetime) -> tuple[TokenRefItem, TokenItem]:
    """The items that keep a new link token: its place in the person's partition and the token by
    the hash of its secret (never the secret); a transaction writes both."""
    key = keys.token_key(link.token)
    if key is None or not link.token.startswith(f"{tenant}."):
        raise ValueError("not a link token of this tenant")
    return (TokenRefItem(keys.person_pk(tenant, person_id), keys.token_ref_sk(keys.token_digest(key))),
            TokenItem(*key, person_id=person_id, purpose=link.purpose, valid_until=iso(link.valid_until),
                      csrf=secrets.token_urlsafe(16), notice=link.notice, created_at=iso(now),
                      expires_at=link.valid_until, channel=link.channel))


class DynamoAdminTokens:
    """Tenant-scoped admin tokens "<tenant>.<id>.<secret>", kept as a SHA-256 of the whole token.
    An expired token stays listed for KEEP_EXPIRED, then the table's TTL removes it."""

    KEEP_EXPIRED = timedelta(days=30)

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def issue(self, tenant: str, *, by: str, valid_until: datetime) -> tuple[str, str]:
        token_id = secrets.token_hex(8)
        token = f"{tenant}.{token_id}.{secrets.token_urlsafe(32)}"
        AdminTokenItem(*keys.admin_token_key(tenant, token_id), digest=hashlib.sha256(token.encode()).hexdigest(),
                       created_at=iso(self._clock()), created_by=by, valid_until=iso(valid_until),
                       expires_at=valid_until + self.KEEP_EXPIRED).save()
        return token_id, token

    def find(self, token: str) -> AdminToken | None:
        """The stored token, expired or not; None for anything else."""
        parts = token.split(".") if isinstance(token, str) and len(token) < 200 else []
        if len(parts) != 3 or not all(parts):
            return None
        tenant, token_id, _ = parts
        try:
            item = AdminTokenItem.get(*keys.admin_token_key(tenant, token_id), consistent_read=True)
        except AdminTokenItem.DoesNotExist:
            return None
        given = hashlib.sha256(token.encode()).hexdigest()
        return _admin_token(item, tenant) if hmac.compare_digest(given, item.digest) else None

    def tokens(self, tenant: str) -> list[AdminToken]:
        found = [_admin_token(item, tenant) for item in AdminTokenItem.query(keys.admin_token_key(tenant, "")[0], consistent_read=True)]
        return sorted(found, key=lambda t: (t.created_at, t.id))

    def mark_used(self, tenant: str, token_id: str, at: datetime) -> None:
        item = AdminTokenItem(*keys.admin_token_key(tenant, token_id))
        conditional(lambda: item.update(actions=[AdminTokenItem.last_used_at.set(iso(at))],
                                        condition=AdminTokenItem.pk.exists()))  # a revoked token stays gone

    def revoke(self, tenant: str, token_id: str) -> bool:
        item = AdminTokenItem(*keys.admin_token_key(tenant, token_id))
        return conditional(lambda: item.delete(condition=AdminTokenItem.pk.exists()))

    # -- IAM principals granted to a tenant (the grant and its mirror, written together) ----------

    def grant(self, tenant: str, principal: str, *, by: str) -> PrincipalGrant:
        grant_id = principals.grant_id(principal)
        grant_key, mirror_key = keys.grant_keys(tenant, grant_id)
        try:
            item = GrantItem.get(*grant_key, consistent_read=True)
            if item.principal == principal:
                return _grant(item, tenant)
        except GrantItem.DoesNotExist:
            pass
        item = GrantItem(*grant_key, principal=principal, granted_at=iso(self._clock()), granted_by=by)
        with Transaction("the access store") as tx:
            tx.save(item)
            tx.save(GranteeItem(*mirror_key, principal=principal))
        return _grant(item, tenant)

    def grants(self, tenant: str) -> list[PrincipalGrant]:
        return [_grant(item, tenant) for item in GrantItem.query(keys.grants_pk(tenant), consistent_read=True)]

    def granted(self, tenant: str, principal: str) -> bool:
        try:
            item = GrantItem.get(*keys.grant_keys(tenant, principals.grant_id(principal))[0], consistent_read=True)
        except GrantItem.DoesNotExist:
            return False
        return hmac.compare_digest(item.principal, principal)

    def has_grants(self, principal: str) -> bool:
        return any(item.principal == principal for item in GranteeItem.query(
            keys.grantee_pk(principals.grant_id(principal)), consistent_read=True))

    def revoke_grant(self, tenant: str, grant_id: str) -> bool:
        grant_key, mirror_key = keys.grant_keys(tenant, grant_id)
        try:
            with Transaction("the access store") as tx:
                tx.delete(GrantItem(*grant_key), condition=GrantItem.pk.exists())
                tx.delete(GranteeItem(*mirror_key))
        except Raced:
            return False  # no such grant
        return True


def _grant(item: GrantItem, tenant: str) -> PrincipalGrant:
    return PrincipalGrant(tenant=tenant, id=item.sk, principal=item.principal, granted_at=item.granted_at,
                          granted_by=item.granted_by)


def _admin_token(item: AdminTokenItem, tenant: str) -> AdminToken:
    return AdminToken(tenant=tenant, id=item.sk, created_at=item.created_at, created_by=item.created_by,
                      valid_until=item.valid_until, last_used_at=item.last_used_at)
