"""freee人事労務 poller against a local server playing users/me and the all-period employee list."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import PayloadError, PermanentError, RetryableError
from chalicelib.domain.events import ExitEvent
from integrations.http import VendorApi
from integrations.sources import freee_hr
from tests.conftest import load_fixture
from tests.loopback import LOOPBACK
from tests.polling import poll_pages

NOW = datetime(2026, 1, 27, 5, 15, 2, tzinfo=UTC)  # 14:15 on 2026-01-27 in Japan
TOKEN = "freee-test-token"
COMPANY = 3141592
EMPLOYEES = f"/hr/api/v1/companies/{COMPANY}/employees"


def fixture(name: str) -> dict:
    return load_fixture(f"sources/freee_hr/api/{name}")


def _headers(headers: dict | None) -> dict:
    return {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}


def serve_me(httpserver, body=None, *, status: int = 200, headers: dict | None = None) -> None:
    fx = fixture("users_me")
    httpserver.expect_request("/hr/api/v1/users/me", method="GET", headers={"Authorization": f"Bearer {TOKEN}"}) \
        .respond_with_json(fx["body"] if body is None else body, status=status,
                           headers=_headers(fx["headers"] if headers is None else headers))


def serve_employees(httpserver, offset: int, body, *, status: int = 200, headers: dict | None = None) -> None:
    httpserver.expect_request(EMPLOYEES, method="GET", headers={"Authorization": f"Bearer {TOKEN}"},
                              query_string={"limit": str(freee_hr.LIMIT), "offset": str(offset),
                                            "with_no_payroll_calculation": "true"}) \
        .respond_with_json(body, status=status, headers=_headers(headers))


def serve_fixture(httpserver, offset: int, name: str, **header_overrides) -> None:
    fx = fixture(name)
    serve_employees(httpserver, offset, fx["body"], status=fx["status"], headers={**fx["headers"], **header_overrides})


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(freee_hr, "LIMIT", 3)  # the fixtures page three rows at a time


@pytest.fixture
def company(httpserver):
    serve_me(httpserver)
    serve_fixture(httpserver, 0, "employees_page1")
    serve_fixture(httpserver, 3, "employees_page2")


@pytest.fixture
def api(httpserver):
    return VendorApi(egress=LOOPBACK, vendor=freee_hr.NAME, base_url=httpserver.url_for("/hr"), headers=freee_hr.auth_headers(TOKEN),
                     timeout=(0.5, 0.5))


def run(api, cursor=None, *, now=NOW, max_pages=10):
    return poll_pages(freee_hr, api, cursor, now=now, max_pages=max_pages)


def requested(httpserver) -> list[tuple[str, str | None]]:
    return [(request.path, request.args.get("offset")) for request, _ in httpserver.log]


def employee_ids(pages) -> list[str]:
    return [e.person.vendor_person_id for p in pages for e in p.events]


# -- the happy path ------------------------------------------------------------------------------

def test_a_pass_discovers_the_company_then_walks_every_employee_page(httpserver, api, company):
    pages = run(api)
    assert requested(httpserver) == [("/hr/api/v1/users/me", None), (EMPLOYEES, "0"), (EMPLOYEES, "3")]
    assert [p.more for p in pages] == [True, True, False]
    assert pages[0].events == [] and json.loads(pages[0].cursor)["company_id"] == COMPANY
    # retired in the window: 101 (2026-01-15) and 105 (the poll's own day); 103 retires in March, 104 in 2018
    assert employee_ids(pages) == ["101", "105"]


def test_every_request_carries_the_bearer_token(httpserver, api, company):
    run(api)
    assert {request.headers.get("Authorization") for request, _ in httpserver.log} == {f"Bearer {TOKEN}"}


def test_an_exit_is_keyed_to_the_retirement_date(httpserver, api, company):
    event = run(api)[1].events[0]
    assert isinstance(event, ExitEvent) and (event.tenant, event.source) == ("acme", "freee_hr")
    assert event.occurred_at == datetime(2026, 1, 15, tzinfo=UTC)
    assert (event.person.vendor_person_id, event.application_id) == ("101", "101")
    assert (event.person.name, event.person.email, event.person.phone) == ("山田 太郎", "taro.yamada@example.com", None)
    assert (event.person.family_name, event.person.given_name) == ("山田", "太郎")  # display_name: 姓 名
    assert (event.reason, event.delivery_id, event.job_id) == (None, None, None)


def test_an_employee_outside_payroll_without_details_still_exits(httpserver, api, company):
    event = run(api)[2].events[0]
    assert (event.person.vendor_person_id, event.person.name, event.person.email) == ("105", "田中 三郎", None)
    assert event.occurred_at == datetime(2026, 1, 27, tzinfo=UTC)


def test_today_is_the_day_in_japan(httpserver, api, company):
    # 16:00 UTC on the 26th is already the 27th in Japan: employee 105's last day has come
    assert employee_ids(run(api, now=datetime(2026, 1, 26, 16, 0, tzinfo=UTC))) == ["101", "105"]
    httpserver.clear_log()
    assert employee_ids(run(api, now=datetime(2026, 1, 26, 14, 59, tzinfo=UTC))) == ["101"]


def test_a_future_retirement_is_emitted_once_its_day_has_come(httpserver, api, company):
    done = run(api)[-1]
    later = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # since = NOW - 62 days, until = 2026-04-01
    assert employee_ids(run(api, done.cursor, now=later)) == ["101", "103", "105"]


# -- company discovery ---------------------------------------------------------------------------

def test_a_user_of_several_companies_takes_the_one_they_administer(httpserver, api):
    serve_me(httpserver, {"id": 1, "companies": [{"id": 7, "name": "other", "role": "self_only"},
                                                 {"id": COMPANY, "name": "ours", "role": "company_admin"}]})
    page = freee_hr.poll(api, None, tenant="acme", now=NOW)
    assert json.loads(page.cursor)["company_id"] == COMPANY


@pytest.mark.parametrize("companies", [[], [{"id": 7, "role": "company_admin"}, {"id": 8, "role": "company_admin"}],
                                       [{"id": 7, "role": "self_only"}, {"id": 8, "role": "self_only"}]])
def test_a_user_without_exactly_one_company_is_refused(httpserver, api, companies):
    serve_me(httpserver, {"id": 1, "companies": companies})
    with pytest.raises(PermanentError, match="companies"):
        freee_hr.poll(api, None, tenant="acme", now=NOW)


@pytest.mark.parametrize("body", [[], {"id": 1}, {"companies": [{"id": "3141592"}]}, {"companies": [{"name": "x"}]}])
def test_users_me_of_another_shape_is_a_payload_error(httpserver, api, body):
    serve_me(httpserver, body)
    with pytest.raises(PayloadError):
        freee_hr.poll(api, None, tenant="acme", now=NOW)


def test_the_company_is_discovered_again_at_every_pass(httpserver, api, company):
    done = run(api)[-1]
    httpserver.clear_log()
    run(api, done.cursor, now=NOW + timedelta(hours=2))
    assert requested(httpserver)[0] == ("/hr/api/v1/users/me", None)


# -- the cursor ----------------------------------------------------------------------------------

def test_cursor_resumes_at_the_next_offset(httpserver, api, company):
    pages = run(api, max_pages=2)
    httpserver.clear_log()
    resumed = freee_hr.poll(api, pages[-1].cursor, tenant="acme", now=NOW + timedelta(minutes=15))
    assert requested(httpserver) == [(EMPLOYEES, "3")]
    assert [e.person.vendor_person_id for e in resumed.events] == ["105"]


def test_polling_the_same_cursor_again_gives_the_same_events(httpserver, api, company):
    cursor = run(api, max_pages=1)[0].cursor
    once = freee_hr.poll(api, cursor, tenant="acme", now=NOW + timedelta(minutes=1))
    again = freee_hr.poll(api, cursor, tenant="acme", now=NOW + timedelta(days=3))
    assert once == again and [e.fact_key() for e in once.events] == [e.fact_key() for e in again.events]


def test_a_finished_pass_rests_until_the_interval_is_over(httpserver, api, company):
    done = run(api)[-1]
    assert json.loads(done.cursor) == {"v": 1, "last": "2026-01-27T05:15:02.000000Z"}
    httpserver.clear_log()
    resting = freee_hr.poll(api, done.cursor, tenant="acme", now=NOW + timedelta(minutes=59))
    assert (resting.events, resting.cursor, resting.more) == ([], done.cursor, False)
    assert httpserver.log == []


def test_the_next_pass_reaches_back_by_the_overlap_only(httpserver, api, company):
    cursor = json.dumps({"v": 1, "last": "2026-03-20T00:00:00.000000Z"})  # since = 2026-01-17 (JST)
    assert employee_ids(run(api, cursor, now=datetime(2026, 3, 20, 2, tzinfo=UTC))) == ["105"]


@pytest.mark.parametrize("cursor", ["", "{", '{"v": 1, "offset": -1, "company_id": 1}', '{"v": 1, "offset": 3}',
                                    '{"v": 1, "offset": 3, "company_id": true, "since": "x", "started": "y"}'])
def test_an_unreadable_cursor_starts_over_as_a_first_run(httpserver, api, company, cursor):
    assert employee_ids(run(api, cursor)) == ["101", "105"]


# -- limits and failures -------------------------------------------------------------------------

def test_a_low_remaining_budget_asks_for_a_pause_until_the_reset(httpserver, api):
    serve_me(httpserver)
    serve_fixture(httpserver, 0, "employees_page1", **{"X-Ratelimit-Remaining": "40"})
    pages = run(api)
    assert len(pages) == 2 and pages[-1].more
    assert pages[-1].wait_s == pytest.approx(2698.0)  # X-Ratelimit-Reset 06:00:00Z
    assert pages[0].wait_s is None


def test_403_with_an_exhausted_budget_is_retryable_until_the_reset(httpserver, api):
    serve_me(httpserver, {"status_code": 403, "errors": [{"type": "forbidden", "messages": ["..."]}]}, status=403,
             headers={"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "2026-01-27T05:25:02.000000Z"})
    with pytest.raises(RetryableError) as error:
        freee_hr.poll(api, None, tenant="acme", now=NOW)
    assert error.value.retry_after_s == pytest.approx(600.0)


def test_403_with_budget_left_is_permanent(httpserver, api):
    serve_me(httpserver, {"status_code": 403, "errors": [{"type": "forbidden", "messages": ["..."]}]}, status=403,
             headers={"X-Ratelimit-Remaining": "9000"})
    with pytest.raises(PermanentError):
        freee_hr.poll(api, None, tenant="acme", now=NOW)


def test_a_missing_company_is_permanent(httpserver, api):
    cursor = json.dumps({"v": 1, "since": "2025-10-29T05:15:02.000000Z", "started": "2026-01-27T05:15:02.000000Z",
                         "company_id": 42, "offset": 0})
    httpserver.expect_request("/hr/api/v1/companies/42/employees").respond_with_json({"status_code": 404}, status=404)
    with pytest.raises(PermanentError):
        freee_hr.poll(api, cursor, tenant="acme", now=NOW)


# -- malformed answers ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", [{"employees": []}, [{"id": 1, "retire_date": "31/03/2026"}], ["text"],
                                  [{"retire_date": "2026-01-15"}], [{"id": 1, "retire_date": "2026-01-15", "email": {"x": 1}}]])
def test_an_employee_page_that_cannot_be_read_is_a_payload_error(httpserver, api, body):
    serve_me(httpserver)
    serve_employees(httpserver, 0, body)
    cursor = run(api, max_pages=1)[0].cursor
    with pytest.raises(PayloadError):
        freee_hr.poll(api, cursor, tenant="acme", now=NOW)


def test_an_empty_company_ends_the_pass_with_nothing(httpserver, api):
    serve_me(httpserver)
    serve_employees(httpserver, 0, [])
    pages = run(api)
    assert [p.more for p in pages] == [True, False] and employee_ids(pages) == []


# -- description -----------------------------------------------------------------------------------

def test_the_module_describes_itself():
    assert freee_hr.NAME == "freee_hr" and freee_hr.EVENTS and freee_hr.SIGNING.startswith("polled")
    assert "Vendor docs:" in freee_hr.__doc__ and "Auth:" in freee_hr.__doc__ and "Quirks:" in freee_hr.__doc__
    assert freee_hr.auth_headers("t") == {"Authorization": "Bearer t"}
    assert freee_hr.API_BASE_URL == "https://api.freee.co.jp/hr"
    assert freee_hr.JST.utcoffset(None) == timedelta(hours=9)
