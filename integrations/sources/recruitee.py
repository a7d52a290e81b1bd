"""Recruitee (ATS) candidate_moved webhooks -> hub rejection and requalification events.

Vendor docs: Recruitee "Webhooks", https://docs.recruitee.com/docs/webhooks (setup, the {"test":true}
  request, request log, "any response status other than 200 is considered a webhook delivery failure").
  The stored copy of that page stops before its signing section and its event payloads; the header,
  the signed bytes and the payload shape below come from several independent public integrations
  that agree (see Quirks).
Auth: X-Recruitee-Signature = lowercase hex HMAC-SHA256 of the raw body, keyed with the secret the
  webhook dialog shows, no prefix. No timestamp is sent, so there is no replay window; a retry
  resends the same body.
Quirks:
  - Envelope: event_type "candidate_moved" with event_subtype "stage_changed", "disqualified" or
    "requalified"; payload.candidate {id, name, emails[], phones[]}, payload.offer {id, title} (the
    job) and payload.details (from_stage/to_stage for a move; the stage and the disqualify reason for a
    disqualification). disqualified -> RejectionEvent, requalified -> RejectionRevertedEvent,
    stage_changed -> nothing. Recruitee does not say whether a disqualify reason means the
    candidate withdrew, so by_candidate stays False.
  - The envelope's created_at is the event time and its id the delivery id (ASSUMED: neither is
    quoted from an official page; a delivery without created_at is refused as malformed rather than
    given the current time). Retries repeat the body, so the hub also dedupes on its hash.
  - The Test button POSTs {"test":true} and the Test payload buttons POST example events with
    "test": true; webhook creation needs a 200 for it. The test request may arrive before the secret
    is known (public integrations answer it before checking any signature), so verify lets an
    UNSIGNED body through only when it is a JSON object with "test": true, and parse ignores every
    body carrying "test": true. A signed body is always checked.
  - One application is a candidate in one offer: application_id is "<candidate id>:<offer id>".
Names: Recruitee gives one `name` per candidate (Recruitee webhook payload, candidate.name), kept
  as written; the hub does not guess which word is the family name.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.events import EventFields, HubEvent, PersonRef, RejectionEvent, RejectionRevertedEvent, utc
from integrations import signing
from integrations.payload import dig, load_object, obj, text

NAME = "recruitee"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "event_type")
EVENTS = ("candidate_moved",)
SUBTYPES = {"disqualified": RejectionEvent, "requalified": RejectionRevertedEvent}
SIGNING = "X-Recruitee-Signature: <hex HMAC-SHA256 of the raw body>; no timestamp (unsigned {\"test\": true} allowed)"
HEADER = "x-recruitee-signature"


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    given = headers.get(HEADER)
    if (given is None or not given.strip()) and _is_test(raw_body):
        return  # the setup test may come before the secret exists; parse ignores it
    given = signing.require_header(headers, HEADER)
    signing.verify_hmac(secrets, raw_body, [given], algorithm="sha256", encoding="hex")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    return {"X-Recruitee-Signature": signing.hmac_signature(secret, raw_body), "Content-Type": "application/json",
            "User-Agent": "Recruitee-Webhooks"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[HubEvent]:
    data = load_object(raw_body)
    if data.get("event_type") not in EVENTS or data.get("test") is True:
        return []
    subtype = data.get("event_subtype")
    cls = SUBTYPES.get(subtype) if isinstance(subtype, str) else None
    if cls is None:
        return []
    payload = obj(data, "payload", what="payload")
    candidate = obj(payload, "candidate", what="payload.candidate")
    candidate_id = text(candidate, "id", required=True, what="payload.candidate.id")
    offer_id = text(payload, "offer", "id", what="payload.offer.id")
    details = dig(payload, "details") if isinstance(dig(payload, "details"), dict) else {}
    delivery_id = text(data, "id", what="id")
    person = PersonRef(source=NAME, vendor_person_id=candidate_id,
                       name=text(candidate, "name", what="candidate.name"),
                       email=text(candidate, "emails", 0, what="candidate.emails[0]"),
                       phone=text(candidate, "phones", 0, what="candidate.phones[0]"))
    occurred_at = utc(dig(data, "created_at"), what="created_at")
    fields = EventFields(
        tenant=tenant,
        delivery_id=delivery_id,
        person=person,
        application_id=f"{candidate_id}:{offer_id}" if offer_id else candidate_id,
        job_id=offer_id,
        job_title=text(payload, "offer", "title", what="payload.offer.title"),
        stage=_stage(details),
    )
    if cls is RejectionEvent:
        return [RejectionEvent(**fields, occurred_at=occurred_at, reason=_reason(details), by_candidate=False)]
    return [cls(**fields, occurred_at=occurred_at)]


def _is_test(raw_body: bytes) -> bool:
    try:
        data = json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("test") is True


def _stage(details: Mapping[str, Any]) -> str | None:
    for key in ("stage", "from_stage", "to_stage"):
        name = text(details, key, "name", what=f"details.{key}.name")
        if name:
            return name
    return None


def _reason(details: Mapping[str, Any]) -> str | None:
    if isinstance(dig(details, "disqualify_reason"), dict):
        return text(details, "disqualify_reason", "name", what="details.disqualify_reason.name")
    return text(details, "disqualify_reason", what="details.disqualify_reason")
