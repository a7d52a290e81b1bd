"""Tenant configuration, link tokens and the suppression list on the hub's DynamoDB table."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.adapters.dynamo import (
    AdminTokenItem, AuditItem, ConfigItem, SuppressionItem, TokenItem, TokenRefItem, person_pk,
)
from chalicelib.domain.errors import Conflict, RetryableError
from chalicelib.domain.events import iso
from chalicelib.domain.people import email_key
from chalicelib.domain.ports import TokenInfo


def _conf_pk(tenant: str) -> str:
    return f"T#{tenant}#CONF"


class DynamoConfig:
    """Tenant settings and template overrides (JSON documents with a version)."""

    def get(self, tenant: str, name: str) -> tuple[dict, int] | None:
        try:
            item = ConfigItem.get(_conf_pk(tenant), name, consistent_read=True)
        except ConfigItem.DoesNotExist:
            return None
        return item.data, item.version

    def list(self, tenant: str, prefix: str) -> list[tuple[dict, int]]:
        return [(item.data, item.version) for item in
                ConfigItem.query(_conf_pk(tenant), ConfigItem.sk.startswith(prefix), consistent_read=True)]

    def put_once(self, tenant: str, name: str, data: dict) -> None:
        """Store a document that never changes (a consent text by its version)."""
        try:
            ConfigItem(_conf_pk(tenant), name, data=data, updated_at=iso(datetime.now(timezone.utc))).save()
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise RetryableError("the configuration store did not take the write") from error

    def put(self, tenant: str, name: str, data: dict, *, expected_version: int | None = None) -> int:
        """Store a document; with expected_version, only if nobody changed it since (409 otherwise)."""
        current = self.get(tenant, name)
        item = ConfigItem(_conf_pk(tenant), name, data=data, updated_at=iso(datetime.now(timezone.utc)))
        if current is not None:
            if expected_version is not None and expected_version != current[1]:
                raise Conflict(f"{name} changed since version {expected_version} (now {current[1]})")
            item.version = current[1]
        try:
            item.save()
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(f"{name} was changed at the same time; read it again") from None
            raise RetryableError("the configuration store did not take the write") from error
        return item.version


class DynamoTokens:
    """Link tokens "<tenant>.<random>": the random part is 144 bits and is stored only as a hash."""

    def issue(self, tenant: str, person_id: str, purpose: str, valid_until: datetime, notice: str | None = None) -> str:
        token = f"{tenant}.{secrets.token_urlsafe(18)}"
        pk, _ = _token_key(token)
        # its place in the person's partition first: erasure finds every token that can exist
        TokenRefItem(person_pk(tenant, person_id), "TOKREF#" + pk.rsplit("#", 1)[1]).save()
        TokenItem(*_token_key(token), person_id=person_id, purpose=purpose, valid_until=iso(valid_until),
                  csrf=secrets.token_urlsafe(16), notice=notice, created_at=iso(datetime.now(timezone.utc)),
                  expires_at=valid_until).save()
        return token

    def resolve(self, token: str) -> TokenInfo | None:
        """The token's binding if it exists and has not expired; None for unknown and expired alike."""
        key = _token_key(token)
        if key is None:
            return None
        try:
            item = TokenItem.get(*key, consistent_read=True)
        except TokenItem.DoesNotExist:
            return None
        if item.valid_until <= iso(datetime.now(timezone.utc)):
            return None  # TTL removes it later; until then it is as dead as an unknown one
        return TokenInfo(tenant=token.split(".", 1)[0], person_id=item.person_id, purpose=item.purpose,
                         valid_until=item.valid_until, csrf=item.csrf, notice=item.notice, opened_at=item.opened_at)

    def mark_opened(self, token: str) -> bool:
        """Record the first opening; False when it was opened before."""
        key = _token_key(token)
        try:
            TokenItem(*key).update(actions=[TokenItem.opened_at.set(iso(datetime.now(timezone.utc)))],
                                   condition=TokenItem.opened_at.does_not_exist() & TokenItem.pk.exists())
        except Exception as error:  # UpdateError with ConditionalCheckFailed: opened before
            if getattr(error, "cause_response_code", "") == "ConditionalCheckFailedException":
                return False
            raise
        return True



