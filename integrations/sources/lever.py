"""Lever (ATS) webhooks -> hub events, completed from the Lever API (thin notices).

Vendor docs: Lever Developer Documentation, "Webhooks" (request signing, event payloads, responding,
  delivery history), "Archive Reasons", "Opportunities" and "Rate Limits",
  https://hire.lever.co/developer/documentation
Auth: no signature header. The body carries `token` (48 random characters), `triggeredAt` (epoch
  milliseconds) and `signature` = lowercase hex HMAC-SHA256 of the string token + triggeredAt
  (concatenated, no separator) keyed with the webhook's signature token. Only token and triggeredAt
  are signed, not `data`. Deliveries older than 14 days or more than 5 minutes ahead are refused.
  SIGNATURE_COVERS_BODY = False: parse returns Lookups only, and the hub looks each opportunity up at
  most once per window, so one captured signature replayed for 14 days drives no flood of look-ups.
  API: HTTP Basic with the API key as user name and an empty password.
Quirks:
  - Notices name ids only (opportunityId, candidateId = the same id, deprecated; contactId), so
    every handled event becomes a Lookup that fetch() completes from the API. Because `data` is not
    signed, fetch acts only on the state the API reports, never on the notice's claims.
  - candidateArchiveChange covers archive and unarchive (`toArchived` / `fromArchived`, each
    `{archivedAt, reason}` with the archive reason's id; shape from public receiver code, the doc
    hides it). The reason's `type` (GET /archive_reasons/:id) tells "hired" from "non-hired": only
    a non-hired archive is a rejection; an unarchive of a non-hired archive is a reversal (at
    `triggeredAt`, the only time it has). An archive as hired gives nothing: candidateHired
    carries the hire. Lever has no withdrew/declined reason type, so by_candidate stays False.
  - candidateHired: the hire time is the opportunity's `archived.archivedAt` (Lever archives hires
    with a hired-type reason), else `triggeredAt`. The settings page's test request has `data: {}`
    and parses to nothing.
  - The person id is the opportunity's `contact` (Lever: "the unique identifier for a Contact or
    an individual person"); the application id is the opportunity id.
  - Delivery id: the event `id` when sent (documented, absent from the examples), else `token`.
    Lever retries five times with growing waits and keeps two weeks of deliveries for a manual
    "Rerun": hence the 14-day window (no tolerance is documented).
  - Lever may issue one signature token per webhook (per event type, when created through the
    API). A tenant's webhook secret may hold several tokens separated by spaces; any one verifies.
  - sign() cannot rewrite a body's signature, so it returns X-Hub-Replay-Signature: sha256=<hex
    HMAC-SHA256 of the raw body> (a hub convention for tests and local replay, not a Lever
    feature). It has no time window, so a captured delivery would verify forever: only LOCAL
    (the `local` stage's Lever, chosen by chalicelib/wiring.py from integrations.registry) reads
    it, and there, when present, it alone decides (same token). verify() ignores it: in every
    other stage only Lever's own body signature counts.
  - 10 requests/s per key (bursts 20); 429 when exceeded; no rate-limit headers are documented.
Names: Lever gives one `name` per opportunity (Lever API, Opportunities: "name": "Contact full
  name"), kept as written; the hub does not guess which word is the family name.
"""
from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import EventFields, HireEvent, HubEvent, Lookup, PersonRef, RejectionEvent, RejectionRevertedEvent, utc
from chalicelib.domain.jsondata import JsonObject
from integrations import signing
from integrations.http import VendorApi
from integrations.payload import dig, load_object, obj, text

NAME = "lever"
# Lever signs token + triggeredAt only, not `data`: parse returns Lookups only
SIGNATURE_COVERS_BODY = False
EVENT_FIELD = ("body", "event")
EVENTS = ("candidateArchiveChange", "candidateHired")
SIGNING = ("body fields: signature = hex HMAC-SHA256 of token + triggeredAt (ms) keyed with the webhook's "
           "signature token; window 14 days back, 5 minutes ahead")
API_BASE_URL = "https://api.lever.co/v1"
# The hosts a tenant admin may point api_base_url at: Lever developer documentation,
# https://hire.lever.co/developer/documentation (production and the sandbox environment).
API_HOSTS = ("api.lever.co", "api.sandbox.lever.co")
REPLAY_HEADER = "X-Hub-Replay-Signature"
MAX_AGE_S = 14 * 24 * 3600    # Lever's retries and manual reruns (delivery history: two weeks)
FUTURE_SKEW_S = 300           # clock skew between Lever and us
_HIRED, _NOT_HIRED = "hired", "non-hired"


# -- signatures -------------------------------------------------------------------------------

def _keys(secrets: Sequence[str]) -> list[str]:
    """The signature tokens: each stored secret may list several (one per Lever webhook)."""
    return [token for secret in secrets if isinstance(secret, str) for token in secret.split()]


