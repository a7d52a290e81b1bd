"""Greenhouse (ATS) web hooks -> hub events.

Vendor docs: Greenhouse "Web Hooks" (Harvest), https://developers.greenhouse.io/webhooks.html
  - Authentication: "Signature: sha256 <digest>", the hex HMAC-SHA256 of the raw request body
    keyed with the secret key entered when the web hook was created.
  - Events used: reject_candidate, unreject_candidate, hire_candidate, new_candidate_application.
Auth: HMAC-SHA256, hex, over the raw body; no timestamp is sent, so there is no replay window.
Quirks:
  - A `ping` is sent when a hook is created or edited: it parses to nothing.
  - Every delivery carries a `Greenhouse-Event-ID` header; the docs do not say whether retries
    (up to 7 over about 15 hours, more where an account raised it) keep it, so the hub also
    dedupes on the business fact.
  - unreject_candidate carries no time of the reversal. In the documented example pair
    ("Candidate/Prospect rejected" and "Candidate/Prospect unrejected",
    https://developers.greenhouse.io/webhooks.html#candidate-prospect-unrejected; source
    grnhse/greenhouse-api-docs, source/includes/webhooks/_candidate_events.md) the unreject's
    `last_activity_at` equals the rejection's `rejected_at` (2015-02-11T15:50:41Z). The hub takes
    `last_activity_at` (never earlier than the rejection it undoes, and the same on every retry, so
    a resent unreject is still one fact) and the domain lets a reversal win a tie with its rejection
    (chalicelib/domain/person.py PRECEDENCE). An unreject with no `last_activity_at` at all takes
    the time of receipt (parse runs when the delivery arrives) rather than being refused.
  - hire_candidate has a single `job` rather than `jobs`, and the hire time in `offer.resolved_at`.
  - A rejection reason of type "They rejected us" means the candidate withdrew or declined.
Names: the candidate's `last_name` -> family_name, `first_name` -> given_name (Harvest candidate
  object, first_name / last_name; through integrations/unified.py). No reading.

The ats_field delivery (issue 19; registry.FIELD_WRITERS): the hub writes the candidate's Career
Relay link into a candidate custom field that the tenant's rejection template shows as a token.
Vendor docs: Greenhouse Harvest API (https://developers.greenhouse.io/harvest.html; source
  grnhse/greenhouse-api-docs, source/includes/harvest/):
  - "PATCH: Edit Candidate" (https://developers.greenhouse.io/harvest.html#patch-edit-candidate):
    `PATCH /v1/candidates/{id}` with `custom_fields: [{"name_key": <the field's immutable key>,
    "value": ...}]` and the header `On-Behalf-Of: <ID of the Greenhouse user issuing the request>`
    ("required for auditing purposes").
  - Authentication: HTTP Basic over HTTPS, the Harvest API key as user name, an empty password.
  - Custom fields ("The custom field object", _custom_fields.md): `name_key` ("immutable field
    key") and `template_token_string` (e.g. "{{SENIORITY}}"): the token the email templates use.
  - Errors: 401 (bad key), 403 (the key lacks the endpoint's permission), 404 (no such candidate),
    422 (validation: an unknown custom field), 429 with Retry-After (rate limit, per 10 s window).
  - The backfill: "GET: List Candidates" (`GET /v1/candidates?per_page=&page=`), each candidate
    with its `applications` (status active | rejected | hired).
"""
from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.errors import FieldRefused, PayloadError, PermanentError, SignatureError
from chalicelib.domain.events import ApplicationEvent, EventFields, HireEvent, HubEvent, RejectionEvent, RejectionRevertedEvent, utc
from chalicelib.domain.vendors import FieldTarget, OpenApplication, OpenPage, VendorApi
from integrations import signing, unified
from integrations.payload import dig, load_object, obj, text

