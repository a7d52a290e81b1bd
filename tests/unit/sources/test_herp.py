"""HERP Hire poller against a local server playing GET /v1/candidacies: paging, windows, cursor, limits."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import PayloadError, PermanentError, RetryableError
from chalicelib.domain.events import RejectionEvent
from integrations.http import VendorApi
from integrations.sources import herp
from tests.conftest import load_fixture
from tests.loopback import LOOPBACK
from tests.polling import poll_pages

NOW = datetime(2026, 1, 27, 5, 15, 2, tzinfo=UTC)  # the recorded answer's Date header
KEY = "herp-test-key"
QUERY = {"status": "terminated", "sort": "appliedAt", "direction": "asc"}


def fixture(name: str) -> dict:
    return load_fixture(f"sources/herp/api/{name}")


def serve(httpserver, page: int, body, *, status: int = 200, headers: dict | None = None) -> None:
    """Answer one page, only to a request that carries the tenant's key."""
    headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
    httpserver.expect_request("/hire/v1/candidacies", method="GET", headers={"Authorization": f"Bearer {KEY}"},
                              query_string={**QUERY, "page": str(page)}).respond_with_json(body, status=status, headers=headers)


def serve_fixture(httpserver, page: int, name: str, **header_overrides) -> None:
    fx = fixture(name)
    serve(httpserver, page, fx["body"], status=fx["status"], headers={**fx["headers"], **header_overrides})


def serve_both_pages(httpserver) -> None:
    serve_fixture(httpserver, 1, "candidacies_page1")
    serve_fixture(httpserver, 2, "candidacies_page2")


@pytest.fixture
def api(httpserver):
    return VendorApi(egress=LOOPBACK, vendor=herp.NAME, base_url=httpserver.url_for("/hire"), headers=herp.auth_headers(KEY),
                     timeout=(0.5, 0.5))


def run(api, cursor=None, *, now=NOW, max_pages=10):
    return poll_pages(herp, api, cursor, now=now, max_pages=max_pages)


def ids(events) -> list[str]:
    return [e.application_id for e in events]


def pages_requested(httpserver) -> list[str]:
    return [request.args.get("page") for request, _ in httpserver.log]


# -- the happy path ------------------------------------------------------------------------------

def test_first_run_walks_every_page_and_emits_terminations_of_the_window(httpserver, api):
    serve_both_pages(httpserver)
    pages = run(api)
    assert [p.more for p in pages] == [True, False]
    assert pages_requested(httpserver) == ["1", "2"]
    assert ids(pages[0].events) == ["48979ff4-0890-4aea-bf0a-28da813e8840", "fcc61022-86fd-4188-a566-2c49fc5231f7",
                                    "9c2fdc51-cde2-4633-a725-ea4418f36dc5", "7c841721-8a8c-4a3c-adbd-b6074fbc7429"]
    # page 2: older than the first-run window, after the poll time, and hired candidacies are left out
    assert ids(pages[1].events) == ["a8ec0b52-5540-4c56-9d6e-bbc7e69debfb"]
    assert all(isinstance(e, RejectionEvent) and e.tenant == "acme" and e.source == "herp"
               for p in pages for e in p.events)


def test_every_request_carries_the_bearer_key(httpserver, api):
    serve_both_pages(httpserver)
    run(api)
    assert [request.headers.get("Authorization") for request, _ in httpserver.log] == [f"Bearer {KEY}"] * 2


def test_rejection_carries_the_candidacy_ids_time_step_reason_and_tags(httpserver, api):
    serve_fixture(httpserver, 1, "candidacies_page1")
    event = herp.poll(api, None, tenant="acme", now=NOW).events[1]
    assert (event.person.vendor_person_id, event.application_id, event.job_id) == (
        "fcc61022-86fd-4188-a566-2c49fc5231f7", "fcc61022-86fd-4188-a566-2c49fc5231f7", "227d0e32-66a1-49c6-9d16-7bcdd3876c72")
    assert event.occurred_at == datetime(2026, 1, 26, 23, 58, tzinfo=UTC)  # terminatedAt 08:58+09:00
    assert (event.stage, event.reason, event.by_candidate) == ("entry", "rejected", False)
    assert event.tags == ("🌀見送り対応🌀",)
    assert (event.person.name, event.person.email, event.person.phone) == ("Candidate_1030", "candidate5070@example.com", None)
    assert event.delivery_id is None


