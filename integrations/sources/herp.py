"""HERP Hire (ATS, Japan) candidacies that ended without a hire -> hub rejection events, by polling.

Vendor docs: "HERP Hire API ドキュメント (1.5.0)", https://public-api.herp.cloud/hire/public/doc
  (help: https://help.herp.cloud/ja/articles/HERP-Hire-API-86ba917e). HERP sends no webhooks.
  - GET /v1/candidacies (応募の一覧を取得): page-number paging (`page`, 100 rows a page, `limit`
    ignored), answer {"candidacies": [...], "hasNextPage": bool}; `sort=appliedAt|stepUpdatedAt`,
    `direction=asc|desc`. A candidacy carries status (active | hired | terminated),
    terminationReason (選考終了理由) and terminatedAt (選考終了日時).
  - Rate limit: 100 requests a minute per tenant; every answer carries `x-remaining-request` (残り回数)
    and `x-reset-at` (ISO time the count resets); 429 once exceeded.
Auth: "Authorization: Bearer <API key>" (keys issued by a HERP admin; paid plans only).
Quirks:
  - No filter selects candidacies by termination time, and terminating a candidacy does not move
    stepUpdatedAt (seen in recorded answers), so each pass walks every terminated candidacy
    (`status=terminated`, oldest application first so new applications append at the end) and keeps
    those whose terminatedAt falls in the pass's window. Rows are checked client-side too, in case
    the status filter (listed in the docs as read by a third-party client; not verified here) is ignored.
  - A pass's window is [previous pass start - OVERLAP, this pass start]. terminatedAt is typed by a
    person and may be back-dated, and page-number paging can skip a row when the list changes mid
    pass: the overlap lets later passes catch both. Rows seen again are deduped by the hub on the
    business fact (occurred_at = terminatedAt, never the poll time). A new pass starts at most every
    MIN_PASS_INTERVAL. First run: terminations of the last FIRST_RUN_LOOKBACK (older history comes
    through the relationship import).
  - terminationReason values seen in recorded answers: rejected (不採用), notEligible (対象外) and
    refusedByCandidate (辞退 -> by_candidate=True). The full list is not published; any other
    reason of a terminated candidacy is a rejection by the company, labelled with the raw value.
  - The list names no candidate apart from the candidacy: the candidacy id is both the person id
    and the application id. requisitionId is the job id; the job title needs another call, not made.
  - Cursor: JSON {"v": 1, "since", "started", "page"} during a pass, {"v": 1, "last"} between
    passes; an unreadable cursor restarts as a first run.
  - The budget is shared with the tenant's other HERP integrations: a page stops the run (wait_s)
    once x-remaining-request drops to RESERVE.
Names: a candidacy has one `name` (recorded answers: "name" only, no parts and no reading), kept
  as written; the hub does not guess which word is the family name.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.errors import PayloadError, PermanentError, RetryableError
from chalicelib.domain.events import PersonRef, RejectionEvent, utc
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.ports import PollPage
from integrations import http
from integrations.http import VendorApi
from integrations.payload import pass_start, read_cursor, text, write_cursor

NAME = "herp"
EVENTS = ("rejected", "notEligible", "refusedByCandidate")  # terminationReason values seen
SIGNING = "polled: Authorization: Bearer <HERP API key>"
API_BASE_URL = "https://public-api.herp.cloud/hire"
# The hosts a tenant admin may point api_base_url at: HERP Hire API ドキュメント, https://public-
# api.herp.cloud/hire/public/doc.
API_HOSTS = ("public-api.herp.cloud",)
PATH = "/v1/candidacies"
LIST_PARAMS = {"status": "terminated", "sort": "appliedAt", "direction": "asc"}

FIRST_RUN_LOOKBACK = timedelta(days=90)
OVERLAP = timedelta(days=14)
MIN_PASS_INTERVAL = timedelta(hours=1)
RESERVE = 10              # requests of the 100 a minute left to the tenant's other HERP clients
DEFAULT_WAIT_S = 60.0     # the limit window is one minute
RATE_LIMIT = http.RateLimit("x-remaining-request", "x-reset-at", reserve=RESERVE, default_wait_s=DEFAULT_WAIT_S)
_BY_CANDIDATE = "refusedByCandidate"


def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def poll(api: VendorApi, cursor: str | None, *, tenant: str, now: datetime) -> PollPage:
    now = _aware(now)
    state = _read_cursor(cursor)
    if "page" not in state:
        since = pass_start(state.get("last"), now, every=MIN_PASS_INTERVAL, overlap=OVERLAP, first_lookback=FIRST_RUN_LOOKBACK)
        if since is None:
            return PollPage(events=[], cursor=cursor, more=False)  # the last pass is recent enough
        state = {"since": since, "started": now, "page": 1}

    data = _get_page(api, state["page"], now)
    rows = data.get("candidacies")
    if not isinstance(rows, list):
        raise PayloadError("herp answered a candidacies page without a candidacies list")
    events = [event for row in rows
              if (event := _event(row, tenant, since=state["since"], until=state["started"])) is not None]
    has_next = data.get("hasNextPage")
    more = has_next if isinstance(has_next, bool) else bool(rows)  # old clients loop until a page is empty
    next_cursor = write_cursor({**state, "page": state["page"] + 1} if more else {"last": state["started"]})
    return PollPage(events=events, cursor=next_cursor, more=more, wait_s=RATE_LIMIT.pause_s(api, now))


def _get_page(api: VendorApi, page: int, now: datetime) -> JsonObject:
    try:
        data = api.get(PATH, params={**LIST_PARAMS, "page": page})
    except RetryableError as error:
        if error.retry_after_s is None and RATE_LIMIT.remaining(api) == 0:
            # over the limit: HERP announces the reset time in x-reset-at rather than Retry-After
            raise RetryableError(error.message, retry_after_s=RATE_LIMIT.reset_in_s(api, now)) from None
        raise
    if data is None:
        raise PermanentError("herp answered 404 for the candidacies list: check the API base URL")
    if not isinstance(data, dict):
        raise PayloadError("herp answered a candidacies page that is not a JSON object")
    return data


def _event(row: Any, tenant: str, *, since: datetime, until: datetime) -> RejectionEvent | None:
    """The rejection a terminated candidacy stands for, when it ended inside the window."""
    if not isinstance(row, dict):
        raise PayloadError("a candidacy is not a JSON object")
    if row.get("status") != "terminated":
        return None
    terminated_at = text(row, "terminatedAt", what="candidacy.terminatedAt")
    if terminated_at is None:
        return None
    occurred_at = utc(terminated_at, what="candidacy.terminatedAt")
    if not since <= occurred_at <= until:
        return None
    candidacy_id = text(row, "id", required=True, what="candidacy.id")
    reason = text(row, "terminationReason", what="candidacy.terminationReason")
    tags = row.get("tags")
    return RejectionEvent(
        tenant=tenant,
        person=PersonRef(source=NAME, vendor_person_id=candidacy_id, name=text(row, "name", what="candidacy.name"),
                         email=text(row, "email", what="candidacy.email"),
                         phone=text(row, "telephoneNumber", what="candidacy.telephoneNumber")),
        occurred_at=occurred_at,
        application_id=candidacy_id,
        job_id=text(row, "requisitionId", what="candidacy.requisitionId"),
        stage=text(row, "step", what="candidacy.step"),
        reason=reason,
        tags=tuple(t for t in tags if isinstance(t, str) and t.strip()) if isinstance(tags, list) else (),
        by_candidate=reason == _BY_CANDIDATE,
    )


def _read_cursor(cursor: str | None) -> JsonObject:
    """The cursor's state with times as datetimes; {} (a first run) when absent or unreadable."""
    return read_cursor(cursor, _cursor_state)


def _cursor_state(data: JsonObject) -> JsonObject:
    if "page" in data:
        page = data["page"]
        if not isinstance(page, int) or isinstance(page, bool) or page < 1:
            return {}
        return {"since": utc(data["since"]), "started": utc(data["started"]), "page": page}
    return {"last": utc(data["last"])}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
