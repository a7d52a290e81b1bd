"""SmartRecruiters: the vendor's published signed example verifies; status notices become Lookups that
fetch completes against a local server playing the Customer API."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from chalicelib.domain.errors import PayloadError, RetryableError, SignatureError
from chalicelib.domain.events import Lookup, RejectionEvent
from integrations.http import VendorApi
from integrations.sources import smartrecruiters
from tests.conftest import load_fixture
from tests.loopback import LOOPBACK

CANDIDATE, JOB = "6c2f9a1e-3b7d-4e0a-9f51-2d8c7b4a1e06", "743999671902341"
APPLICATION_PATH = f"/api/candidates/{CANDIDATE}/jobs/{JOB}"


def delivery(name: str):
    fx = load_fixture(f"sources/smartrecruiters/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"], fx["now"]


def api_body(name: str):
    return load_fixture(f"sources/smartrecruiters/api/{name}")["body"]


@pytest.mark.parametrize("name", ["application_created_signed_example", "application_status_updated"])
def test_known_answer_signature_verifies(name):
    headers, body, secret, now = delivery(name)
    with freeze_time(now):
        smartrecruiters.verify(headers, body, [secret])


def test_sign_reproduces_the_vendors_published_example():
    headers, body, secret, now = delivery("application_created_signed_example")
    signed = smartrecruiters.sign(body, secret, now=datetime.fromisoformat(now.replace("Z", "+00:00")),
                                  event_id=headers["event-id"], event_name=headers["event-name"],
                                  event_version=headers["event-version"], link=headers["link"])
    assert signed["smartrecruiters-signature"] == "v1=2e9291f10d44ca10204a4cd81b05d73b6a316b2b605d4e2e0e0b37b40198ce1f"
    assert signed["smartrecruiters-timestamp"] == "1574080897"


def test_sign_round_trips_with_the_event_headers():
    _, body, secret, _ = delivery("application_status_updated")
    headers = {k.lower(): v for k, v in smartrecruiters.sign(body, secret, event_id="e1", event_name="application.status.updated",
                                                              event_version="v1", link="<https://x>; rel=self").items()}
    smartrecruiters.verify(headers, body, [secret])


def test_tampered_body_is_rejected():
    headers, body, secret, now = delivery("application_status_updated")
    with freeze_time(now), pytest.raises(SignatureError):
        smartrecruiters.verify(headers, body.replace(CANDIDATE.encode(), b"someone-else"), [secret])


@pytest.mark.parametrize("header", ["event-id", "event-name", "event-version", "link"])
def test_tampered_signed_header_is_rejected(header):
    headers, body, secret, now = delivery("application_status_updated")
    with freeze_time(now), pytest.raises(SignatureError):
        smartrecruiters.verify({**headers, header: headers[header] + "x"}, body, [secret])


@pytest.mark.parametrize("offset_s", [-301, 301])
def test_stale_or_future_timestamp_is_rejected(offset_s):
    headers, body, secret, now = delivery("application_status_updated")
    moment = datetime.fromtimestamp(int(headers["smartrecruiters-timestamp"]) + offset_s, tz=UTC)
    with freeze_time(moment), pytest.raises(SignatureError):
        smartrecruiters.verify(headers, body, [secret])


def test_timestamp_inside_the_window_is_accepted():
    headers, body, secret, _ = delivery("application_status_updated")
    with freeze_time(datetime.fromtimestamp(int(headers["smartrecruiters-timestamp"]) + 299, tz=UTC)):
        smartrecruiters.verify(headers, body, [secret])


def test_second_signature_in_header_is_accepted():
    headers, body, secret, now = delivery("application_status_updated")
    rotated = {**headers, "smartrecruiters-signature": "v1=" + "0" * 64 + ";v2=abc;" + headers["smartrecruiters-signature"]}
    with freeze_time(now):
        smartrecruiters.verify(rotated, body, [secret])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret, now = delivery("application_status_updated")
    with freeze_time(now):
        smartrecruiters.verify(headers, body, ["the-new-secret", secret])


def test_wrong_secret_is_rejected():
    headers, body, _, now = delivery("application_status_updated")
    with freeze_time(now), pytest.raises(SignatureError):
        smartrecruiters.verify(headers, body, ["another-secret"])


@pytest.mark.parametrize("value", ["", "v1", "v1=", "v2=" + "0" * 64, "2dbda770d606f03cee", ";;"])
def test_malformed_signature_header_is_rejected(value):
    headers, body, secret, now = delivery("application_status_updated")
    with freeze_time(now), pytest.raises(SignatureError):
        smartrecruiters.verify({**headers, "smartrecruiters-signature": value}, body, [secret])


@pytest.mark.parametrize("missing", ["smartrecruiters-signature", "smartrecruiters-timestamp"])
def test_missing_signature_headers_are_rejected(missing):
    headers, body, secret, now = delivery("application_status_updated")
    with freeze_time(now), pytest.raises(SignatureError):
        smartrecruiters.verify({k: v for k, v in headers.items() if k != missing}, body, [secret])


def test_status_update_parses_to_one_lookup():
    headers, body, _, _ = delivery("application_status_updated")
    [notice] = smartrecruiters.parse(headers, body, tenant="acme")
    assert isinstance(notice, Lookup)
    assert (notice.source, notice.resource, notice.resource_id) == ("smartrecruiters", "application", f"{CANDIDATE}:{JOB}")
    assert notice.delivery_id == "0b8f3f0e-6c61-4a8e-b3a4-1f2d7c9e5a10"
    assert (notice.get("candidate_id"), notice.get("job_id")) == (CANDIDATE, JOB)
    assert notice.occurred_at is None  # the timestamp header is the request time, new on every retry


def test_ids_come_from_the_link_header_when_the_body_has_only_an_id():
    headers, _, _, _ = delivery("application_status_updated")
    [notice] = smartrecruiters.parse(headers, b'{"id": "string"}', tenant="acme")
    assert notice.resource_id == f"{CANDIDATE}:{JOB}"


def test_other_events_parse_to_nothing():
    headers, body, _, _ = delivery("application_created_signed_example")
    assert smartrecruiters.parse(headers, body, tenant="acme") == []
    assert smartrecruiters.parse({"event-name": "job.created"}, b"{}", tenant="acme") == []


@pytest.mark.parametrize("body", [b'{"id": "x"}', b'{"candidate_id": "c"}', b'{"candidate_id": {"a": 1}, "job_id": "j"}',
                                  b'{"candidate_id": "../x", "job_id": "j/k"}', b"[]", b"not json"])
def test_notice_naming_no_application_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        smartrecruiters.parse({"event-name": "application.status.updated"}, body, tenant="acme")


# -- fetch against a local server playing the Customer API -------------------------------------

def lookup() -> Lookup:
    headers, body, _, _ = delivery("application_status_updated")
    return smartrecruiters.parse(headers, body, tenant="acme")[0]


def api(httpserver, timeout=(2.0, 2.0)) -> VendorApi:
    return VendorApi(egress=LOOPBACK, vendor=smartrecruiters.NAME, base_url=httpserver.url_for("/api"),
                     headers=smartrecruiters.auth_headers("k"), timeout=timeout)


def serve(httpserver, application):
    token = {"X-SmartToken": "k"}
    httpserver.expect_request(APPLICATION_PATH, headers=token).respond_with_json(application)
    httpserver.expect_request(f"{APPLICATION_PATH}/status/history", headers=token).respond_with_json(api_body("status_history"))
    httpserver.expect_request(f"/api/candidates/{CANDIDATE}", headers=token).respond_with_json(api_body("candidate"))


def test_fetch_turns_a_rejected_application_into_a_rejection(httpserver):
    serve(httpserver, api_body("application_rejected"))
    [event] = smartrecruiters.fetch(lookup(), api(httpserver))
    assert isinstance(event, RejectionEvent) and not event.by_candidate
    assert (event.person.vendor_person_id, event.application_id, event.job_id) == (CANDIDATE, f"{CANDIDATE}:{JOB}", JOB)
    assert (event.person.name, event.person.email, event.person.phone) == (
        "Maria Kowalska", "maria.kowalska@example.com", "+48 600 000 000")
    assert (event.person.family_name, event.person.given_name) == ("Kowalska", "Maria")  # lastName, firstName
    assert event.occurred_at.isoformat() == "2024-11-25T13:05:58.412000+00:00"  # the history's changedOn, not now
    assert (event.stage, event.job_title, event.reason) == ("INTERVIEW", "Backend Engineer", None)
    assert event.delivery_id == "0b8f3f0e-6c61-4a8e-b3a4-1f2d7c9e5a10"


def test_fetch_flags_a_withdrawal_as_the_candidates(httpserver):
    history = api_body("status_history")
    history["content"][1]["status"] = "WITHDRAWN"
    token = {"X-SmartToken": "k"}
    httpserver.expect_request(APPLICATION_PATH, headers=token).respond_with_json({"status": "WITHDRAWN"})
    httpserver.expect_request(f"{APPLICATION_PATH}/status/history", headers=token).respond_with_json(history)
    httpserver.expect_request(f"/api/candidates/{CANDIDATE}", headers=token).respond_with_json(api_body("candidate"))
    [event] = smartrecruiters.fetch(lookup(), api(httpserver))
    assert event.by_candidate and event.occurred_at.isoformat() == "2024-11-25T13:05:58.412000+00:00"


@pytest.mark.parametrize("status", ["INTERVIEW", "OFFER", "HIRED", "NEW"])
def test_fetch_of_a_live_application_gives_nothing(httpserver, status):
    httpserver.expect_request(APPLICATION_PATH).respond_with_json({"status": status})
    assert smartrecruiters.fetch(lookup(), api(httpserver)) == []
    assert len(httpserver.log) == 1


def test_fetch_of_a_deleted_application_gives_nothing(httpserver):
    httpserver.expect_request(APPLICATION_PATH).respond_with_data("", status=404)
    assert smartrecruiters.fetch(lookup(), api(httpserver)) == []


def test_rejection_missing_from_the_history_is_retried(httpserver):
    token = {"X-SmartToken": "k"}
    httpserver.expect_request(APPLICATION_PATH, headers=token).respond_with_json({"status": "REJECTED"})
    httpserver.expect_request(f"{APPLICATION_PATH}/status/history").respond_with_json({"totalFound": 0, "content": []})
    with pytest.raises(RetryableError):
        smartrecruiters.fetch(lookup(), api(httpserver))


