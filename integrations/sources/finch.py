"""Finch (unified HRIS/payroll API) webhooks -> hub events, completed from the Finch API.

Vendor docs: Finch "Webhooks", https://developer.tryfinch.com/developer-resources/Webhooks ;
  "Employment" (POST /employer/employment), https://developer.tryfinch.com/api-reference/organization/employment ;
  "Individual" (POST /employer/individual). Verification as in the official SDK,
  Finch-API/finch-api-python src/finch/resources/webhooks.py; payload and employment fields as in
  its src/finch/types/employment_event.py, directory_event.py and hris/employment_data.py.
  - Events used: `employment.updated` and `directory.updated` (data.individual_id).
Auth: headers Finch-Event-Id, Finch-Timestamp (epoch seconds, +-300 s) and Finch-Signature
  ("v1,<base64 HMAC-SHA256>", several space-separated during rotation) over
  "<event id>.<timestamp>.<body>"; the key is the base64-DECODED webhook secret (no whsec_
  prefix). API calls (fetch): `Authorization: Bearer <connection access token>` and
  `Finch-API-Version: 2020-09-17`.
Quirks:
  - Data-change events are THIN (an individual id) and there is no termination event: each one
    becomes a Lookup, and fetch reads the employment and emits an exit when employment_status is
    `terminated` or `retired` (or, where the provider gives no detailed status, is_active is
    false) and an end_date exists. The exit is keyed to end_date. `deceased` is never an exit
    notice. Without end_date there is no effective date, so nothing is emitted.
  - Finch batch endpoints answer 200 with a per-individual `code`: 404 there means "gone"
    (nothing to do), 429/5xx retry, other codes are permanent.
  - Contact data lives in /employer/individual, read only for an exit (emails/phone_numbers,
    personal preferred). Finch has no termination reason.
  - Finch-Event-Id (msg_...) is the delivery id. Finch does not document its retry schedule (the
    header scheme is Svix's). `entity_id` (multi-entity connections) is carried to fetch.
  - The timestamp in the signed content is re-rendered as whole seconds, as the SDK does.
Names: the employment's `last_name` -> family_name, `first_name` -> given_name (legal names,
  src/finch/types/hris/employment_data.py and IndividualInDirectory: "The legal first/last name of
  the individual"); `middle_name` is not used. Finch has no reading (フリガナ).
"""
from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.errors import PayloadError, PermanentError, RetryableError, SignatureError
from chalicelib.domain.events import ExitEvent, HubEvent, Lookup, Notice, PersonRef, utc
from chalicelib.domain.ports import VendorApi
from integrations import signing
from integrations.payload import load_object, text

NAME = "finch"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "event_type")
EVENTS = ("employment.updated", "directory.updated")
SIGNING = ("Finch-Event-Id, Finch-Timestamp (+-300 s), Finch-Signature 'v1,<base64 HMAC-SHA256 of "
           "\"<id>.<timestamp>.<body>\">' (space-separated list); key = base64-decoded secret")
API_BASE_URL = "https://api.tryfinch.com"
# The hosts a tenant admin may point api_base_url at: Finch API reference, https://developer.tryfinch.com/api-
# reference (sandbox connections use the same host).
API_HOSTS = ("api.tryfinch.com",)
API_VERSION = "2020-09-17"
TOLERANCE_S = 300
_LEFT = ("terminated", "retired")


def _keys(secrets: Sequence[str]) -> list[bytes]:
    keys = []
    for secret in secrets:
        if not secret:
            continue
        try:
            keys.append(signing.decode_base64_secret(secret))
        except SignatureError:
            continue  # a malformed stored secret must not hide a valid one beside it
    if not keys:
        raise SignatureError("no configured secret is base64")
    return keys


