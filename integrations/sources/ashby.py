"""Ashby (ATS) webhooks -> hub events; thin notices completed from the Ashby API.

Vendor docs: Ashby developer docs, "Authenticating Webhooks"
  (https://developers.ashbyhq.com/docs/authenticating-webhooks), "Setting up Webhooks", "Retries",
  "Common Payload Data", "Related Webhooks", and the API reference's webhook payloads
  (applicationUpdate, candidateStageChange: https://developers.ashbyhq.com/reference/applicationupdatewebhook),
  application.info, candidate.info and archiveReason.list.
Auth: Ashby-Signature: sha256=<lowercase hex HMAC-SHA256 of the raw body>, keyed with the webhook's
  (optional, per webhook) secret token; no timestamp is signed, so there is no replay window.
  API: HTTP Basic with the API key as user name and an empty password; every call is a POST.
Quirks:
  - A rejection is a status, not an event: an application whose `status` is "Archived" (moved to
    an Archived-type stage with an archive reason). applicationUpdate also fires on unrelated edits
    (custom fields, source) and candidateStageChange triggers applicationUpdate, both with the same
    `webhookActionId`, so the same archive arrives several times: events are keyed to the
    application's `archivedAt`, never to the delivery time, and `webhookActionId` (the same across
    retries, documented) is the delivery id.
  - The payload's application carries the candidate's id and name and, optionally, its primary
    email and phone. When the email, `archivedAt` or the archive reason is missing, parse returns
    a Lookup and fetch() completes it (application.info, then candidate.info for contact data).
  - archiveReason.reasonType "RejectedByCandidate" means the candidate declined (by_candidate).
  - Not reported: un-archiving (the payload shows only the current status, so a reactivated
    application looks like any other) and hires (status "Hired" carries no hire time).
  - Ashby answers API errors with HTTP 200 and {"success": false, "errors": [...]}: a "*_not_found"
    error means the application is gone ([]); any other is permanent.
  - A "ping" is sent when a webhook is created or edited (parse -> []); an answer of 400 or more
    creates the webhook disabled. Up to 10 attempts, (2^n - 1) x 10 s apart; 401, 403, 404, 405 and
    410 are not retried.
The ats_field delivery (issue 19; registry.FIELD_WRITERS): "customField.setValue"
  (https://developers.ashbyhq.com/docs/customfieldsetvalue): POST with objectType "Candidate" (the
  candidate's id; "Application" only when the candidate is not known), objectId, fieldId (the custom
  field's id: delivery.field) and fieldValue (String/Url fields take a string); needs the
  candidatesWrite permission. Ashby's help documents email substitution tokens for candidate custom
  fields created with isExposableToCandidate ("customField.create",
  https://developers.ashbyhq.com/docs/customfieldcreate; "Emails", Substitution Tokens), not for
  application fields: so the candidate's field, as with Greenhouse (docs/sources.md). No acting user is named (no on_behalf_of). The
  backfill reads "application.list" (status Active, cursor paging).
Names: Ashby gives one `name` per candidate (Ashby API, candidate.info: "name"), kept as written;
  the hub does not guess which word is the family name.
"""
from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import FieldRefused, PayloadError, PermanentError, SignatureError
from chalicelib.domain.events import ApplicationEvent, HubEvent, Lookup, PersonRef, RejectionEvent, utc
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.vendors import FieldTarget, OpenApplication, OpenPage
from chalicelib.domain.vendors import VendorApi as AnyVendorApi
from integrations import signing
from integrations.http import VendorApi
from integrations.payload import load_object, obj, text

