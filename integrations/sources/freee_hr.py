"""freee人事労務 (freee HR, Japan) employees with a retirement date -> hub exit events, by polling.

Vendor docs: "freee人事労務 API" reference (OpenAPI v2022-02-01), https://developer.freee.co.jp/reference/hr/reference
  (overview: https://developer.freee.co.jp/docs/hr). Copied in him0/freee-mcp openapi/hr-api-schema.json.
  - GET /api/v1/users/me (ログインユーザーの取得): the companies of the token's user, each with its
    `id` (company_id, "他のAPIのパラメータとしてcompany_idが求められる場合は、このAPIで取得したcompany_idを使用します")
    and `role`.
  - GET /api/v1/companies/{company_id}/employees (全期間の従業員一覧の取得): every employee, "退職ユーザー
    も含めて" (admins only); `limit` (max 100) and `offset`; the answer is a bare JSON array of
    {id, num, display_name, entry_date, retire_date (退職日, nullable), user_id, email, ...}.
  - Limits: 10000 requests an hour, reported in X-Ratelimit-Limit / X-Ratelimit-Remaining /
    X-Ratelimit-Reset (an ISO time); 429 when exceeded; on excessive access freee answers 403 for
    about ten minutes.
Auth: "Authorization: Bearer <OAuth2 access token>" of a user who administers the company.
  OAuth (freee developers, "トークンの有効期限について", https://developer.freee.co.jp/tips/faq/token_lifetime,
  and "認可コード", https://developer.freee.co.jp/reference/認可コード): the token endpoint is
  POST https://accounts.secure.freee.co.jp/public_api/token (form: grant_type=refresh_token,
  client_id, client_secret, refresh_token); it answers {"access_token", "token_type": "bearer",
  "expires_in": 21600, "refresh_token", ...}. Access tokens live 6 hours, refresh tokens 90 days
  (since Dec 2023); "1つのリフレッシュトークンを利用して2度アクセストークンを取得することはできません":
  each refresh spends the refresh token and answers a new one, which must be stored. A spent or
  expired one answers 401 {"error": "invalid_grant"}. The refresh must happen while the previous
  access token is still valid, hence OAUTH's refresh 10 minutes before expiry.
  The connection holds `oauth` {client_id, client_secret, refresh_token} (chalicelib/services/
  connections.py refreshes and stores the rotated token before use); a bare api_key (an access
  token pasted by hand) still works until it expires.
Quirks:
  - The hub passes only an api_key, so the company is discovered: every pass starts with
    GET /api/v1/users/me and takes the user's only company, or else their only company where
    role is company_admin. A user of several companies (an accountant's login) is refused with a
    PermanentError: connect with a user of the tenant's company alone. The company_id then rides
    in the cursor for the rest of the pass.
  - Access tokens expire after 6 hours: with `oauth` stored the hub refreshes them (above); a 401
    is CredentialsRefused and the source shows as failing on its admin GET.
  - The list has no filter or sort by retirement, so each pass walks every employee (offset
    paging until a page holds fewer than `limit` rows) and emits an exit for each retire_date in
    the window [previous pass start - OVERLAP, this pass start], as dates in Japan time (UTC+9,
    no daylight saving). The overlap catches retirements entered after the fact and rows skipped
    when the list shifts mid pass; rows seen again are deduped by the hub on the business fact
    (occurred_at = retire_date, read as midnight UTC of that date by the shared `utc`).
    A retire_date still in the future is not an exit yet: a later pass emits it once the day
    has come. A new pass starts at most every MIN_PASS_INTERVAL; the first run covers retirements
    of the last FIRST_RUN_LOOKBACK (older ones come through the relationship import).
  - No exit reason and no phone number are published. The employee id is both the person id
    and the employment id. A retirement that is cancelled later is not reported (no hub concept).
  - A 403 (or 429 without Retry-After) that comes with X-Ratelimit-Remaining: 0 is the rate
    limit, raised as RetryableError until X-Ratelimit-Reset; other 403s stay PermanentError.
  - Cursor: JSON {"v": 1, "since", "started", "company_id", "offset"} during a pass (written by
    the discovery page), {"v": 1, "last"} between passes; an unreadable cursor restarts as a
    first run.
Names: the employee list gives only `display_name` (従業員名（表示名）), kept as written as `name`.
  freee builds it from 姓 and 名 joined by a space, family name first ("last_nameとfirst_nameを空白文字で
  結合した文字列がdisplay_nameとして登録されます", POST /api/v1/employees in the same reference; copied
  in him0/freee-mcp skills/freee-api-skill/references/hr-employees.md), so it is split at its first
  space into family_name / given_name. The readings (last_name_kana / first_name_kana, 姓カナ / 名カナ)
  are only in GET /api/v1/employees/{id}/profile_rule (per year and month), not read yet.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from chalicelib.domain.errors import PayloadError, PermanentError, RetryableError
from chalicelib.domain.events import ExitEvent, PersonRef, utc
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.names import split_full_name
from chalicelib.domain.oauth import OAuthClient
from chalicelib.domain.ports import PollPage
from integrations import http
from integrations.http import VendorApi
from integrations.payload import pass_start, read_cursor, text, write_cursor

NAME = "freee_hr"
EVENTS = ("retire_date",)  # the employee field whose arrival the hub turns into an exit
SIGNING = "polled: Authorization: Bearer <freee OAuth2 access token>"
API_BASE_URL = "https://api.freee.co.jp/hr"
# The hosts a tenant admin may point api_base_url at: freee人事労務 API reference,
# https://developer.freee.co.jp/reference/hr/reference.
API_HOSTS = ("api.freee.co.jp",)
# The token endpoint and its host: freee API reference, https://developer.freee.co.jp/reference/ (認証)
OAUTH = OAuthClient(grant="refresh_token", token_url="https://accounts.secure.freee.co.jp/public_api/token",
                    token_hosts=("accounts.secure.freee.co.jp",))
ME_PATH = "/api/v1/users/me"
EMPLOYEES_PATH = "/api/v1/companies/{company_id}/employees"
LIMIT = 100  # the documented maximum

JST = timezone(timedelta(hours=9), "JST")
FIRST_RUN_LOOKBACK = timedelta(days=90)
OVERLAP = timedelta(days=62)        # about two payroll months of late entries
MIN_PASS_INTERVAL = timedelta(hours=1)
RESERVE = 100                       # requests of the 10000 an hour left to the tenant's other freee apps
DEFAULT_WAIT_S = 600.0              # freee's access control lifts after about ten minutes
RATE_LIMIT = http.RateLimit("x-ratelimit-remaining", "x-ratelimit-reset", reserve=RESERVE, default_wait_s=DEFAULT_WAIT_S)
_ADMIN = "company_admin"


def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def poll(api: VendorApi, cursor: str | None, *, tenant: str, now: datetime) -> PollPage:
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    state = _read_cursor(cursor)
    if "offset" not in state:
        since = pass_start(state.get("last"), now, every=MIN_PASS_INTERVAL, overlap=OVERLAP, first_lookback=FIRST_RUN_LOOKBACK)
        if since is None:
            return PollPage(events=[], cursor=cursor, more=False)  # the last pass is recent enough
        company_id = _company_id(_call(api, ME_PATH, now))
        state = {"since": since, "started": now, "company_id": company_id, "offset": 0}
        return PollPage(events=[], cursor=write_cursor(state), more=True, wait_s=RATE_LIMIT.pause_s(api, now))

    rows = _call(api, EMPLOYEES_PATH.format(company_id=state["company_id"]), now,
                 params={"limit": LIMIT, "offset": state["offset"], "with_no_payroll_calculation": "true"})
    if not isinstance(rows, list):
        raise PayloadError("freee_hr answered an employees page that is not a JSON array")
    window = (_jst_day(state["since"]), _jst_day(state["started"]))
    events = [event for row in rows if (event := _exit(row, tenant, window)) is not None]
    more = len(rows) >= LIMIT
    next_cursor = write_cursor({**state, "offset": state["offset"] + len(rows)} if more else {"last": state["started"]})
    return PollPage(events=events, cursor=next_cursor, more=more, wait_s=RATE_LIMIT.pause_s(api, now))


def _call(api: VendorApi, path: str, now: datetime, **kwargs: Any) -> Any:
    try:
        data = api.get(path, **kwargs)
    except RetryableError as error:
        if error.retry_after_s is None and RATE_LIMIT.remaining(api) == 0:
            raise RetryableError(error.message, retry_after_s=RATE_LIMIT.reset_in_s(api, now)) from None
        raise
    except PermanentError as error:
        if RATE_LIMIT.remaining(api) == 0:  # freee's 403 for an exhausted or throttled budget
            raise RetryableError(f"{NAME} is rate limiting ({error.message})", retry_after_s=RATE_LIMIT.reset_in_s(api, now)) from None
        raise
    if data is None:
        raise PermanentError(f"{NAME} answered 404: check the company and the API base URL")
    return data


def _company_id(me: Any) -> int:
    """The one company the token's user belongs to, or administers; PermanentError otherwise."""
    companies = me.get("companies") if isinstance(me, dict) else None
    if not isinstance(companies, list):
        raise PayloadError("users/me answered without a companies list")
    companies = [c for c in companies if isinstance(c, dict)]
    if len(companies) != 1:
        companies = [c for c in companies if c.get("role") == _ADMIN]
    if len(companies) != 1:
        raise PermanentError(f"the freee user of this token has {len(companies)} candidate companies; "
                             "connect with a user of the tenant's company alone")
    company_id = companies[0].get("id")
    if not isinstance(company_id, int) or isinstance(company_id, bool) or company_id < 1:
        raise PayloadError("users/me answered a company without an id")
    return company_id