def test_candidate_refusal_is_a_rejection_by_the_candidate(httpserver, api):
    serve_fixture(httpserver, 1, "candidacies_page1")
    event = herp.poll(api, None, tenant="acme", now=NOW).events[2]
    assert (event.reason, event.by_candidate, event.stage) == ("refusedByCandidate", True, "casualInterview")
    assert (event.person.email, event.person.phone) == ("candidate6464@example.com", "090-0000-0000")
    assert event.occurred_at == datetime(2026, 1, 22, 10, 14, tzinfo=UTC)


def test_other_termination_reasons_are_rejections_by_the_company(httpserver, api):
    serve_fixture(httpserver, 1, "candidacies_page1")
    event = herp.poll(api, None, tenant="acme", now=NOW).events[3]
    assert (event.reason, event.by_candidate, event.job_id) == ("notEligible", False, None)


# -- the cursor ----------------------------------------------------------------------------------

def test_cursor_resumes_at_the_next_page(httpserver, api):
    serve_both_pages(httpserver)
    first = herp.poll(api, None, tenant="acme", now=NOW)
    httpserver.clear_log()
    resumed = herp.poll(api, first.cursor, tenant="acme", now=NOW + timedelta(minutes=15))
    assert pages_requested(httpserver) == ["2"]
    assert ids(resumed.events) == ["a8ec0b52-5540-4c56-9d6e-bbc7e69debfb"]


def test_polling_the_same_cursor_again_gives_the_same_events(httpserver, api):
    serve_both_pages(httpserver)
    cursor = herp.poll(api, None, tenant="acme", now=NOW).cursor
    # the window was fixed when the pass started: a later retry of the page reads it the same way
    once = herp.poll(api, cursor, tenant="acme", now=NOW + timedelta(minutes=1))
    again = herp.poll(api, cursor, tenant="acme", now=NOW + timedelta(hours=5))
    assert once == again
    assert [e.fact_key() for e in once.events] == [e.fact_key() for e in again.events]


def test_a_finished_pass_rests_until_the_interval_is_over(httpserver, api):
    serve_both_pages(httpserver)
    done = run(api)[-1]
    httpserver.clear_log()
    resting = herp.poll(api, done.cursor, tenant="acme", now=NOW + timedelta(minutes=15))
    assert (resting.events, resting.cursor, resting.more, resting.wait_s) == ([], done.cursor, False, None)
    assert httpserver.log == []


def test_the_next_pass_overlaps_the_previous_one(httpserver, api):
    serve_both_pages(httpserver)
    done = run(api)[-1]
    assert json.loads(done.cursor) == {"v": 1, "last": "2026-01-27T05:15:02.000000Z"}
    later = NOW + timedelta(days=20)  # since = NOW - 14 days = 2026-01-13: all January terminations again
    events = [e for p in run(api, done.cursor, now=later) for e in p.events]
    assert ids(events) == ["48979ff4-0890-4aea-bf0a-28da813e8840", "fcc61022-86fd-4188-a566-2c49fc5231f7",
                           "9c2fdc51-cde2-4633-a725-ea4418f36dc5", "7c841721-8a8c-4a3c-adbd-b6074fbc7429",
                           "a8ec0b52-5540-4c56-9d6e-bbc7e69debfb", "0f6d2c7e-1111-4a2b-9c3d-000000000002"]


def test_the_overlap_does_not_reach_back_before_its_start(httpserver, api):
    serve_both_pages(httpserver)
    cursor = json.dumps({"v": 1, "last": "2026-02-05T00:00:00.000000Z"})  # since = 2026-01-22T00:00Z
    events = [e for p in run(api, cursor, now=datetime(2026, 2, 5, 2, tzinfo=UTC)) for e in p.events]
    assert ids(events) == ["48979ff4-0890-4aea-bf0a-28da813e8840", "fcc61022-86fd-4188-a566-2c49fc5231f7",
                           "9c2fdc51-cde2-4633-a725-ea4418f36dc5", "a8ec0b52-5540-4c56-9d6e-bbc7e69debfb",
                           "0f6d2c7e-1111-4a2b-9c3d-000000000002"]


@pytest.mark.parametrize("cursor", ["", "not json", "[]", '{"v": 2, "page": 3}', '{"v": 1, "page": 0, "since": "x"}',
                                    '{"v": 1, "last": "yesterday"}'])
