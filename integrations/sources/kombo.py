"""Kombo (unified ATS and HRIS API) webhooks -> hub events, completed from the Kombo API.

Vendor docs: Kombo "Webhooks", https://docs.kombo.dev/webhooks ; "data-changed" webhook,
  https://docs.kombo.dev/api-reference/data-changed ; "Get applications"
  https://docs.kombo.dev/ats/v1/get-applications and "Get employees"
  https://docs.kombo.dev/hris/v1/get-employees (fields as in kombohq/python-sdk
  src/kombo/models/getatsapplicationspositiveresponse.py and gethrisemployeespositiveresponse.py).
  - Event used: `data-changed` naming the models `ats_applications` and `hris_employees`.
Auth: X-Kombo-Signature = base64url (no '=' padding, no prefix) of HMAC-SHA256 over the raw body,
  keyed with the account's Kombo webhook secret; no timestamp is signed, so there is no replay
  window. API calls (fetch): `Authorization: Bearer <API key>` and `X-Integration-Id`.
Quirks:
  - data-changed is THIN: it names changed models, never records or times. Each relevant model
    becomes a Lookup (resource = Kombo's model name, resource_id = the integration id) and fetch
    reads the records changed in the last LOOKBACK with `updated_after`, following `data.next`
    with the same filters (as the SDK pages). Overlapping windows are harmless: the hub dedupes
    on the business fact. A Lookup processed more than LOOKBACK after delivery misses changes.
  - A rejection is `outcome == "DECLINED"` (Kombo folds "rejected" and "candidate declined"
    together, so by_candidate stays False), keyed to `rejected_at`, or to `changed_at` where the
    ATS gives no rejection time (a later edit of such an application can then repeat it).
  - An exit is an employee with `termination_date` (past or scheduled), keyed to that date.
    Kombo has no termination reason. The personal email is preferred (work mail ends).
  - Outcome filtering is done here, not with the `outcomes` query filter: a filter the
    integration does not support would otherwise return nothing.
  - The body's `id` is the delivery id; the docs do not say whether retries keep it.
  - US-hosted accounts use https://api.us.kombo.dev/v1 (tenant override of API_BASE_URL).
Names: the ATS candidate's `last_name` -> family_name, `first_name` -> given_name (Kombo ATS
  candidate model, docs.kombo.dev); employees through integrations/unified.py (last_name,
  first_name, display_full_name as the shown name).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.errors import PayloadError
from chalicelib.domain.events import ExitEvent, HubEvent, Lookup, Notice, PersonRef, RejectionEvent, utc
from chalicelib.domain.ports import VendorApi
from integrations import signing, unified
from integrations.payload import load_object, obj, text

NAME = "kombo"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "type")
EVENTS = ("data-changed",)
SIGNING = "X-Kombo-Signature: base64url (unpadded) HMAC-SHA256 of the raw body; no timestamp"
API_BASE_URL = "https://api.kombo.dev/v1"
# The hosts a tenant admin may point api_base_url at: Kombo docs, https://docs.kombo.dev (EU default; US-hosted
# accounts).
API_HOSTS = ("api.kombo.dev", "api.us.kombo.dev")
LOOKBACK = timedelta(hours=24)
PAGE_SIZE = 250   # Kombo's maximum
MAX_PAGES = 200   # a bound on one Lookup's work, not an expected size
_MODELS = {"ats_applications": "rejected", "hris_employees": "exited"}


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    signature = signing.require_header(headers, "X-Kombo-Signature")
    signing.verify_hmac(secrets, raw_body, [signature], algorithm="sha256", encoding="base64url")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    signature = signing.hmac_signature(secret, raw_body, encoding="base64url").rstrip("=")  # documented: no padding
    return {"X-Kombo-Signature": signature,
            "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
    message = load_object(raw_body)
    if message.get("type") not in EVENTS:
        return []
    data = obj(message, "data", what="data")
    integration_id = text(data, "integration_id", required=True, what="data.integration_id")
    changed = data.get("changed_models")
    if not isinstance(changed, list):
        raise PayloadError("data.changed_models is missing or not a list")
    names = [text(model, "name") if isinstance(model, dict) else None for model in changed]
    delivery_id = text(message, "id")
    return [Lookup(tenant=tenant, source=NAME, resource=name, resource_id=integration_id,
                   delivery_id=delivery_id, hint=_MODELS[name])
            for name in _MODELS if name in names]


def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def fetch(lookup: Lookup, api: VendorApi, *, now: datetime | None = None) -> Sequence[HubEvent]:
    """Read the records of the named model changed in the last LOOKBACK; rejections and exits."""
    reader: dict[str, tuple[str, Callable[[str, Mapping[str, Any]], HubEvent | None]]] = {
        "ats_applications": ("ats/applications", _rejection),
        "hris_employees": ("hris/employees", _exit),
    }
    if lookup.resource not in reader:
        return []
    path, translate = reader[lookup.resource]
    since = (now or datetime.now(UTC)) - LOOKBACK  # a query window, never an event time
    params: dict[str, Any] = {"updated_after": since.strftime("%Y-%m-%dT%H:%M:%S.") + f"{since.microsecond // 1000:03d}Z",
                              "page_size": PAGE_SIZE}
    headers = {"X-Integration-Id": lookup.resource_id}
    events: list[HubEvent] = []
    for _ in range(MAX_PAGES):
        answer = api.get(path, params=params, headers=headers)
        if answer is None:
            return events  # the integration is gone
        page = obj(answer, "data", what="kombo answer data")
        results = page.get("results")
        if not isinstance(results, list):
            raise PayloadError("kombo answered a page without results")
        for record in results:
            if isinstance(record, dict):
                event = translate(lookup.tenant, record)
                if event is not None:
                    events.append(event)
        cursor = text(page, "next")
        if not cursor:
            break
        params = {**params, "cursor": cursor}
    return events


# -- mapping ------------------------------------------------------------------------------------

def _rejection(tenant: str, application: Mapping[str, Any]) -> RejectionEvent | None:
    if application.get("outcome") != "DECLINED" or application.get("remote_deleted_at"):
        return None
    candidate = application.get("candidate") if isinstance(application.get("candidate"), dict) else {}
    when = text(application, "rejected_at") or text(application, "changed_at")
    return RejectionEvent(
        tenant=tenant,
        person=PersonRef(
            source=NAME,
            vendor_person_id=text(candidate, "id") or text(application, "candidate_id", required=True,
                                                              what="application.candidate_id"),
            family_name=text(candidate, "last_name"), given_name=text(candidate, "first_name"),
            email=text(candidate, "email_addresses", 0, "email_address"),
            phone=text(candidate, "phone_numbers", 0, "phone_number"),
        ),
        occurred_at=utc(when, what="application.rejected_at"),
        application_id=text(application, "id", required=True, what="application.id"),
        job_id=text(application, "job_id") or text(application, "job", "id"),
        job_title=text(application, "job", "name"),
        stage=text(application, "current_stage", "name"),
        reason=text(application, "rejection_reason_name"),
    )


def _exit(tenant: str, employee: Mapping[str, Any]) -> ExitEvent | None:
    return unified.employee_exit(NAME, tenant, employee, job_title=True)
