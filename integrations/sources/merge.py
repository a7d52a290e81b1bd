"""Merge (unified ATS and HRIS API) webhooks -> hub events.

Vendor docs: Merge "Webhooks" (Security section), https://docs.merge.dev/basics/webhooks/merge-webhooks ;
  help center "Merge webhook signatures", https://help.merge.dev/articles/5614281-merge-webhook-signatures ;
  common models: ATS Application https://docs.merge.dev/ats/applications/ , HRIS Employee
  https://docs.merge.dev/hris/employees/ (fields as in merge-api/merge-python-client
  src/merge/resources/ats/types/application.py and hris/types/employee.py).
  - Events used: `Application.changed` (rejected_at / reject_reason set -> rejection) and
    `Employee.changed` (termination_date set -> exit).
Auth: X-Merge-Webhook-Signature = base64url(HMAC-SHA256(raw body)), keyed with the organization's
  webhook signature key; no timestamp is signed, so there is no replay window. API calls (fetch):
  `Authorization: Bearer <API key>` plus `X-Account-Token: <linked account token>`.
Quirks:
  - The body is the full common model under `data` (`hook.event` names it), but relations are ids
    unless expanded: when `data.candidate` is only an id the delivery becomes a Lookup and fetch
    reads the application again with `expand=candidate,job,current_stage,reject_reason` (and
    /ats/v1/candidates/{id} if the candidate still comes back as an id).
  - Stage and reject reason names exist only in expanded objects; an unexpanded id is not a name,
    so the stage/reason stay None rather than carry a UUID.
  - Merge sends no event id ("hook.id" is the webhook config): delivery_id is None and the hub
    dedupes on the body hash and the business fact. Retry schedules in Merge's texts conflict
    (2 retries vs 5 over ~1 hour); either way a retry resends the same body.
  - The docs use `<Model>.changed` event names (as `LinkedAccount.synced` in their example); the
    merge-unified-skills repo writes `application.updated`. Only the documented form is matched.
  - Merge has no "withdrawn by candidate" flag on an application: by_candidate is always False.
  - An employee with a termination_date (past or scheduled) is an exit keyed to that date, even
    while employment_status is still ACTIVE; the personal email is preferred (work mail ends).
  - One API key and one linked account per tenant connection: `api_key` is the API key and
    `account_token` the linked account's token, each a credential field of its own (the older
    "<API key> <account token>" in api_key alone still works). ACCOUNT_TOKEN declares it.
Names: `last_name` -> family_name, `first_name` -> given_name (ATS Candidate, HRIS Employee);
  an employee's `display_full_name` is the shown name when given (integrations/unified.py).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from chalicelib.domain.errors import PayloadError
from chalicelib.domain.events import ExitEvent, HubEvent, Lookup, Notice, PersonRef, RejectionEvent, utc
from chalicelib.domain.ports import VendorApi
from integrations import signing, unified
from integrations.payload import dig, load_object, obj, text

NAME = "merge"
SIGNATURE_COVERS_BODY = True
EVENT_FIELD = ("body", "hook", "event")
EVENTS = ("Application.changed", "Employee.changed")
SIGNING = "X-Merge-Webhook-Signature: base64url HMAC-SHA256 of the raw body (padding optional); no timestamp"
API_BASE_URL = "https://api.merge.dev/api"  # EU: https://api-eu.merge.dev/api (tenant override)
# The hosts a tenant admin may point api_base_url at: Merge docs, https://docs.merge.dev/basics/regions/ (US, EU and
# APAC regions).
API_HOSTS = ("api.merge.dev", "api-eu.merge.dev", "api-ap.merge.dev")
ACCOUNT_TOKEN = True  # the connection takes an account_token (X-Account-Token) beside the api_key
_EXPAND = "candidate,job,current_stage,reject_reason"


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    signature = signing.require_header(headers, "X-Merge-Webhook-Signature")
    signing.verify_hmac(secrets, raw_body, [signature], algorithm="sha256", encoding="base64url")


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    # Merge's own sample compares urlsafe_b64encode(digest) as is, i.e. with the '=' padding
    return {"X-Merge-Webhook-Signature": signing.hmac_signature(secret, raw_body, encoding="base64url"),
            "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
    message = load_object(raw_body)
    event = dig(message, "hook", "event")
    if not isinstance(event, str) or event not in EVENTS:
        return []
    data = obj(message, "data", what="data")
    if event == "Employee.changed":
        exit_event = _exit(tenant, data)
        return [exit_event] if exit_event else []
    if not _is_rejected(data):
        return []
    candidate = data.get("candidate")
    if isinstance(candidate, dict):
        return [_rejection(tenant, data, _candidate(candidate))]
    application_id = text(data, "id", required=True, what="data.id")
    text(data, "candidate", required=True, what="data.candidate")  # an id: completed by fetch
    return [Lookup(tenant=tenant, source=NAME, resource="application", resource_id=application_id,
                   hint="rejected", occurred_at=_rejected_at(data))]


def auth_headers(api_key: str) -> dict[str, str]:
    """Bearer API key, plus the linked account's token after it ("<key> <token>": the hub joins the
    stored account_token so, or an older connection stored both in api_key)."""
    key, *rest = (api_key or "").split() or [""]
    headers = {"Authorization": f"Bearer {key}"}
    if rest:
        headers["X-Account-Token"] = rest[0]
    return headers


def fetch(lookup: Lookup, api: VendorApi) -> Sequence[HubEvent]:
    """Read the application again, expanded, and return its rejection if it is still rejected."""
    if lookup.resource != "application":
        return []
    application = api.get(f"ats/v1/applications/{quote(lookup.resource_id, safe='')}", params={"expand": _EXPAND})
    if application is None:
        return []  # deleted in Merge since the notice
    if not isinstance(application, dict):
        raise PayloadError("merge answered an application that is not an object")
    if not _is_rejected(application):
        return []  # un-rejected since the notice: nothing to act on
    candidate = application.get("candidate")
    if isinstance(candidate, dict):
        person = _candidate(candidate)
    else:
        candidate_id = text(application, "candidate", required=True, what="application.candidate")
        fetched = api.get(f"ats/v1/candidates/{quote(candidate_id, safe='')}")
        person = _candidate(fetched) if isinstance(fetched, dict) else PersonRef(source=NAME, vendor_person_id=candidate_id)
    return [_rejection(lookup.tenant, application, person)]


# -- mapping ------------------------------------------------------------------------------------

def _is_rejected(application: Mapping[str, Any]) -> bool:
    return bool(text(application, "rejected_at")) or application.get("reject_reason") not in (None, "")


def _rejected_at(application: Mapping[str, Any]) -> datetime:
    # rejected_at is the vendor's time of the fact; modified_at (Merge's own) only when an
    # integration sets a reason without a time
    rejected_at = text(application, "rejected_at")
    if rejected_at:
        return utc(rejected_at, what="application.rejected_at")
    return utc(text(application, "modified_at"), what="application.rejected_at")


def _rejection(tenant: str, application: Mapping[str, Any], person: PersonRef) -> RejectionEvent:
    job = application.get("job")
    return RejectionEvent(
        tenant=tenant,
        person=person,
        occurred_at=_rejected_at(application),
        application_id=text(application, "id", required=True, what="application.id"),
        job_id=text(job, "id") if isinstance(job, dict) else text(application, "job"),
        job_title=text(job, "name") if isinstance(job, dict) else None,
        stage=_name(application, "current_stage"),
        reason=_name(application, "reject_reason"),
    )


def _name(application: Mapping[str, Any], field: str) -> str | None:
    """The name of an expanded relation; an unexpanded relation is an id, not a name."""
    value = application.get(field)
    return text(value, "name") if isinstance(value, dict) else None


def _candidate(candidate: Mapping[str, Any]) -> PersonRef:
    return unified.candidate(NAME, candidate)


def _exit(tenant: str, employee: Mapping[str, Any]) -> ExitEvent | None:
    return unified.employee_exit(NAME, tenant, employee, what="data")
