"""SmartRecruiters (ATS) application status webhooks -> thin notices completed from the Customer API.

Vendor docs: SmartRecruiters "Generate a secret key for a webhook subscription",
  https://developers.smartrecruiters.com/reference/subscriptionsgeneratesecretkey-1 (signature, with a
  signed example used here as the known answer); "Receiving webhook notifications",
  https://developers.smartrecruiters.com/docs/receiving-webhook-notifications (thin body, Link header,
  retries); "Webhooks", https://dev.smartrecruiters.com/customer-api/webhooks/ (subscription, handshake).
Auth: header smartrecruiters-signature "v1=<hex HMAC-SHA256>" over
  "<smartrecruiters-timestamp>.<body>.<event-id>.<event-name>.<event-version>.<link>" (an absent header
  counts as ""), keyed with a secret generated for the subscription. Several signatures may come,
  separated by ";": one per active key (an old key stays valid 24 h after a new one is made, up to
  16 keys) and possibly future schemes, so any v1 that matches is enough and other schemes are skipped.
  smartrecruiters-timestamp is the request time in epoch seconds; the docs give no tolerance, so the
  hub allows +-TOLERANCE_S (each retry is a new request with a new timestamp and signature).
Quirks:
  - Thin notices: the event name and version are in headers (event-name, event-version); the body
    names the changed resource (documented as {"id": ...}; application events name "candidate_id"
    and "job_id", as in the signed example) and the Link header points at its current state. The
    body says nothing about the new status, so every application.status.updated becomes a Lookup and
    fetch decides: REJECTED -> rejection, WITHDRAWN -> rejection by the candidate, anything else -> [].
    A status leaving REJECTED cannot be told from any other change, so no reversal is emitted.
  - fetch reads the application (GET candidates/{candidateId}/jobs/{jobId}), its status history (the
    time of the rejection is the history entry's changedOn, the stage is the status before it) and
    the candidate (name, email, phoneNumber; job title from its job assignments). It builds these
    paths from the candidate and job ids instead of calling the Link URL, so the API key is only ever
    sent to the tenant's configured API host. The application's rejection-reason field was not
    verified in the docs, so no reason is read.
  - The event-id header is the delivery id; smartrecruiters-timestamp is the request time, which
    changes on retries, so it is never an event time.
  - Activation is a separate handshake (a POST carrying X-Hook-Secret that must be echoed back within
    20 s); this module does not answer it. Deliveries want HTTP 202 within 5 s; failures are retried
    up to 10 times over about 24 h, then the subscription may be suspended.
  - API auth: an X-SmartToken API key (api_key), or OAuth2 client credentials (`oauth` {client_id,
    client_secret}): SmartRecruiters "OAuth 2.0. Client Credentials grant",
    https://developers.smartrecruiters.com/docs/authentication-oauth-client-credential : POST
    https://api.smartrecruiters.com/identity/oauth/token (grant_type=client_credentials, client_id,
    client_secret) answers {"access_token", "expires_in", ...}; calls then carry
    "Authorization: Bearer <access token>". The hub keeps the token in the connection's secret and
    fetches a new one 10 minutes before it expires (nothing rotates, so no single-use rule).
Names: the candidate's `lastName` -> family_name, `firstName` -> given_name (Candidate API,
  GET /candidates/{id}: firstName, lastName). No reading.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.errors import PayloadError, RetryableError, SignatureError
from chalicelib.domain.events import HubEvent, Lookup, PersonRef, RejectionEvent, utc
from chalicelib.domain.oauth import OAuthClient
from integrations import signing
from integrations.http import VendorApi
from integrations.payload import dig, load_object, text

NAME = "smartrecruiters"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("header", "event-name")
EVENTS = ("application.status.updated",)
SIGNING = ("smartrecruiters-signature: v1=<hex HMAC-SHA256 of 'timestamp.body.event-id.event-name.event-version.link'>"
           " (';'-separated, any may match); smartrecruiters-timestamp in seconds, +-5 minutes")
API_BASE_URL = "https://api.smartrecruiters.com"
# The hosts a tenant admin may point api_base_url at: SmartRecruiters Customer API,
# https://developers.smartrecruiters.com/reference.
API_HOSTS = ("api.smartrecruiters.com",)
OAUTH = OAuthClient(grant="client_credentials", token_url="https://api.smartrecruiters.com/identity/oauth/token",
                    token_hosts=("api.smartrecruiters.com",))
TOLERANCE_S = 300
SIGNED_HEADERS = ("event-id", "event-name", "event-version", "link")
REJECTED, WITHDRAWN = "REJECTED", "WITHDRAWN"
_APPLICATION_PATH = re.compile(r"/candidates/([^/?#]+)/jobs/([^/?#]+)/?$")


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    timestamp = signing.require_header(headers, "smartrecruiters-timestamp")
    given = [value for scheme, value in _signatures(signing.require_header(headers, "smartrecruiters-signature"))
             if scheme == "v1"]
    if not given:
        raise SignatureError("the smartrecruiters-signature header has no v1 signature")
    moment = signing.parse_timestamp(timestamp)
    signing.verify_hmac(secrets, _signed_bytes(timestamp, raw_body, headers), given, algorithm="sha256", encoding="hex")
    signing.check_fresh(moment, tolerance_s=TOLERANCE_S)


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None, event_id: str | None = None,
         event_name: str | None = None, event_version: str | None = None, link: str | None = None) -> dict[str, str]:
    """Headers of a delivery of raw_body; the event headers are signed (as "" when not given)."""
    now = now or datetime.now(UTC)
    event = {k: v for k, v in zip(SIGNED_HEADERS, (event_id, event_name, event_version, link), strict=True) if v is not None}
    timestamp = str(int(now.timestamp()))
    digest = signing.hmac_signature(secret, _signed_bytes(timestamp, raw_body, event))
    return {"smartrecruiters-timestamp": timestamp, "smartrecruiters-signature": f"v1={digest}",
            "Content-Type": "application/json", **event}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[HubEvent | Lookup]:
    if headers.get("event-name") not in EVENTS:
        return []
    data = load_object(raw_body)
    from_link = _application_path(headers.get("link"))
    candidate_id = text(data, "candidate_id", what="candidate_id") or text(data, "candidateId", what="candidateId")
    job_id = text(data, "job_id", what="job_id") or text(data, "jobId", what="jobId")
    if not (candidate_id and job_id) and from_link:
        candidate_id, job_id = from_link
    if not (candidate_id and job_id):
        raise PayloadError("the notice names no candidate and job (neither in the body nor in the Link header)")
    if "/" in candidate_id or "/" in job_id:
        raise PayloadError("the candidate or job id is not an id")
    return [Lookup(tenant=tenant, source=NAME, resource="application", resource_id=f"{candidate_id}:{job_id}",
                   delivery_id=headers.get("event-id") or None,
                   extra=(("candidate_id", candidate_id), ("job_id", job_id)))]


def auth_headers(api_key: str) -> dict[str, str]:
    return {"X-SmartToken": api_key}


def fetch(lookup: Lookup, api: VendorApi) -> list[HubEvent]:
    """The rejection the application's current status shows, if it shows one."""
    candidate_id, job_id = lookup.get("candidate_id"), lookup.get("job_id")
    if not candidate_id or not job_id:
        raise PayloadError("the notice names no candidate and job")
    base = f"candidates/{candidate_id}/jobs/{job_id}"
    application = api.get(base)
    if not isinstance(application, dict):
        return []  # 404: the application or candidate is gone
    status = (text(application, "status", what="application.status") or "").upper()
    if status not in (REJECTED, WITHDRAWN):
        return []
    changed_on, stage = _when_and_stage(api.get(f"{base}/status/history"), status)
    candidate = api.get(f"candidates/{candidate_id}")
    candidate = candidate if isinstance(candidate, dict) else {}
    return [RejectionEvent(
        tenant=lookup.tenant,
        delivery_id=lookup.delivery_id,
        person=PersonRef(source=NAME, vendor_person_id=candidate_id,
                         family_name=text(candidate, "lastName"), given_name=text(candidate, "firstName"),
                         email=text(candidate, "email"), phone=text(candidate, "phoneNumber")),
        occurred_at=changed_on,
        application_id=f"{candidate_id}:{job_id}",
        job_id=job_id,
        job_title=_job_title(candidate, job_id),
        stage=stage,
        by_candidate=status == WITHDRAWN,
    )]


