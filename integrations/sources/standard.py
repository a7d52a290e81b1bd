"""Our generic source: any system that signs per Standard Webhooks and speaks our event schema.

Vendor docs: Standard Webhooks specification, https://www.standardwebhooks.com/ (spec/standard-webhooks.md
in github.com/standard-webhooks/standard-webhooks); body schema in docs/events.md and
docs/events.schema.json.
Auth: headers webhook-id, webhook-timestamp (epoch seconds, +-5 minutes) and webhook-signature
(space-separated "v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>"); the secret is
"whsec_<base64 key>". Verified by the `standardwebhooks` package.
Quirks: webhook-id is the delivery id (retries keep it). One event per message.
Names: person.family_name, given_name, family_kana, given_kana map one to one; person.name is
  the shown name when sent (docs/events.md).
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.domain.errors import BadRequest, PayloadError, SignatureError
from chalicelib.domain.events import (
    ApplicationEvent,
    EventFields,
    ExitEvent,
    HireEvent,
    HubEvent,
    PersonRef,
    RejectionEvent,
    RejectionRevertedEvent,
    utc,
)
from integrations import signing
from integrations.payload import dig, load_object, obj, text

NAME = "standard"
SIGNATURE_COVERS_BODY = True
TYPES: dict[str, type[HubEvent]] = {
    "candidate.applied": ApplicationEvent,
    "candidate.rejected": RejectionEvent,
    "candidate.rejection_reverted": RejectionRevertedEvent,
    "candidate.hired": HireEvent,
    "employee.exited": ExitEvent,
}
EVENT_FIELD = ("body", "type")
EVENTS = tuple(TYPES)
SIGNING = "Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature v1,<base64 HMAC-SHA256>"


def check_secret(secret: str) -> None:
    """Refuse a secret that is not a Standard Webhooks key ("whsec_" + base64)."""
    try:
        key = signing.decode_base64_secret(secret, prefix="whsec_")
    except SignatureError:
        key = b""
    if not secret.startswith("whsec_") or len(key) < 16:
        raise BadRequest("webhook_secret must be 'whsec_' followed by a base64 key of at least 16 bytes")


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    for secret in secrets:
        try:
            Webhook(secret).verify(raw_body, dict(headers), json_parse=False)
            return
        except WebhookVerificationError:
            continue
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            # malformed header values or a body that is not text: not a genuine delivery
            raise SignatureError("the webhook-signature headers are malformed") from None
        except Exception:  # noqa: BLE001 - EmptyWebhookSecretError and other refusals of the key
            continue
    raise SignatureError("the signature does not match")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None, msg_id: str | None = None) -> dict[str, str]:
    import uuid
    now = now or datetime.now(UTC)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    signature = Webhook(secret).sign(msg_id, now, raw_body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature, "Content-Type": "application/json"}


def new_secret() -> str:
    import os
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[HubEvent]:
    message = load_object(raw_body)
    event_type = message.get("type")
    if not isinstance(event_type, str):
        raise PayloadError("type is missing")
    cls = TYPES.get(event_type)
    if cls is None:
        return []
    data = obj(message, "data", what="data")
    person = obj(data, "person", what="data.person")
    by_candidate = dig(data, "by_candidate")
    if by_candidate is not None and not isinstance(by_candidate, bool):
        raise PayloadError("data.by_candidate must be true or false")
    locale = text(person, "locale")
    ref = PersonRef(source=NAME, vendor_person_id=text(person, "id", required=True, what="data.person.id"),
                    name=text(person, "name"), email=text(person, "email"), phone=text(person, "phone"),
                    family_name=text(person, "family_name"), given_name=text(person, "given_name"),
                    family_kana=text(person, "family_kana"), given_kana=text(person, "given_kana"),
                    locale=locale if locale in ("ja", "en") else None)
    occurred_at = utc(dig(data, "occurred_at"), what="data.occurred_at")
    fields = EventFields(
        tenant=tenant,
        delivery_id=headers.get("webhook-id"),
        person=ref,
        application_id=text(data, "application_id") or "",
        job_id=text(data, "job", "id"),
        job_title=text(data, "job", "title"),
        stage=text(data, "stage"),
    )
    reason = text(data, "reason")
    if cls is RejectionEvent:
        return [RejectionEvent(**fields, occurred_at=occurred_at, reason=reason, by_candidate=bool(by_candidate))]
    return [cls(**fields, occurred_at=occurred_at, reason=reason)]
