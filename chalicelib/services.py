"""The hub's use cases. Pure: they speak to the world only through the ports they are given."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Mapping

from chalicelib.domain.errors import BadRequest, PayloadTooLarge, SignatureError, UnknownSource, UnknownTenant
from chalicelib.domain.people import normalise_email
from chalicelib.domain.ports import Credentials, Profile, Relations, SourceAdapter

MAX_BODY_BYTES = 1024 * 1024
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class WebhookReceipt:
    accepted: int    # hub events in the delivery (new or already known)
    ignored: int     # deliveries or items the hub does not use (pings, other event types)
    duplicates: int  # accepted events the hub already had

    def to_json(self) -> dict[str, int]:
        return {"accepted": self.accepted, "ignored": self.ignored, "duplicates": self.duplicates}


def check_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise UnknownTenant("unknown tenant")
    return tenant


@dataclass(frozen=True)
class Hub:
    """Built once per container by chalicelib.wiring; by tests with fakes or moto-backed adapters."""

    sources: Mapping[str, SourceAdapter]
    credentials: Credentials
    relations: Relations

    def receive_webhook(self, tenant: str, source: str, headers: Mapping[str, str], raw_body: bytes) -> WebhookReceipt:
        """Verify, parse and record a delivery once; the request path does nothing slower."""
        if len(raw_body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
        adapter = self.sources.get(source)
        if adapter is None:
            raise UnknownSource("no source is registered under this name")
        check_tenant(tenant)
        headers = {str(k).lower(): str(v) for k, v in headers.items()}
        self._verify(adapter, tenant, source, headers, raw_body)
        events = adapter.parse(headers, raw_body, tenant=tenant)
        fallback_id = hashlib.sha256(raw_body).hexdigest()  # vendors without a delivery id resend the same bytes
        duplicates = 0
        for index, event in enumerate(events):
            delivery_id = f"{event.delivery_id or fallback_id}:{index}"
            if not self.relations.record_once(event, delivery_id=delivery_id):
                duplicates += 1
        return WebhookReceipt(accepted=len(events), ignored=0 if events else 1, duplicates=duplicates)

    def _verify(self, adapter: SourceAdapter, tenant: str, source: str, headers: Mapping[str, str], raw_body: bytes) -> None:
        credentials = self.credentials.source(tenant, source)
        try:
            adapter.verify(headers, raw_body, credentials.webhook_secrets)
        except SignatureError:
            # This container may hold a secret rotated since it was cached: look once more, fresh.
            fresh = self.credentials.source(tenant, source, fresh=True)
            if fresh.webhook_secrets == credentials.webhook_secrets:
                raise
            adapter.verify(headers, raw_body, fresh.webhook_secrets)

    def connect_source(self, tenant: str, source: str, webhook_secret: object, api_key: object = None) -> None:
        """Store a tenant's connection to a source, creating the tenant when new."""
        if source not in self.sources:
            raise UnknownSource("no source is registered under this name")
        check_tenant(tenant)
        if not isinstance(webhook_secret, str) or not 8 <= len(webhook_secret) <= 4096:
            raise BadRequest("webhook_secret must be a string of 8 to 4096 characters")
        check_secret = getattr(self.sources[source], "check_secret", None)  # schemes with a key format
        if check_secret:
            check_secret(webhook_secret)
        if api_key is not None and (not isinstance(api_key, str) or not 1 <= len(api_key) <= 4096):
            raise BadRequest("api_key must be a string of 1 to 4096 characters")
        self.credentials.store_source(tenant, source, webhook_secret, api_key)
        self.relations.add_source(tenant, source)

    def person(self, tenant: str, person_id: str) -> Profile | None:
        return self.relations.profile(check_tenant(tenant), person_id)

    def people_by_email(self, tenant: str, email: str) -> list[Profile]:
        address = normalise_email(email)
        if address is None:
            raise BadRequest("email is not an e-mail address")
        return self.relations.find_by_email(check_tenant(tenant), address)
