"""Who may do what in the admin API: the audit trail, tenant-scoped admin tokens and, in AWS, the
IAM principals granted to a tenant."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from datetime import timedelta

from chalicelib.domain import people_search, principals
from chalicelib.domain.errors import BadRequest, NotFound, RetryableError, UnknownTenant
from chalicelib.domain.events import iso, utc
from chalicelib.domain.ports import AdminTokens, Audit, Clock, Tenants
from chalicelib.domain.records import AdminToken, JsonDict, PrincipalGrant
from chalicelib.services.common import check_tenant

_TOKEN_ID = re.compile(r"[0-9a-f]{16}")
_ACTION = re.compile(r"[a-z][a-z_]{0,30}(?:\.[a-z][a-z_]{0,30}){0,2}")
TOKEN_DAYS = 90              # a token's life unless the issuer says otherwise; also that of tokens stored without one
MAX_TOKEN_DAYS = 366         # at most a year (and a leap day)
LAST_USED_EVERY = timedelta(hours=1)  # a token's last use is written at most this often: reads stay cheap


class Access:
    def __init__(self, audit: Audit, admin_tokens: AdminTokens, tenants: Tenants, clock: Clock) -> None:
        self._audit = audit
        self._admin_tokens = admin_tokens
        self._tenants = tenants
        self._clock = clock

    def audit(self, tenant: str, *, who: str, action: str, target: str | None) -> None:
        self._audit.record(tenant, who=who, action=action, target=target)

    def audit_entries(self, tenant: str, query: Mapping[str, str]) -> JsonDict:
        """A page of the trail, newest first; `?who=` and `?action=` keep one actor's or one action's
        entries (a filtered page reads a bounded number of entries: it may be short and still go on)."""
        check_tenant(tenant)
        limit, before = people_search.page(query)
        who, action = query.get("who") or None, query.get("action") or None
        if who is not None and (len(who) > 300 or not who.isprintable()):
            raise BadRequest("who must be an actor as the trail names it (user:<sub>, admin, token:<id>, an ARN)")
        if action is not None and not _ACTION.fullmatch(action):
            raise BadRequest("action must be an action code such as person.tags")
        entries, after = self._audit.entries(tenant, limit=limit, before=before, who=who, action=action)
        return {"entries": entries, "next": people_search.encode_cursor({"after": after}) if after else None}

    # -- tenant-scoped admin tokens ---------------------------------------------------------------

    def tenant_of(self, token: str) -> tuple[str, str] | None:
        """(tenant, token id) of a live tenant-scoped admin token; None for anything else, an
        expired token included. Notes the token's use, at most once an hour."""
        found = self._admin_tokens.find(token)
        if found is None:
            return None
        now = self._clock()
        if valid_until(found) <= iso(now):
            return None
        if found.last_used_at is None or found.last_used_at <= iso(now - LAST_USED_EVERY):
            with contextlib.suppress(RetryableError):  # a missed note must not refuse the caller
                self._admin_tokens.mark_used(found.tenant, found.id, now)
        return found.tenant, found.id

    def issue_admin_token(self, tenant: str, body: Mapping[str, object] | None = None, *, by: str) -> JsonDict:
        """A new token for the tenant, valid `expires_in_days` (1 to 366, default 90); shown once."""
        check_tenant(tenant)
        body = body or {}
        unknown = set(body) - {"expires_in_days"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        days = body.get("expires_in_days", TOKEN_DAYS)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
            raise BadRequest(f"expires_in_days must be a whole number of days from 1 to {MAX_TOKEN_DAYS}")
        self._tenants.add_tenant(tenant)
        until = self._clock() + timedelta(days=days)
        token_id, token = self._admin_tokens.issue(tenant, by=by, valid_until=until)
        return {"id": token_id, "token": token, "tenant": tenant, "expires_at": iso(until)}

    def admin_tokens(self, tenant: str) -> JsonDict:
        """The tenant's tokens, oldest first: who issued each, when it expires, when it was last used
        (to the hour); never a secret."""
        check_tenant(tenant)
        now = iso(self._clock())
        return {"tokens": [{"id": t.id, "created_at": t.created_at, "created_by": t.created_by,
                            "expires_at": valid_until(t), "expired": valid_until(t) <= now, "last_used_at": t.last_used_at}
                           for t in self._admin_tokens.tokens(tenant)]}

    def revoke_admin_token(self, tenant: str, token_id: str) -> JsonDict:
        check_tenant(tenant)
        if not _TOKEN_ID.fullmatch(token_id or "") or not self._admin_tokens.revoke(tenant, token_id):
            raise NotFound("no such token")
        return {"revoked": token_id}

    # -- IAM principals (AWS) ---------------------------------------------------------------------

    def may_act_for(self, arn: str, tenant: str) -> bool:
        """Whether the IAM principal behind arn was granted this tenant."""
        principal = principals.canonical(arn)
        try:
            check_tenant(tenant)
        except UnknownTenant:
            return False
        return principal is not None and self._admin_tokens.granted(tenant, principal)

    def acts_for_a_tenant(self, arn: str) -> bool:
        """Whether the IAM principal behind arn was granted any tenant at all."""
        principal = principals.canonical(arn)
        return principal is not None and self._admin_tokens.has_grants(principal)

    def grant_principal(self, tenant: str, body: Mapping[str, object], *, by: str) -> JsonDict:
        """Let the IAM principal {"principal": ARN} act for the tenant (a role, any of its sessions)."""
        check_tenant(tenant)
        unknown = set(body) - {"principal"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        principal = principals.canonical(body.get("principal"))
        if principal is None:
            raise BadRequest("principal must be the ARN of an IAM role or user (arn:aws:iam::<account>:role/<name>)")
        self._tenants.add_tenant(tenant)
        return _grant_json(self._admin_tokens.grant(tenant, principal, by=by))

    def principal_grants(self, tenant: str) -> JsonDict:
        check_tenant(tenant)
        return {"principals": [_grant_json(g) for g in self._admin_tokens.grants(tenant)]}

    def revoke_principal(self, tenant: str, grant_id: str) -> JsonDict:
        check_tenant(tenant)
        if not _TOKEN_ID.fullmatch(grant_id or "") or not self._admin_tokens.revoke_grant(tenant, grant_id):
            raise NotFound("no such grant")
        return {"revoked": grant_id}


def _grant_json(grant: PrincipalGrant) -> JsonDict:
    return {"id": grant.id, "principal": grant.principal, "granted_at": grant.granted_at, "granted_by": grant.granted_by}


def valid_until(token: AdminToken) -> str:
    """When the token stops working: as issued, or TOKEN_DAYS after its creation for a token
    issued before tokens had an expiry."""
    return token.valid_until or iso(utc(token.created_at) + timedelta(days=TOKEN_DAYS))
