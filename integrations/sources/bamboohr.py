"""BambooHR (HR) employee webhooks -> hub exits.

Vendor docs: BambooHR "Webhooks" (https://documentation.bamboohr.com/docs/webhooks-2), "Event-based
  webhooks" (https://documentation.bamboohr.com/docs/event-based-webhooks), "Field-based webhooks"
  (https://documentation.bamboohr.com/docs/field-based-webhooks), "Get Employee"
  (https://documentation.bamboohr.com/reference/get-employee).
Auth: X-BambooHR-Signature = hex HMAC-SHA256, keyed with the webhook's privateKey, of the raw body
  followed directly (no separator) by the X-BambooHR-Timestamp header value; the timestamp must be
  within 5 minutes of now. The official sentence with the formula was not retrieved: the reading
  is the one Nango's docs and the Fusebit, Botpress and Prismatic connectors agree on. The timestamp
  format is undocumented (ISO 8601 and epoch seconds both seen), so the raw header string is signed
  and either form is accepted for the window; sign() sends epoch seconds.
Quirks:
  - There is no termination event. Exits arrive as `employee.updated` (event-based) or
    `employees[].action == "Updated"` (field-based) when a monitored status field changes; the
    webhook must monitor "Employment Status" / "Status". Neither payload carries the termination
    date, so parse returns a Lookup and fetch reads the employee (terminationDate,
    employmentHistoryStatus, status) with onlyCurrent=false so future-dated terminations show.
  - A changedFields list that names no status or termination field (e.g. ["firstName"]) parses to
    nothing; a missing or empty list is looked up.
  - No delivery id is sent; retries (5, third-party account: immediate, 5m, 10m, 20m, 40m) are
    deduped by the hub on the body hash and the business fact.
  - The API lives under the tenant's company domain
    (https://api.bamboohr.com/api/gateway.php/<companyDomain>/v1), which the payload does not carry:
    each tenant must set api_base_url; fetch refuses the unfilled default.
  - Dates the employee has not got come back as "0000-00-00".
  - The termination reason sits in the employmentStatus table, not read here (reason=None).
Names: `lastName` -> family_name, `firstName` -> given_name (BambooHR field list, "Get Employee"
  fields firstName, lastName, preferredName). A `preferredName` (the name the employee goes by)
  replaces the given name in the shown `name` (family name kept); the legal parts stay as they are.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from chalicelib.domain.errors import PayloadError, PermanentError
from chalicelib.domain.events import ExitEvent, HubEvent, Lookup, Notice, PersonRef, utc
from integrations import signing
from integrations.http import VendorApi
from integrations.payload import dig, load_object, obj, preferred_name, text

NAME = "bamboohr"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "type")
EVENTS = ("employee.updated", "employee_with_fields.updated")
SIGNING = ("X-BambooHR-Signature: hex HMAC-SHA256 of raw body + X-BambooHR-Timestamp value (no separator); "
           "timestamp within 300 s")
API_BASE_URL = "https://api.bamboohr.com/api/gateway.php/{companyDomain}/v1"
# The hosts a tenant admin may point api_base_url at: BambooHR "Getting Started With The API",
# https://documentation.bamboohr.com/docs/getting-started (the gateway
# api.bamboohr.com/api/gateway.php/<companyDomain>, and the company's own <companyDomain>.bamboohr.com).
API_HOSTS = ("api.bamboohr.com", "*.bamboohr.com")
TOLERANCE_S = 300
EMPLOYEE_FIELDS = ("firstName", "lastName", "preferredName", "homeEmail", "workEmail", "mobilePhone",
                   "status", "employmentHistoryStatus", "terminationDate")
_STATUS_FIELD = re.compile(r"status|termination", re.IGNORECASE)
_NO_DATE = "0000-00-00"


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    signature = signing.require_header(headers, "X-BambooHR-Signature")
    timestamp = signing.require_header(headers, "X-BambooHR-Timestamp")
    signing.check_fresh(signing.parse_timestamp(timestamp), tolerance_s=TOLERANCE_S)
    message = raw_body + timestamp.encode("utf-8", "surrogateescape")
    signing.verify_hmac(secrets, message, [signature], algorithm="sha256", encoding="hex")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    timestamp = str(int((now or datetime.now(UTC)).timestamp()))
    return {"X-BambooHR-Timestamp": timestamp,
            "X-BambooHR-Signature": signing.hmac_signature(secret, raw_body + timestamp.encode()),
            "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
    data = load_object(raw_body)
    if "type" in data:  # event-based envelope; field-based (global) bodies carry no type
        if data["type"] != "employee.updated":
            return []
        body = obj(data, "data", what="data")
        if not _status_changed(dig(body, "changedFields")):
            return []
        return [_lookup(tenant, text(body, "employeeId", required=True, what="data.employeeId"),
                        text(data, "timestamp"))]
    employees = dig(data, "employees")
    if not isinstance(employees, list):
        return []
    notices = []
    for index, employee in enumerate(employees):
        if not isinstance(employee, dict):
            raise PayloadError(f"employees[{index}] is not an object")
        if text(employee, "action") != "Updated" or not _status_changed(dig(employee, "changedFields")):
            continue
        notices.append(_lookup(tenant, text(employee, "id", required=True, what=f"employees[{index}].id"),
                               text(employee, "timestamp")))
    return notices


def auth_headers(api_key: str) -> dict[str, str]:
    """HTTP Basic with the API key as user name and any password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{api_key}:x".encode()).decode()}


def fetch(lookup: Lookup, api: VendorApi) -> list[HubEvent]:
    if "{" in api.base_url:
        raise PermanentError("bamboohr needs the tenant's api_base_url (…/api/gateway.php/<companyDomain>/v1)")
    employee = api.get(f"/employees/{lookup.resource_id}/",
                       params={"fields": ",".join(EMPLOYEE_FIELDS), "onlyCurrent": "false"})
    if not isinstance(employee, dict):
        return []
    terminated = (text(employee, "employmentHistoryStatus") or "").lower() == "terminated" \
        or (text(employee, "status") or "").lower() == "inactive"
    left_on = text(employee, "terminationDate")
    if not terminated or not left_on or left_on == _NO_DATE:
        return []  # a status change that is not (or no longer) a termination
    person = PersonRef(source=NAME, vendor_person_id=text(employee, "id") or lookup.resource_id,
                       family_name=text(employee, "lastName"), given_name=text(employee, "firstName"),
                       name=preferred_name(text(employee, "lastName"), text(employee, "preferredName")),
                       email=text(employee, "homeEmail") or text(employee, "workEmail"),
                       phone=text(employee, "mobilePhone"))
    return [ExitEvent(tenant=lookup.tenant, person=person, delivery_id=lookup.delivery_id,
                      occurred_at=utc(left_on, what="terminationDate"))]


def _status_changed(changed: object) -> bool:
    if not isinstance(changed, list) or not changed:
        return True  # cannot tell which fields changed: look the employee up
    return any(isinstance(name, str) and _STATUS_FIELD.search(name) for name in changed)


def _lookup(tenant: str, employee_id: str | None, timestamp: str | None) -> Lookup:
    return Lookup(tenant=tenant, source=NAME, resource="employee", resource_id=employee_id or "",
                  hint="exited", occurred_at=utc(timestamp, what="timestamp") if timestamp else None)

