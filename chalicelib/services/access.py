"""Who may do what in the admin API: the audit trail and tenant-scoped admin tokens."""
from __future__ import annotations

import re
from collections.abc import Mapping

from chalicelib.domain import people_search
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ports import AdminTokens, Audit, Tenants
from chalicelib.domain.records import JsonDict
from chalicelib.services.common import check_tenant

_TOKEN_ID = re.compile(r"[0-9a-f]{16}")


class Access:
    def __init__(self, audit: Audit, admin_tokens: AdminTokens, tenants: Tenants) -> None:
        self._audit = audit
        self._admin_tokens = admin_tokens
        self._tenants = tenants

    def audit(self, tenant: str, *, who: str, action: str, target: str | None) -> None:
        self._audit.record(tenant, who=who, action=action, target=target)

    def audit_entries(self, tenant: str, query: Mapping[str, str]) -> JsonDict:
        check_tenant(tenant)
        limit, before = people_search.page(query)
        entries, after = self._audit.entries(tenant, limit=limit, before=before)
        return {"entries": entries, "next": people_search.encode_cursor({"after": after}) if after else None}

    def tenant_of(self, token: str) -> tuple[str, str] | None:
        """(tenant, token id) of a live tenant-scoped admin token; None for anything else."""
        return self._admin_tokens.tenant_of(token)

    def issue_admin_token(self, tenant: str, *, by: str) -> JsonDict:
        check_tenant(tenant)
        self._tenants.add_tenant(tenant)
        token_id, token = self._admin_tokens.issue(tenant, by=by)
        return {"id": token_id, "token": token, "tenant": tenant}

    def revoke_admin_token(self, tenant: str, token_id: str) -> JsonDict:
        check_tenant(tenant)
        if not _TOKEN_ID.fullmatch(token_id or "") or not self._admin_tokens.revoke(tenant, token_id):
            raise NotFound("no such token")
        return {"revoked": token_id}