def _signatures(value: str) -> list[tuple[str, str]]:
    pairs = []
    for segment in value.strip().strip('"').split(";"):
        scheme, sep, digest = segment.strip().partition("=")
        if sep and digest.strip():
            pairs.append((scheme.strip().lower(), digest.strip()))
    return pairs


def _signed_bytes(timestamp: str, raw_body: bytes, headers: Mapping[str, str]) -> bytes:
    try:
        parts = [timestamp.encode(), raw_body, *(headers.get(name, "").encode() for name in SIGNED_HEADERS)]
    except UnicodeEncodeError:
        raise SignatureError("a signed header is not text") from None
    return b".".join(parts)


def _application_path(link: str | None) -> tuple[str, str] | None:
    """(candidate id, job id) from a Link header such as '<https://…/candidates/c/jobs/j>; rel=self'."""
    if not link:
        return None
    target = link.strip().split(";")[0].strip().strip("<>").strip()
    try:
        match = _APPLICATION_PATH.search(urlsplit(target).path)
    except ValueError:
        return None
    return (match.group(1), match.group(2)) if match else None


def _when_and_stage(history: object, status: str) -> tuple[datetime, str | None]:
    """changedOn of the latest history entry with status, and the status it left (the stage)."""
    entries = dig(history, "content")
    entries = [e for e in entries if isinstance(e, dict) and text(e, "changedOn")] if isinstance(entries, list) else []
    entries.sort(key=lambda e: utc(text(e, "changedOn"), what="status history changedOn"))
    for index in range(len(entries) - 1, -1, -1):
        if (text(entries[index], "status") or "").upper() == status:
            before = text(entries[index - 1], "status") if index > 0 else None
            return utc(text(entries[index], "changedOn"), what="status history changedOn"), before
    # the notice can outrun the history; the queue retries the lookup
    raise RetryableError(f"{NAME} status history has no {status.lower()} entry yet")


def _job_title(candidate: Mapping[str, Any], job_id: str) -> str | None:
    assignments = [dig(candidate, "primaryAssignment")]
    secondary = dig(candidate, "secondaryAssignments")
    assignments += secondary if isinstance(secondary, list) else []
    for assignment in assignments:
        if text(assignment, "job", "id") == job_id:
            return text(assignment, "job", "title")
    return None
