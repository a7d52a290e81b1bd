"""A made-up vendor ("acme_ats") with thin webhooks and a polled API, played by a real local HTTP
server in tests. It exercises the hub's enrichment and polling machinery independently of any
real vendor's quirks.

Vendor docs: none (a test vendor).
Auth: X-Acme-Signature: hex HMAC-SHA256 of the raw body; API: Bearer key.
Quirks: webhooks name an application id only; the API tells its state.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from chalicelib.domain.events import HubEvent, Lookup, PersonRef, RejectionEvent, utc
from chalicelib.domain.ports import PollPage
from integrations import signing
from integrations.payload import load_object, text

NAME = "acme_ats"
EVENT_FIELD = ("body", "event")
SIGNATURE_COVERS_BODY = True
EVENTS = ("application.archived",)
SIGNING = "X-Acme-Signature: hex HMAC-SHA256 of the raw body"
API_BASE_URL = "http://127.0.0.1:9/unused"
API_HOSTS = ("api.acme-ats.example", "*.acme-ats.example")  # made up: a tenant may point api_base_url here


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    signing.verify_hmac(secrets, raw_body, [signing.require_header(headers, "X-Acme-Signature")])


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    return {"X-Acme-Signature": signing.hmac_signature(secret, raw_body), "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> list:
    data = load_object(raw_body)
    if data.get("event") not in EVENTS:
        return []
    return [Lookup(tenant=tenant, source=NAME, resource="application", hint="rejected",
                   resource_id=text(data, "application_id", required=True), delivery_id=text(data, "id"))]


def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def _event(tenant: str, application: dict) -> HubEvent:
    return RejectionEvent(tenant=tenant, application_id=text(application, "id", required=True),
                          occurred_at=utc(application.get("archived_at")), reason=text(application, "reason"),
                          person=PersonRef(source=NAME, vendor_person_id=text(application, "candidate_id", required=True),
                                           name=text(application, "name"), email=text(application, "email")))


def fetch(lookup: Lookup, api) -> list[HubEvent]:
    application = api.get(f"/applications/{lookup.resource_id}")
    if not application or application.get("status") != "rejected":
        return []
    return [_event(lookup.tenant, application)]


def poll(api, cursor: str | None, *, tenant: str, now: datetime) -> PollPage:
    page = api.get("/changes", params={"after": cursor or ""})
    events = [_event(tenant, a) for a in page["items"] if a.get("status") == "rejected"]
    wait = 60.0 if api.last_headers.get("X-Remaining") == "0" else None
    return PollPage(events=events, cursor=page["next"], more=bool(page["has_more"]), wait_s=wait)