def _triggered_text(value: object) -> str:
    """triggeredAt as JavaScript's `token + triggeredAt` spells it: the integer's decimal digits."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SignatureError("triggeredAt is not an integer")
    digits = str(value).strip()
    if not digits.isascii() or not digits.isdigit():
        raise SignatureError("triggeredAt is not an integer")
    return digits


def body_signature(token: str, triggered_at: int | str, secret: str) -> str:
    """The `signature` body field Lever computes for token and triggeredAt."""
    return signing.hmac_signature(secret, (token + _triggered_text(triggered_at)).encode())


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    """Lever's scheme, and nothing else: the replay header is not read (see LOCAL)."""
    keys = _keys(secrets)
    try:
        body = load_object(raw_body)
    except PayloadError:
        raise SignatureError("the body is not a JSON object, so it carries no signature") from None
    token, signature = body.get("token"), body.get("signature")
    if not isinstance(token, str) or not token or not isinstance(signature, str) or not signature:
        raise SignatureError("the body has no token and signature")
    triggered = _triggered_text(body.get("triggeredAt"))
    moment = signing.parse_timestamp(triggered, unit="ms")
    signing.check_fresh(moment, tolerance_s=MAX_AGE_S)
    if moment > datetime.now(UTC):
        signing.check_fresh(moment, tolerance_s=FUTURE_SKEW_S)
    try:
        message = (token + triggered).encode("utf-8")
    except UnicodeEncodeError:
        raise SignatureError("the token is not text") from None
    signing.verify_hmac(keys, message, [signature])


def verify_replay(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    """The local stage's verify: the hub's replay header when present (whole body, no time
    window), else Lever's scheme."""
    replay = headers.get(REPLAY_HEADER.lower())
    if replay is None:
        verify(headers, raw_body, secrets)
        return
    scheme, _, digest = replay.strip().partition("=")
    if scheme.lower() != "sha256":
        raise SignatureError(f"the {REPLAY_HEADER} header is not 'sha256=<digest>'")
    signing.verify_hmac(_keys(secrets), raw_body, [digest])


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    """Headers for replaying raw_body locally: Lever's own signature sits in the body, which sign
    cannot change, so this signs the whole body in X-Hub-Replay-Signature, which only LOCAL
    verifies (see Quirks)."""
    keys = _keys([secret]) or [secret]
    return {REPLAY_HEADER: "sha256=" + signing.hmac_signature(keys[0], raw_body),
            "Content-Type": "application/json", "User-Agent": "Lever-Webhooks"}


# -- notices ----------------------------------------------------------------------------------

def _ms(value: object, what: str) -> datetime:
    """A Lever timestamp (epoch milliseconds) as UTC."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PayloadError(f"{what} is not a timestamp")
    try:
        seconds = value / 1000
    except OverflowError:
        raise PayloadError(f"{what} is out of range") from None
    return utc(seconds, what=what)


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[HubEvent | Lookup]:
    body = load_object(raw_body)
    event = body.get("event")
    if event not in EVENTS:
        return []
    data = obj(body, "data", what="data")
    if event == "candidateHired" and not data:
        return []  # the settings page's test request
    triggered = _ms(body.get("triggeredAt"), "triggeredAt")
    opportunity = text(data, "opportunityId") or text(data, "candidateId", required=True, what="data.opportunityId")
    notice = partial(Lookup, tenant=tenant, source=NAME, resource="opportunity", resource_id=opportunity,
                     delivery_id=text(body, "id") or text(body, "token"))
    if event == "candidateHired":
        return [notice(hint=HireEvent.KIND, occurred_at=triggered)]
    to_archived, from_archived = data.get("toArchived"), data.get("fromArchived")
    if isinstance(to_archived, dict):
        at = to_archived.get("archivedAt")
        return [notice(hint=RejectionEvent.KIND,
                       occurred_at=_ms(at, "data.toArchived.archivedAt") if at is not None else triggered,
                       extra=_reason_extra(to_archived, "data.toArchived.reason"))]
    if to_archived is None and isinstance(from_archived, dict):
        return [notice(hint=RejectionRevertedEvent.KIND, occurred_at=triggered,
                       extra=_reason_extra(from_archived, "data.fromArchived.reason"))]
    raise PayloadError("data.toArchived and data.fromArchived do not describe an archive change")


def _reason_extra(archived: Mapping[str, Any], what: str) -> tuple[tuple[str, str], ...]:
    reason = text(archived, "reason", what=what)
    return (("archive_reason", reason),) if reason else ()


# -- completing notices from the API ----------------------------------------------------------

def auth_headers(api_key: str) -> dict[str, str]:
    """Basic auth: the API key as user name, an empty password (`curl -u API_KEY:`)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()}


