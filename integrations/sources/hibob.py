"""HiBob (Bob, HR) webhooks v2 -> hub exits.

Vendor docs: Bob "Employee terminated" webhook (https://apidocs.hibob.com/reference/post_webhook_employee-left),
  "Employee data webhooks" (https://apidocs.hibob.com/reference/employee-data-webhooks), the
  table.entry.created payload changelog
  (https://apidocs.hibob.com/changelog/employee-data-webhooks-tableentrycreated-tableentryupdated-payload),
  "List employee's lifecycle status history" (https://apidocs.hibob.com/reference/get_people-id-lifecycle)
  and "Read company employee fields by employee ID" (https://apidocs.hibob.com/reference/post_people-identifier).
Auth: Bob-Signature = standard Base64 of the HMAC-SHA512 of the raw body, keyed with the webhook
  secret; no timestamp is signed, so there is no replay window (the hub dedupes). Bob's own
  "How does Bob calculate the signature" text was not retrieved: the scheme is the one the bobhr
  gem implements (Bob::Webhooks.calculate_signature).
Quirks:
  - `employee.left` fires at midnight (site time zone) ON the effective date of the lifecycle entry
    that sets the employee terminated or on garden leave, whichever comes first. Earlier notice
    comes as `table.entry.created|updated` with data.tableId "lifecycle" and data.effectiveDate,
    which may be any lifecycle change (hire, leave...). Bob asks integrators not to rely on payload
    data, so both parse to a Lookup; fetch reads the lifecycle history and keys the exit to the
    `terminated` entry's effectiveDate (the last day employed; for a table entry, the entry with
    the notified effectiveDate, else nothing).
  - The exact `data` schema of lifecycle events was not retrieved; data.employeeId is assumed (it
    is what the table events carry).
  - On setup Bob POSTs the text "Ping test", then {"text":"Ping test"}: both parse to nothing.
  - No delivery id is sent.
  - API auth is HTTP Basic with a service user: the tenant's api_key is "<service user id>:<token>".
Names: `root.surname` -> family_name, `root.firstName` -> given_name, `root.displayName` (the name
  Bob shows, configurable) -> name when set (People API field ids root.firstName, root.surname,
  root.displayName, "Read company employee fields by employee ID").
"""
from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime

from chalicelib.domain.events import ExitEvent, HubEvent, Lookup, Notice, PersonRef, utc
from integrations import signing
from integrations.http import VendorApi
from integrations.payload import dig, load_object, obj, text

NAME = "hibob"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "type")
EVENTS = ("employee.left", "table.entry.created", "table.entry.updated")
SIGNING = "Bob-Signature: base64 HMAC-SHA512 of the raw body; no timestamp"
API_BASE_URL = "https://api.hibob.com"
# The hosts a tenant admin may point api_base_url at: Bob API reference, https://apidocs.hibob.com/reference/testing
# (Production and Sandbox servers).
API_HOSTS = ("api.hibob.com", "api.sandbox.hibob.com")
PERSON_FIELDS = ["root.id", "root.displayName", "root.firstName", "root.surname", "root.email"]
_PING = b"Ping test"


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    signature = signing.require_header(headers, "Bob-Signature")
    signing.verify_hmac(secrets, raw_body, [signature], algorithm="sha512", encoding="base64")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    return {"Bob-Signature": signing.hmac_signature(secret, raw_body, algorithm="sha512", encoding="base64"),
            "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
    if raw_body.strip() == _PING:
        return []
    message = load_object(raw_body)
    kind = message.get("type")
    if kind not in EVENTS:
        return []
    data = obj(message, "data", what="data")
    extra: tuple[tuple[str, str], ...] = ()
    if kind != "employee.left":
        if text(data, "tableId") != "lifecycle":
            return []
        extra = (("effective_date", utc(dig(data, "effectiveDate"), what="data.effectiveDate").date().isoformat()),)
    triggered = dig(message, "triggeredAt")
    return [Lookup(tenant=tenant, source=NAME, resource="employee",
                   resource_id=text(data, "employeeId", required=True, what="data.employeeId") or "",
                   hint="exited", occurred_at=utc(triggered, what="triggeredAt") if triggered else None,
                   extra=extra)]


def auth_headers(api_key: str) -> dict[str, str]:
    """HTTP Basic with "<service user id>:<token>"."""
    return {"Authorization": "Basic " + base64.b64encode(api_key.encode()).decode()}


def fetch(lookup: Lookup, api: VendorApi) -> list[HubEvent]:
    history = api.get(f"/v1/people/{lookup.resource_id}/lifecycle")
    entries = [e for e in (dig(history, "values") or []) if isinstance(e, dict)
               and (text(e, "status") or "").lower() == "terminated" and text(e, "effectiveDate")]
    notified = lookup.get("effective_date")
    if notified:
        entries = [e for e in entries if utc(dig(e, "effectiveDate"), what="effectiveDate").date().isoformat() == notified]
    if not entries:
        return []  # the lifecycle change was not a termination (or it was withdrawn)
    entry = max(entries, key=lambda e: utc(dig(e, "effectiveDate"), what="effectiveDate"))
    employee = api.post(f"/v1/people/{lookup.resource_id}", json={"fields": PERSON_FIELDS}) or {}
    person = PersonRef(source=NAME, vendor_person_id=text(employee, "id") or lookup.resource_id,
                       family_name=text(employee, "surname"), given_name=text(employee, "firstName"),
                       name=text(employee, "displayName"),  # as Bob shows the person, when set
                       email=text(employee, "email"))
    return [ExitEvent(tenant=lookup.tenant, person=person, delivery_id=lookup.delivery_id,
                      occurred_at=utc(dig(entry, "effectiveDate"), what="effectiveDate"),
                      reason=text(entry, "reasonType"))]