NAME = "ashby"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "action")
EVENTS = ("applicationUpdate", "candidateStageChange")
SIGNING = "Ashby-Signature: sha256=<hex HMAC-SHA256 of the raw body>; no timestamp"
API_BASE_URL = "https://api.ashbyhq.com"
# The hosts a tenant admin may point api_base_url at: Ashby API reference, https://developers.ashbyhq.com/reference
# (one host for every account).
API_HOSTS = ("api.ashbyhq.com",)
_ARCHIVED = "Archived"
FIELD_REQUIRES = ("field",)
_DECLINED = "RejectedByCandidate"


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    algorithm, _, digest = signing.require_header(headers, "Ashby-Signature").partition("=")
    if algorithm.strip().lower() != "sha256":
        raise SignatureError("the Ashby-Signature header is not 'sha256=<digest>'")
    signing.verify_hmac(secrets, raw_body, [digest], algorithm="sha256", encoding="hex")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    return {"Ashby-Signature": "sha256=" + signing.hmac_signature(secret, raw_body), "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[HubEvent | Lookup]:
    body = load_object(raw_body)
    if body.get("action") not in EVENTS:
        return []
    application = obj(body, "data", "application", what="data.application")
    application_id = text(application, "id", required=True, what="data.application.id")
    if text(application, "status", required=True, what="data.application.status") != _ARCHIVED:
        return []
    delivery_id = text(body, "webhookActionId")
    archived_at = text(application, "archivedAt")
    complete = (archived_at and isinstance(application.get("archiveReason"), dict)
                and text(application, "candidate", "id") and text(application, "candidate", "primaryEmailAddress", "value"))
    if complete:
        return [_rejection(tenant, delivery_id, application, None)]
    return [Lookup(tenant=tenant, source=NAME, resource="application", resource_id=application_id,
                   delivery_id=delivery_id, hint=RejectionEvent.KIND,
                   occurred_at=utc(archived_at, what="data.application.archivedAt") if archived_at else None)]


def _rejection(tenant: str, delivery_id: str | None, application: Mapping[str, Any], contact: Mapping[str, Any] | None,
               fallback_time: datetime | None = None) -> RejectionEvent:
    candidate = obj(application, "candidate", what="application.candidate")
    contact = contact or candidate
    archived_at = text(application, "archivedAt")
    if archived_at:
        when = utc(archived_at, what="application.archivedAt")
    elif fallback_time is not None:
        when = fallback_time
    else:
        raise PayloadError("application.archivedAt is missing")
    reason = application.get("archiveReason") if isinstance(application.get("archiveReason"), dict) else {}
    return RejectionEvent(
        tenant=tenant,
        delivery_id=delivery_id,
        person=PersonRef(source=NAME,
                         vendor_person_id=text(candidate, "id", required=True, what="application.candidate.id"),
                         name=text(contact, "name") or text(candidate, "name"),
                         email=text(contact, "primaryEmailAddress", "value"),
                         phone=text(contact, "primaryPhoneNumber", "value")),
        application_id=text(application, "id", required=True, what="application.id"),
        job_id=text(application, "job", "id"),
        job_title=text(application, "job", "title"),
        stage=text(application, "currentInterviewStage", "title"),
        reason=text(reason, "text"),
        by_candidate=text(reason, "reasonType") == _DECLINED,
        occurred_at=when,
    )


def auth_headers(api_key: str) -> dict[str, str]:
    """Basic auth: the API key as user name, an empty password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()}


def fetch(lookup: Lookup, api: VendorApi) -> list[HubEvent]:
    """The archived application as application.info tells it: [] when it is gone or active again."""
    application = _results(api.post("/application.info", json={"applicationId": lookup.resource_id}))
    if application is None or text(application, "status") != _ARCHIVED:
        return []
    contact = None
    if not text(application, "candidate", "primaryEmailAddress", "value"):
        candidate_id = text(application, "candidate", "id", required=True, what="application.candidate.id")
        contact = _results(api.post("/candidate.info", json={"id": candidate_id}))
    return [_rejection(lookup.tenant, lookup.delivery_id, application, contact, lookup.occurred_at)]


def _results(answer: object) -> JsonObject | None:
    """The `results` of an Ashby answer; None when the resource is not found."""
    if answer is None:
        return None
    if not isinstance(answer, dict):
        raise PayloadError("ashby answered with a body that is not an object")
    if answer.get("success") is False:
        found = answer.get("errors")
        errors = found if isinstance(found, list) else []
        if any(isinstance(e, str) and e.endswith("_not_found") for e in errors):
            return None
        raise PermanentError("ashby refused the request (success: false)")
    return obj(answer, "results", what="ashby results")


def write_field(api: AnyVendorApi, target: FieldTarget, value: str) -> bool:
    """customField.setValue on the candidate (whose custom fields Ashby's mail templates can show),
    or the application when the candidate is not known; False when it is gone. Any other refusal of
    the write (success: false) names the field: FieldRefused."""
    if not target.field:
        raise FieldRefused("ashby needs delivery.field (the custom field's id)")
    kind, object_id = ("Candidate", target.candidate_id) if target.candidate_id else ("Application", target.application_id)
    try:
        answer = api.post("/customField.setValue", json={"objectType": kind, "objectId": object_id,
                                                         "fieldId": target.field, "fieldValue": value})
        if _names_the_field(answer):
            raise FieldRefused("ashby refused the custom field")
        found = _results(answer)
    except FieldRefused:
        raise
    except PermanentError as refused:
        if type(refused) is PermanentError and refused.http_status in (None, 422):  # success: false, or a 422 as Greenhouse's
            raise FieldRefused("ashby refused the custom field value") from None
        raise
    return found is not None


def _names_the_field(answer: object) -> bool:
    """success: false about the custom field itself (custom_field_not_found_on_object for a deleted or
    deactivated field, Ashby changelog 2026-11-04): never read as the application being gone."""
    if not isinstance(answer, dict) or answer.get("success") is not False:
        return False
    errors = answer.get("errors")
    return any(isinstance(e, str) and e.startswith("custom_field") for e in (errors if isinstance(errors, list) else []))


def open_applications(api: AnyVendorApi, cursor: str | None, *, tenant: str) -> OpenPage:
    """One page of active applications (application.list), as applied facts."""
    answer = api.post("/application.list", json={"status": "Active", "limit": 100, **({"cursor": cursor} if cursor else {})})
    if not isinstance(answer, dict) or answer.get("success") is False:
        raise PermanentError("ashby refused the application list")
    found = []
    for application in answer.get("results") or []:
        if not isinstance(application, dict):
            continue
        candidate = application.get("candidate") if isinstance(application.get("candidate"), dict) else {}
        person = PersonRef(source=NAME, vendor_person_id=text(candidate, "id", required=True, what="candidate.id"),
                           name=text(candidate, "name"), email=text(candidate, "primaryEmailAddress", "value"))
        event = ApplicationEvent(tenant=tenant, person=person,
                                 application_id=text(application, "id", required=True, what="application.id"),
                                 occurred_at=utc(text(application, "createdAt"), what="application.createdAt"))
        found.append(OpenApplication(event=event, candidate_id=person.vendor_person_id))
    more = answer.get("moreDataAvailable") is True
    return OpenPage(applications=found, cursor=text(answer, "nextCursor") if more else None)