def _token_key(token: str) -> tuple[str, str] | None:
    if not isinstance(token, str) or len(token) > 120 or "." not in token:
        return None
    tenant, secret = token.split(".", 1)
    if not tenant or not secret:
        return None
    return f"T#{tenant}#TOK#{hashlib.sha256(secret.encode()).hexdigest()}", "TOK"


class DynamoSuppressions:
    """Addresses not to mail, by digest (it outlives a person's erasure)."""

    def reasons(self, tenant: str, email: str) -> list[str]:
        try:
            return list(SuppressionItem.get(f"T#{tenant}#SUP#{email_key(email)}", "SUP", consistent_read=True).reasons)
        except SuppressionItem.DoesNotExist:
            return []

    def add(self, tenant: str, email: str, reason: str) -> None:
        key = (f"T#{tenant}#SUP#{email_key(email)}", "SUP")
        current = self.reasons(tenant, email)
        if reason not in current:
            SuppressionItem(*key, reasons=current + [reason], updated_at=iso(datetime.now(timezone.utc))).save()


AUDIT_KEEP = timedelta(days=3 * 366)  # as long as the provision records it may have to explain


class DynamoAudit:
    """The audit trail of admin actions: who, when, what and which record, newest first."""

    def record(self, tenant: str, *, who: str, action: str, target: str | None) -> None:
        now = datetime.now(timezone.utc)
        AuditItem(f"T#{tenant}#AUDIT", f"{iso(now)}#{secrets.token_hex(4)}", at=iso(now), who=who, action=action,
                  target=target, expires_at=now + AUDIT_KEEP).save()

    def entries(self, tenant: str, *, limit: int, before: str | None) -> tuple[list[dict], str | None]:
        pk = f"T#{tenant}#AUDIT"
        start = {"pk": {"S": pk}, "sk": {"S": before}} if before else None
        page = AuditItem.query(pk, scan_index_forward=False, limit=limit, page_size=limit, last_evaluated_key=start)
        entries = [{"at": item.at, "who": item.who, "action": item.action, "target": item.target} for item in page]
        more = page.last_evaluated_key is not None and len(entries) == limit
        return entries, (page.last_evaluated_key["sk"]["S"] if more else None)


class DynamoAdminTokens:
    """Tenant-scoped admin tokens "<tenant>.<id>.<secret>", kept as a SHA-256 of the whole token."""

    def issue(self, tenant: str, *, by: str) -> tuple[str, str]:
        token_id = secrets.token_hex(8)
        token = f"{tenant}.{token_id}.{secrets.token_urlsafe(32)}"
        AdminTokenItem(f"T#{tenant}#ADMTOK", token_id, digest=hashlib.sha256(token.encode()).hexdigest(),
                       created_at=iso(datetime.now(timezone.utc)), created_by=by).save()
        return token_id, token

    def tenant_of(self, token: str) -> tuple[str, str] | None:
        """(tenant, token id) of a live token; None for anything else."""
        parts = token.split(".") if isinstance(token, str) and len(token) < 200 else []
        if len(parts) != 3 or not all(parts):
            return None
        tenant, token_id, _ = parts
        try:
            item = AdminTokenItem.get(f"T#{tenant}#ADMTOK", token_id, consistent_read=True)
        except AdminTokenItem.DoesNotExist:
            return None
        given = hashlib.sha256(token.encode()).hexdigest()
        return (tenant, token_id) if hmac.compare_digest(given, item.digest) else None

    def revoke(self, tenant: str, token_id: str) -> bool:
        try:
            AdminTokenItem(f"T#{tenant}#ADMTOK", token_id).delete(condition=AdminTokenItem.pk.exists())
        except DeleteError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True