def _signed_content(event_id: str, timestamp: datetime, raw_body: bytes) -> bytes:
    try:
        prefix = f"{event_id}.{math.floor(timestamp.timestamp())}.".encode()
    except UnicodeEncodeError:
        raise SignatureError("the Finch-Event-Id header is not text") from None
    return prefix + raw_body


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    event_id = signing.require_header(headers, "Finch-Event-Id")
    timestamp = signing.parse_timestamp(signing.require_header(headers, "Finch-Timestamp"))
    signatures = signing.require_header(headers, "Finch-Signature")
    signing.check_fresh(timestamp, tolerance_s=TOLERANCE_S)
    candidates = []
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and value:  # other versions are ignored, as the SDK does
            candidates.append(value)
    signing.verify_hmac(_keys(secrets), _signed_content(event_id, timestamp, raw_body), candidates,
                        algorithm="sha256", encoding="base64")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None, event_id: str | None = None) -> dict[str, str]:
    now = now or datetime.now(UTC)
    event_id = event_id or f"msg_{uuid.uuid4().hex}"
    [key] = _keys([secret])
    signature = signing.hmac_signature(key, _signed_content(event_id, now, raw_body), encoding="base64")
    return {"Finch-Event-Id": event_id, "Finch-Timestamp": str(math.floor(now.timestamp())),
            "Finch-Signature": f"v1,{signature}", "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
    message = load_object(raw_body)
    if message.get("event_type") not in EVENTS:
        return []
    individual_id = text(message, "data", "individual_id", required=True, what="data.individual_id")
    entity_id = text(message, "entity_id")
    return [Lookup(tenant=tenant, source=NAME, resource="employment", resource_id=individual_id,
                   delivery_id=headers.get("finch-event-id"),
                   extra=(("entity_id", entity_id),) if entity_id else ())]


def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Finch-API-Version": API_VERSION}


def fetch(lookup: Lookup, api: VendorApi) -> Sequence[HubEvent]:
    """Read the individual's employment; an exit when they have left, keyed to end_date."""
    if lookup.resource != "employment":
        return []
    employment = _read(api, "employer/employment", lookup)
    if employment is None:
        return []
    status = text(employment, "employment_status")
    left = status in _LEFT or (status is None and employment.get("is_active") is False)
    end_date = text(employment, "end_date")
    if not left or not end_date:
        return []
    individual = _read(api, "employer/individual", lookup) or {}
    return [ExitEvent(
        tenant=lookup.tenant,
        person=PersonRef(
            source=NAME,
            vendor_person_id=text(employment, "id") or lookup.resource_id,
            family_name=text(employment, "last_name"), given_name=text(employment, "first_name"),
            email=_preferred(individual.get("emails")),
            phone=_preferred(individual.get("phone_numbers")),
        ),
        occurred_at=utc(end_date, what="employment.end_date"),
        delivery_id=lookup.delivery_id,
        job_title=text(employment, "title"),
    )]


# -- API answers ----------------------------------------------------------------------------------

def _read(api: VendorApi, path: str, lookup: Lookup) -> dict[str, Any] | None:
    """The body of one individual in a Finch batch answer; None when Finch says it is gone."""
    request: dict[str, Any] = {"requests": [{"individual_id": lookup.resource_id}]}
    if lookup.get("entity_id"):
        request["entity_ids"] = [lookup.get("entity_id")]
    answer = api.post(path, json=request)
    if answer is None:
        return None
    responses = answer.get("responses") if isinstance(answer, dict) else None
    if not isinstance(responses, list):
        raise PayloadError(f"finch answered {path} without responses")
    mine = [r for r in responses if isinstance(r, dict) and r.get("individual_id") == lookup.resource_id]
    if not mine:
        return None
    code, body = mine[0].get("code"), mine[0].get("body")
    if code == 404:
        return None
    if code == 429 or (isinstance(code, int) and code >= 500):
        raise RetryableError(f"finch answered {code} for one individual")
    if code != 200 or not isinstance(body, dict):
        raise PermanentError(f"finch answered {code} for one individual")
    return body


def _preferred(entries: Any) -> str | None:
    """The personal entry of a Finch emails/phone_numbers list, else the first one."""
    if not isinstance(entries, list):
        return None
    usable = [e for e in entries if isinstance(e, dict) and text(e, "data")]
    personal = [e for e in usable if e.get("type") == "personal"]
    chosen = personal or usable
    return text(chosen[0], "data") if chosen else None