def _path(*parts: str) -> str:
    # ids come from an unsigned part of the notice: never let one reshape the path
    return "/" + "/".join(quote(part, safe="") for part in parts)


def fetch(lookup: Lookup, api: VendorApi) -> list[HubEvent]:
    """The notice's events as the API tells them: [] when the opportunity is gone or moved on."""
    answer = api.get(_path("opportunities", lookup.resource_id), params={"expand": ["applications", "stage"]})
    if answer is None:
        return []
    opportunity = obj(answer, "data", what="opportunity")
    archived = _archived(opportunity)
    if lookup.hint == RejectionRevertedEvent.KIND:
        if archived is not None or _reason_type(api, lookup.get("archive_reason")) != _NOT_HIRED:
            return []  # archived again since, or the undone archive was not a rejection
        if lookup.occurred_at is None:
            raise PayloadError("the unarchive notice has no time")
        return [RejectionRevertedEvent(**_common(api, lookup, opportunity), occurred_at=lookup.occurred_at)]
    if archived is None:
        return []  # unarchived since the notice
    reason_id, archived_at = archived
    reason = _reason(api, reason_id)
    kind = text(reason, "type") if reason else None
    when = archived_at or lookup.occurred_at
    if when is None:
        raise PayloadError("the opportunity has no archive time")
    if lookup.hint == HireEvent.KIND and kind == _HIRED:
        return [HireEvent(**_common(api, lookup, opportunity), occurred_at=when)]
    if lookup.hint == RejectionEvent.KIND and kind == _NOT_HIRED:
        return [RejectionEvent(**_common(api, lookup, opportunity), occurred_at=when, reason=text(reason, "text"))]
    return []


def _archived(opportunity: Mapping[str, Any]) -> tuple[str | None, datetime | None] | None:
    """(reason id, archive time) when archived, else None. `archived` is the current field; the
    flat archivedAt/archiveReason pair is the older one still shown in Lever's examples."""
    archived = opportunity.get("archived")
    if isinstance(archived, dict) and (archived.get("reason") or archived.get("archivedAt") is not None):
        at = archived.get("archivedAt")
        return text(archived, "reason", what="archived.reason"), _ms(at, "archived.archivedAt") if at is not None else None
    if opportunity.get("archiveReason") or opportunity.get("archivedAt") is not None:
        at = opportunity.get("archivedAt")
        return text(opportunity, "archiveReason", what="archiveReason"), _ms(at, "archivedAt") if at is not None else None
    return None


def _reason(api: VendorApi, reason_id: str | None) -> JsonObject | None:
    if not reason_id:
        return None
    answer = api.get(_path("archive_reasons", reason_id))
    return obj(answer, "data", what="archive reason") if answer is not None else None


def _reason_type(api: VendorApi, reason_id: str | None) -> str | None:
    reason = _reason(api, reason_id)
    return text(reason, "type") if reason else None


def _common(api: VendorApi, lookup: Lookup, opportunity: Mapping[str, Any]) -> EventFields:
    posting = _id_of(dig(opportunity, "applications", 0, "posting"))
    stage = dig(opportunity, "stage")
    return EventFields(
        tenant=lookup.tenant,
        delivery_id=lookup.delivery_id,
        application_id=text(opportunity, "id", required=True, what="opportunity.id"),
        person=PersonRef(source=NAME,
                         vendor_person_id=text(opportunity, "contact", required=True, what="opportunity.contact"),
                         name=text(opportunity, "name"),
                         email=text(opportunity, "emails", 0),
                         phone=text(opportunity, "phones", 0, "value")),
        job_id=posting,
        job_title=_posting_title(api, posting),
        stage=text(stage, "text") if isinstance(stage, dict) else None,
    )


def _id_of(value: object) -> str | None:
    """An id that may come expanded into its object."""
    if isinstance(value, dict):
        return text(value, "id")
    return value.strip() or None if isinstance(value, str) else None


def _posting_title(api: VendorApi, posting: str | None) -> str | None:
    if not posting:
        return None
    answer = api.get(_path("postings", posting))
    return text(answer, "data", "text") if answer is not None else None


# -- the local stage ----------------------------------------------------------------------------

class _LocalStage:
    """Lever as the `local` stage receives it: the module, but verify also takes the replay header.
    integrations/registry.py lists it in LOCAL_SOURCES; chalicelib/wiring.py picks that map only
    when the stage is `local`. (A module never reads the environment: the permission is the choice
    of this object.)"""

    NAME = NAME
    EVENTS = EVENTS
    EVENT_FIELD = EVENT_FIELD
    SIGNATURE_COVERS_BODY = SIGNATURE_COVERS_BODY
    SIGNING = SIGNING + "; the local stage also takes X-Hub-Replay-Signature (whole body, for replays)"
    verify = staticmethod(verify_replay)
    parse = staticmethod(parse)
    sign = staticmethod(sign)


LOCAL = _LocalStage()
