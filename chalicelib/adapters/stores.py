"""Tenant configuration, link tokens and the suppression list on the hub's DynamoDB table."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone

from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamo import ConfigItem, SuppressionItem, TokenItem
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
