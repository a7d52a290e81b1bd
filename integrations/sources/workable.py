"""Workable (ATS) webhooks -> hub events.

Vendor docs: Workable API, "Webhook Subscriptions - Candidates & Employees"
  (https://workable.readme.io/reference/webhook-subscriptions-candidates-employees), "Candidate Events"
  (https://workable.readme.io/reference/candidate-events) and "/candidates"
  (https://workable.readme.io/reference/job-candidates-index) for the candidate fields.
Auth: X-Workable-Signature: HMAC-SHA256 of the raw body ("the payload of the request") keyed with the
  account's API token or the OAuth application's secret. The encoding is not documented: read as
  lowercase hex (as public receiver code does, e.g. botpress/botpress integrations/workable). No
  timestamp is signed, so there is no replay window.
Quirks:
  - Deliveries are full candidate objects, not thin: {id, event_type, fired_at, resource_type, data}
    (envelope per public receiver code; the doc tables only `data`). `data` is "the state at the
    time of the request and not the state of the resource from when the event fired", so one
    candidate_moved can already show a later disqualification: events are keyed to the state's own
    times (`disqualified_at`, `hired_at`), never to `fired_at`, so repeats converge.
  - Rejection: `disqualified: true`; reason `disqualification_reason`; `withdrew: true` (the
    candidate withdrew and was disqualified) means the candidate declined. If `disqualified_at` is
    missing the time falls back to `updated_at` (then a later edit could record a second rejection).
  - Hire: `hired_at` ("the date the candidate was moved to the hired stage") on a qualified candidate.
  - Requalification is NOT reported: a requalified candidate's payload (`disqualified: false`) looks
    like any other move, and the payload carries no previous state, so no reversal can be read from
    it. (The hub keeps the rejection; see the adapter's report.)
  - A Workable candidate record belongs to one job, so its id is both the person id and the
    application id; the job is `job.shortcode` / `job.title`; `stage` is the stage name.
  - Delivery id: the envelope `id`. Workable replays a delivery until it gets a 200; no schedule
    is documented.
Names: `lastname` -> family_name, `firstname` -> given_name (Workable candidate: firstname,
  lastname, name). Workable's own `name` joins them given name first whatever the script, so it is
  used only when neither part is sent.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import PayloadError
from chalicelib.domain.events import EventFields, HireEvent, HubEvent, PersonRef, RejectionEvent, utc
from integrations import signing
from integrations.payload import load_object, obj, text

NAME = "workable"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "event_type")
EVENTS = ("candidate_moved",)
SIGNING = "X-Workable-Signature: hex HMAC-SHA256 of the raw body (account token or OAuth app secret); no timestamp"


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    signature = signing.require_header(headers, "X-Workable-Signature")
    signing.verify_hmac(secrets, raw_body, [signature], algorithm="sha256", encoding="hex")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    return {"X-Workable-Signature": signing.hmac_signature(secret, raw_body), "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[HubEvent]:
    body = load_object(raw_body)
    if body.get("event_type") not in EVENTS:
        return []
    data = obj(body, "data", what="data")
    candidate_id = text(data, "id", required=True, what="data.id")
    disqualified, withdrew = _flag(data, "disqualified"), _flag(data, "withdrew")
    common = EventFields(
        tenant=tenant,
        delivery_id=text(body, "id"),
        person=PersonRef(source=NAME, vendor_person_id=candidate_id,
                         family_name=text(data, "lastname"), given_name=text(data, "firstname"),
                         name=None if text(data, "lastname") or text(data, "firstname") else text(data, "name"),
                         email=text(data, "email"), phone=text(data, "phone")),
        application_id=candidate_id,
        job_id=text(data, "job", "shortcode"),
        job_title=text(data, "job", "title"),
        stage=text(data, "stage"),
    )
    if disqualified:
        return [RejectionEvent(**common, occurred_at=_when(data, "disqualified_at", "updated_at"),
                               reason=text(data, "disqualification_reason"), by_candidate=withdrew)]
    hired_at = text(data, "hired_at")
    if hired_at:
        return [HireEvent(**common, occurred_at=utc(hired_at, what="data.hired_at"))]
    return []  # an ordinary move, or a requalification (indistinguishable: see Quirks)


def _flag(data: Mapping[str, Any], field: str) -> bool:
    value = data.get(field)
    if value is not None and not isinstance(value, bool):
        raise PayloadError(f"data.{field} must be true or false")
    return bool(value)


def _when(data: Mapping[str, Any], *fields: str) -> datetime:
    for field in fields:
        value = text(data, field)
        if value:
            return utc(value, what=f"data.{field}")
    raise PayloadError(f"data.{fields[0]} is missing")