def test_an_unreadable_cursor_starts_over_as_a_first_run(httpserver, api, cursor):
    serve_fixture(httpserver, 1, "candidacies_page1")
    page = herp.poll(api, cursor, tenant="acme", now=NOW)
    assert pages_requested(httpserver) == ["1"]
    assert len(page.events) == 4


# -- limits and failures -------------------------------------------------------------------------

def test_a_low_remaining_budget_asks_for_a_pause_until_the_reset(httpserver, api):
    serve_fixture(httpserver, 1, "candidacies_page1", **{"x-remaining-request": "3", "x-reset-at": "2026-01-27T14:15:47+09:00"})
    page = herp.poll(api, None, tenant="acme", now=NOW)
    assert page.wait_s == pytest.approx(45.0)
    assert page.more and len(page.events) == 4  # the page itself counts; the next one waits


def test_an_ample_budget_asks_for_no_pause(httpserver, api):
    serve_fixture(httpserver, 1, "candidacies_page1")
    assert herp.poll(api, None, tenant="acme", now=NOW).wait_s is None


def test_429_without_retry_after_waits_until_x_reset_at(httpserver, api):
    serve(httpserver, 1, {}, status=429, headers={"x-remaining-request": "0", "x-reset-at": "2026-01-27T14:16:02+09:00"})
    with pytest.raises(RetryableError) as error:
        herp.poll(api, None, tenant="acme", now=NOW)
    assert error.value.retry_after_s == pytest.approx(60.0)


def test_404_raises_permanent_naming_the_base_url(httpserver):
    wrong = VendorApi(egress=LOOPBACK, vendor=herp.NAME, base_url=httpserver.url_for("/hire/public"), headers=herp.auth_headers(KEY),
                      timeout=(0.5, 0.5))
    httpserver.expect_request("/hire/public/v1/candidacies").respond_with_json({"message": "Not Found"}, status=404)
    with pytest.raises(PermanentError, match="base URL"):
        herp.poll(wrong, None, tenant="acme", now=NOW)


# -- malformed answers ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", [[], {"hasNextPage": False}, {"candidacies": {"id": "x"}}])
def test_a_page_of_another_shape_is_a_payload_error(httpserver, api, body):
    serve(httpserver, 1, body)
    with pytest.raises(PayloadError):
        herp.poll(api, None, tenant="acme", now=NOW)


@pytest.mark.parametrize("row", [
    {"status": "terminated", "terminatedAt": "2026-01-26T15:26:00+09:00"},                  # no id
    {"id": "c1", "status": "terminated", "terminatedAt": "26 Jan 2026"},                   # unreadable time
    {"id": "c1", "status": "terminated", "terminatedAt": "2026-01-26T15:26:00+09:00", "email": ["a@b"]},
    "a candidacy as text",
])
def test_a_terminated_candidacy_that_cannot_be_read_is_a_payload_error(httpserver, api, row):
    serve(httpserver, 1, {"candidacies": [row], "hasNextPage": False})
    with pytest.raises(PayloadError):
        herp.poll(api, None, tenant="acme", now=NOW)


def test_rows_that_are_not_ended_candidacies_are_skipped(httpserver, api):
    rows = [{"id": "c1", "status": "active"}, {"id": "c2", "status": "terminated"},
            {"id": "c3", "status": "hired", "terminatedAt": "2026-01-26T15:26:00+09:00"}]
    serve(httpserver, 1, {"candidacies": rows, "hasNextPage": False})
    page = herp.poll(api, None, tenant="acme", now=NOW)
    assert (page.events, page.more) == ([], False)


def test_a_page_without_has_next_page_goes_on_until_a_page_is_empty(httpserver, api):
    serve(httpserver, 1, {"candidacies": fixture("candidacies_page1")["body"]["candidacies"]})
    serve(httpserver, 2, {"candidacies": []})
    assert [p.more for p in run(api)] == [True, False]


# -- description -----------------------------------------------------------------------------------

def test_the_module_describes_itself():
    assert herp.NAME == "herp" and herp.EVENTS and herp.SIGNING.startswith("polled")
    assert "Vendor docs:" in herp.__doc__ and "Auth:" in herp.__doc__ and "Quirks:" in herp.__doc__
    assert herp.auth_headers("k") == {"Authorization": "Bearer k"}
    assert herp.API_BASE_URL == "https://public-api.herp.cloud/hire"
