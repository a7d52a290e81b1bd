"""Ashby: deliveries signed with openssl verify and parse; thin notices are completed by fetch()
against a real local HTTP server playing the Ashby API."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import PayloadError, PermanentError, SignatureError
from chalicelib.domain.events import Lookup, RejectionEvent
from integrations.http import VendorApi
from integrations.sources import ashby
from tests.conftest import load_fixture, source_fixtures
from tests.loopback import LOOPBACK

THIN_APPLICATION = "7d1e0c4b-8a2f-4e6d-b9c3-5f0a1e2d3c4b"
THIN_CANDIDATE = "c3b2a190-8f7e-4d6c-a5b4-3e2f1d0c9b8a"
BASIC = "Basic " + base64.b64encode(b"k:").decode()


def delivery(name: str):
    fx = load_fixture(f"sources/ashby/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"]


def api_body(name: str) -> dict:
    return load_fixture(f"sources/ashby/api/{name}")["body"]


def application_with(fixture: str, **changes) -> bytes:
    data = json.loads(delivery(fixture)[1])
    data["data"]["application"].update(changes)
    return json.dumps(data).encode()


# -- signatures -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", source_fixtures("ashby"))
def test_known_answer_signature_verifies(name):
    headers, body, secret = delivery(name)
    ashby.verify(headers, body, [secret])


def test_sign_matches_the_known_answer():
    headers, body, secret = delivery("applicationUpdate_archived")
    assert ashby.sign(body, secret)["Ashby-Signature"] == headers["ashby-signature"]


def test_tampered_body_is_rejected():
    headers, body, secret = delivery("applicationUpdate_archived")
    with pytest.raises(SignatureError):
        ashby.verify(headers, body.replace(b"Too inexperienced", b"Too experienced"), [secret])


def test_wrong_secret_is_rejected():
    headers, body, _ = delivery("applicationUpdate_archived")
    with pytest.raises(SignatureError):
        ashby.verify(headers, body, ["another-secret-token"])


def test_missing_signature_header_is_rejected():
    _, body, secret = delivery("applicationUpdate_archived")
    with pytest.raises(SignatureError):
        ashby.verify({}, body, [secret])


@pytest.mark.parametrize("value", ["", "sha256", "sha256=", "sha1=abc", "md5=zz", "sha256 abc", "sha256=zz"])
def test_malformed_signature_header_is_rejected(value):
    _, body, secret = delivery("applicationUpdate_archived")
    with pytest.raises(SignatureError):
        ashby.verify({"ashby-signature": value}, body, [secret])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret = delivery("applicationUpdate_archived")
    ashby.verify(headers, body, ["the-new-secret-token", secret])


# -- notices ----------------------------------------------------------------------------------

def test_a_complete_archive_parses_to_a_rejection_at_the_archive_time():
    headers, body, _ = delivery("applicationUpdate_archived")
    [event] = ashby.parse(headers, body, tenant="acme")
    assert isinstance(event, RejectionEvent) and not event.by_candidate
    assert (event.person.vendor_person_id, event.application_id) == ("5b591aa7-9de1-4bb6-9d43-a6e1d8c2d3f4",
                                                                     "3ae2b801-19f6-41ef-ad28-214bd731948f")
    assert (event.person.name, event.person.email, event.person.phone) == ("James Doe", "test@ashbyhq.com", "222-222-3344")
    assert (event.job_id, event.job_title, event.stage, event.reason) == (
        "4071538b-3cac-4fbf-ac76-f78ed250ffdd", "First Designer", "Archived", "Too inexperienced")
    assert event.occurred_at == datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    assert event.delivery_id == "75395d87-4044-4dc4-bc29-0cec185e5f06"


def test_the_same_archive_seen_in_a_later_update_keeps_its_fact_key():
    first = ashby.parse({}, delivery("applicationUpdate_archived")[1], tenant="acme")[0]
    later = ashby.parse({}, application_with("applicationUpdate_archived", updatedAt="2026-12-01T00:00:00Z"), tenant="acme")[0]
    assert first.fact_key() == later.fact_key()


def test_an_archive_without_contact_data_parses_to_a_lookup():
    [notice] = ashby.parse({}, delivery("candidateStageChange_archived_thin")[1], tenant="acme")
    assert isinstance(notice, Lookup)
    assert (notice.source, notice.resource, notice.resource_id, notice.hint) == (
        "ashby", "application", THIN_APPLICATION, "rejected")
    assert notice.delivery_id == "0c6f1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
    assert notice.occurred_at == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("changes", [{"archivedAt": None}, {"archiveReason": None}])
def test_an_archive_without_its_time_or_reason_parses_to_a_lookup(changes):
    [notice] = ashby.parse({}, application_with("applicationUpdate_archived", **changes), tenant="acme")
    assert isinstance(notice, Lookup) and notice.hint == "rejected"


@pytest.mark.parametrize("name", ["applicationUpdate_active", "ping"])
def test_active_applications_and_pings_parse_to_nothing(name):
    assert ashby.parse({}, delivery(name)[1], tenant="acme") == []


def test_hired_applications_are_not_reported():
    assert ashby.parse({}, application_with("applicationUpdate_archived", status="Hired"), tenant="acme") == []


@pytest.mark.parametrize("changes", [
    {"id": None}, {"status": None}, {"status": ["Archived"]},
    {"archivedAt": "yesterday"}, {"candidate": {"id": {"x": 1}, "primaryEmailAddress": {"value": "a@b.c"}}},
])
def test_malformed_known_events_are_payload_errors(changes):
    with pytest.raises(PayloadError):
        ashby.parse({}, application_with("applicationUpdate_archived", **changes), tenant="acme")


@pytest.mark.parametrize("body", [b'{"action": "applicationUpdate"}', b'{"action": "applicationUpdate", "data": {}}',
                                  b'{"action": "candidateStageChange", "data": {"application": []}}', b"[]", b"{"])
def test_bodies_without_an_application_are_payload_errors(body):
    with pytest.raises(PayloadError):
        ashby.parse({}, body, tenant="acme")


# -- fetch against a local server playing the Ashby API ----------------------------------------

def api(httpserver, timeout=(2.0, 2.0)) -> VendorApi:
    return VendorApi(egress=LOOPBACK, vendor=ashby.NAME, base_url=httpserver.url_for("/"), headers=ashby.auth_headers("k"), timeout=timeout)


def notice() -> Lookup:
    [lookup] = ashby.parse({}, delivery("candidateStageChange_archived_thin")[1], tenant="acme")
    return lookup


def expect_application(httpserver):
    return httpserver.expect_request("/application.info", method="POST", headers={"Authorization": BASIC},
                                     json={"applicationId": THIN_APPLICATION})


def test_fetch_completes_the_rejection_with_the_candidates_contact_data(httpserver):
    expect_application(httpserver).respond_with_json(api_body("application_info_archived"))
    httpserver.expect_request("/candidate.info", method="POST", headers={"Authorization": BASIC},
                              json={"id": THIN_CANDIDATE}).respond_with_json(api_body("candidate_info"))
    [event] = ashby.fetch(notice(), api(httpserver))
    assert isinstance(event, RejectionEvent) and event.by_candidate
    assert (event.person.vendor_person_id, event.application_id) == (THIN_CANDIDATE, THIN_APPLICATION)
    assert (event.person.name, event.person.email, event.person.phone) == (
        "Aiko Sato", "aiko.sato@example.jp", "+81-90-1234-5678")
    assert (event.reason, event.job_title) == ("Accepted another offer", "First Designer")
    assert event.occurred_at == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert event.delivery_id == "0c6f1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
    httpserver.check_assertions()


def test_fetch_skips_candidate_info_when_the_application_has_the_email(httpserver):
    answer = api_body("application_info_archived")
    answer["results"]["candidate"]["primaryEmailAddress"] = {"value": "aiko@example.jp", "type": "Personal", "isPrimary": True}
    expect_application(httpserver).respond_with_json(answer)
    [event] = ashby.fetch(notice(), api(httpserver))
    assert event.person.email == "aiko@example.jp"
    assert len(httpserver.log) == 1


def test_fetch_takes_the_notice_time_when_the_api_has_none(httpserver):
    answer = api_body("application_info_archived")
    answer["results"]["archivedAt"] = None
    answer["results"]["candidate"]["primaryEmailAddress"] = {"value": "aiko@example.jp", "type": "Personal", "isPrimary": True}
    expect_application(httpserver).respond_with_json(answer)
    [event] = ashby.fetch(notice(), api(httpserver))
    assert event.occurred_at == notice().occurred_at


def test_fetch_of_an_application_reactivated_since_gives_nothing(httpserver):
    expect_application(httpserver).respond_with_json(api_body("application_info_active"))
    assert ashby.fetch(notice(), api(httpserver)) == []


def test_fetch_of_a_vanished_application_gives_nothing(httpserver):
    expect_application(httpserver).respond_with_json(api_body("application_not_found"))
    assert ashby.fetch(notice(), api(httpserver)) == []


def test_an_api_refusal_in_a_200_answer_is_permanent(httpserver):
    expect_application(httpserver).respond_with_json({"success": False, "errors": ["invalid_input"]})
    with pytest.raises(PermanentError):
        ashby.fetch(notice(), api(httpserver))


def test_an_answer_without_results_is_a_payload_error(httpserver):
    expect_application(httpserver).respond_with_json({"success": True})
    with pytest.raises(PayloadError):
        ashby.fetch(notice(), api(httpserver))


def test_auth_is_basic_with_the_key_and_an_empty_password():
    assert ashby.auth_headers("k") == {"Authorization": BASIC}