def _exit(row: Any, tenant: str, window: tuple[date, date]) -> ExitEvent | None:
    """The exit an employee row stands for, when its retire_date falls in the window."""
    if not isinstance(row, dict):
        raise PayloadError("an employee is not a JSON object")
    retire_date = text(row, "retire_date", what="employee.retire_date")
    if retire_date is None:
        return None
    try:
        day = date.fromisoformat(retire_date)
    except ValueError:
        raise PayloadError("employee.retire_date is not a date") from None
    if not window[0] <= day <= window[1]:
        return None
    employee_id = text(row, "id", required=True, what="employee.id")
    display_name = text(row, "display_name", what="employee.display_name")
    parts = split_full_name(display_name)  # freee joins 姓 and 名 with a space, family first
    return ExitEvent(
        tenant=tenant,
        person=PersonRef(source=NAME, vendor_person_id=employee_id,
                         name=display_name, family_name=parts.family, given_name=parts.given,
                         email=text(row, "email", what="employee.email")),
        occurred_at=utc(day, what="employee.retire_date"),
        application_id=employee_id,
    )


def _jst_day(moment: datetime) -> date:
    return moment.astimezone(JST).date()


def _read_cursor(cursor: str | None) -> JsonObject:
    """The cursor's state with times as datetimes; {} (a first run) when absent or unreadable."""
    return read_cursor(cursor, _cursor_state)


def _cursor_state(data: JsonObject) -> JsonObject:
    if "offset" in data:
        offset, company_id = data["offset"], data["company_id"]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (offset, company_id)) \
                or offset < 0 or company_id < 1:
            return {}
        return {"since": utc(data["since"]), "started": utc(data["started"]), "company_id": company_id,
                "offset": offset}
    return {"last": utc(data["last"])}
