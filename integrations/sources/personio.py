"""Personio (HR) v2 webhooks -> hub exits.

Vendor docs: Personio "Webhooks" (https://developer.personio.de/v2.0/reference/webhooks), "Create a
  webhook" (https://developer.personio.de/reference/post_v2-webhooks), the changelog "Effective Date
  Notification Webhooks - 'employment.started' and 'employment.terminated'"
  (https://developer.personio.de/changelog/webhooks-effective-date-notification-webhooks-employmentstarted-and-employmentterminated),
  "List employments of a person" (https://developer.personio.de/v2.0/reference/get_v2-persons-person-id-employments).
Auth: no signature. With auth_type TOKEN (the default) Personio sends the webhook's static token as
  the whole Authorization header value ("no prefix will be added automatically"); it is compared in
  constant time with the tenant's secret(s). Nothing is signed, so there is no replay window
  (SIGNATURE_COVERS_BODY = False: parse returns Lookups only, each person looked up once per window).
Quirks:
  - "Dataless notifications": the envelope is {company_id, event_name, occurred_at, payload, meta}
    and the payload holds ids only, so parse returns a Lookup and fetch reads the employment.
    The payload keys of employment.terminated were not retrieved: the employment id is read from
    payload.id (or payload.employment.id) and the person id from payload.person.id (or
    payload.person_id), the shape of the v2 employment resource.
  - employment.terminated fires ON the termination date. The exit is keyed to the employment's
    termination.termination_date (falling back to last_working_date), never to occurred_at.
  - No delivery id. Retries: up to 6 attempts over 3 days (the changelog says 6), on timeouts
    (3 s to acknowledge) and 5xx other than 501.
  - API auth is OAuth2 client credentials: the tenant's api_key is "<client_id>:<client_secret>",
    sent as HTTP Basic to POST /v2/auth/token (RFC 6749 client_secret_basic); the token is used as a
    Bearer token for the reads. Basic (rather than form fields) is an assumption.
Names: the v2 person's `last_name` -> family_name, `first_name` -> given_name
  (GET /v2/persons/{id}, https://developer.personio.de/v2.0/reference/get_v2-persons); `preferred_name`
  (Rufname, the changelog "Addition of 'preferred_name' attribute") replaces the given name in the
  shown `name`, the legal parts kept.
"""
from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime

from chalicelib.domain.errors import PermanentError
from chalicelib.domain.events import ExitEvent, HubEvent, Lookup, Notice, PersonRef, utc
from integrations import signing
from integrations.http import VendorApi
from integrations.payload import dig, load_object, obj, preferred_name, text

NAME = "personio"
# a static token: it authenticates the sender, not the bytes, so parse returns Lookups only
SIGNATURE_COVERS_BODY = False
EVENT_FIELD = ("body", "event_name")
EVENTS = ("employment.terminated",)
SIGNING = "Authorization: the webhook's static token, compared in constant time; nothing signed"
API_BASE_URL = "https://api.personio.de"
# The hosts a tenant admin may point api_base_url at: Personio developer hub,
# https://developer.personio.de/v2.0/reference.
API_HOSTS = ("api.personio.de",)


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    signing.verify_token(secrets, signing.require_header(headers, "Authorization"))


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    return {"Authorization": secret, "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
    message = load_object(raw_body)
    if message.get("event_name") not in EVENTS:
        return []
    payload = obj(message, "payload", what="payload")
    person_id = text(payload, "person", "id") or text(payload, "person_id", required=True, what="payload.person.id")
    employment_id = text(payload, "id") or text(payload, "employment", "id")
    return [Lookup(tenant=tenant, source=NAME, resource="person", resource_id=person_id or "", hint="exited",
                   occurred_at=utc(dig(message, "occurred_at"), what="occurred_at"),
                   extra=(("employment_id", employment_id),) if employment_id else ())]


def auth_headers(api_key: str) -> dict[str, str]:
    """HTTP Basic with "<client_id>:<client_secret>", used only to obtain an access token."""
    return {"Authorization": "Basic " + base64.b64encode(api_key.encode()).decode()}


def fetch(lookup: Lookup, api: VendorApi) -> list[HubEvent]:
    token = text(api.post("/v2/auth/token", data={"grant_type": "client_credentials"}), "access_token")
    if not token:
        raise PermanentError("personio answered the token request without an access token")
    bearer = {"Authorization": f"Bearer {token}"}
    employments = dig(api.get(f"/v2/persons/{lookup.resource_id}/employments", headers=bearer), "_data")
    wanted = lookup.get("employment_id")
    candidates = [e for e in (employments if isinstance(employments, list) else []) if isinstance(e, dict)
                  and (wanted is None or text(e, "id") == wanted)]
    ended = [(e, text(e, "termination", "termination_date") or text(e, "termination", "last_working_date"))
             for e in candidates]
    ended = [(e, day) for e, day in ended if day]
    if not ended:
        return []  # no termination on record (withdrawn, or not yet visible)
    employment, day = max(ended, key=lambda pair: utc(pair[1], what="termination_date"))
    person = api.get(f"/v2/persons/{lookup.resource_id}", headers=bearer) or {}
    ref = PersonRef(source=NAME, vendor_person_id=lookup.resource_id,
                    family_name=text(person, "last_name"), given_name=text(person, "first_name"),
                    name=preferred_name(text(person, "last_name"), text(person, "preferred_name")),
                    email=text(person, "email"))
    return [ExitEvent(tenant=lookup.tenant, person=ref, delivery_id=lookup.delivery_id,
                      application_id=text(employment, "id") or "", occurred_at=utc(day, what="termination_date"),
                      reason=text(employment, "termination", "type"))]