NAME = "greenhouse"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "action")
EVENTS = ("reject_candidate", "unreject_candidate", "hire_candidate", "new_candidate_application")
SIGNING = "Signature: sha256 <hex HMAC-SHA256 of the raw body>"
_CANDIDATE_DECLINED = "they rejected us"
API_BASE_URL = "https://harvest.greenhouse.io"
# Harvest's one documented host (https://developers.greenhouse.io/harvest.html#authentication)
API_HOSTS = ("harvest.greenhouse.io",)
FIELD_REQUIRES = ("field", "on_behalf_of")
BACKFILL_PAGE = 100


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    scheme, _, digest = signing.require_header(headers, "Signature").partition(" ")
    if scheme.lower() != "sha256":
        raise SignatureError("the Signature header is not 'sha256 <digest>'")
    signing.verify_hmac(secrets, raw_body, [digest], algorithm="sha256", encoding="hex")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    return {"Signature": "sha256 " + signing.hmac_signature(secret, raw_body), "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[HubEvent]:
    data = load_object(raw_body)
    action = data.get("action")
    if action not in EVENTS:
        return []
    application = obj(data, "payload", "application", what="payload.application")
    candidate = obj(application, "candidate", what="payload.application.candidate")
    job = dig(application, "jobs", 0) or dig(application, "job") or {}
    common = EventFields(
        tenant=tenant,
        delivery_id=headers.get("greenhouse-event-id"),
        person=unified.candidate(NAME, candidate),
        application_id=text(application, "id", required=True, what="application.id"),
        job_id=text(job, "id"),
        job_title=text(job, "name"),
        stage=text(application, "current_stage", "name"),
    )
    if action == "reject_candidate":
        kind = (text(application, "rejection_reason", "type", "name") or "").lower()
        return [RejectionEvent(**common, occurred_at=_when(application, "rejected_at", "last_activity_at"),
                               reason=text(application, "rejection_reason", "name"),
                               by_candidate=kind == _CANDIDATE_DECLINED)]
    if action == "unreject_candidate":
        # no time of the reversal's own: the application's last activity, else the time of receipt
        reverted_at = _when(application, "last_activity_at") if text(application, "last_activity_at") \
            else datetime.now(UTC)
        return [RejectionRevertedEvent(**common, occurred_at=reverted_at)]
    if action == "hire_candidate":
        resolved = text(application, "offer", "resolved_at")
        return [HireEvent(**common, occurred_at=utc(resolved) if resolved else _when(application, "last_activity_at"))]
    return [ApplicationEvent(**common, occurred_at=_when(application, "applied_at", "last_activity_at"))]


def _when(application: Mapping[str, Any], *fields: str) -> datetime:
    for field in fields:
        value = text(application, field)
        if value:
            return utc(value, what=f"application.{field}")
    return utc(None, what=f"application.{fields[0]}")


def auth_headers(api_key: str) -> dict[str, str]:
    """Harvest: Basic auth, the API key as user name and an empty password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()}


def write_field(api: VendorApi, target: FieldTarget, value: str) -> bool:
    """PATCH the candidate's custom field (name_key) as the On-Behalf-Of user; False when the
    candidate is gone (404). A 422 is Greenhouse refusing the field (unknown key, wrong type)."""
    if not target.candidate_id or not target.field or not target.on_behalf_of:
        raise FieldRefused("greenhouse needs the candidate, delivery.field and delivery.on_behalf_of")
    try:
        answer = api.patch(f"/v1/candidates/{target.candidate_id}", headers={"On-Behalf-Of": target.on_behalf_of},
                           json={"custom_fields": [{"name_key": target.field, "value": value}]})
    except FieldRefused:
        raise
    except PermanentError as refused:
        if refused.http_status == 422:
            raise FieldRefused("greenhouse refused the custom field (422)") from None
        raise
    return answer is not None


def open_applications(api: VendorApi, cursor: str | None, *, tenant: str) -> OpenPage:
    """One page of candidates (List Candidates), as the applied facts of their active applications."""
    page = int(cursor or "1")
    candidates = api.get("/v1/candidates", params={"per_page": BACKFILL_PAGE, "page": page}) or []
    if not isinstance(candidates, list):
        raise PayloadError("greenhouse answered the candidate list with something other than a list")
    found = []
    for candidate in candidates:
        if not isinstance(candidate, dict):
            continue
        for application in candidate.get("applications") or []:
            if not isinstance(application, dict) or application.get("status") != "active":
                continue
            job = dig(application, "jobs", 0) or {}
            event = ApplicationEvent(tenant=tenant, person=unified.candidate(NAME, candidate),
                                     application_id=text(application, "id", required=True, what="application.id"),
                                     job_id=text(job, "id"), job_title=text(job, "name"),
                                     occurred_at=_when(application, "applied_at", "last_activity_at"))
            found.append(OpenApplication(event=event, candidate_id=text(candidate, "id")))
    return OpenPage(applications=found, cursor=str(page + 1) if len(candidates) >= BACKFILL_PAGE else None)
