"""Kombo: data-changed notices verify (signatures computed independently with openssl) and become
Lookups; fetch reads the changed records from a local server playing the Kombo API."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import ExitEvent, Lookup, RejectionEvent
from integrations.http import VendorApi
from integrations.sources import kombo
from tests.conftest import load_fixture
from tests.loopback import LOOPBACK

NOW = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
SINCE = "2024-05-02T12:00:00.000Z"  # NOW - LOOKBACK


def delivery(name: str):
    fx = load_fixture(f"sources/kombo/{name}")
    headers = {k.lower(): v for k, v in fx["headers"].items()}
    return headers, fx["body"].encode(), fx["secret"]


def api_answer(name: str):
    return load_fixture(f"sources/kombo/api/{name}")["response"]


# -- signature --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["data_changed_ats", "data_changed_hris", "sync_finished"])
def test_known_answer_signature_verifies(name):
    headers, body, secret = delivery(name)
    kombo.verify(headers, body, [secret])


def test_sign_matches_the_known_answer_without_padding():
    headers, body, secret = delivery("data_changed_ats")
    signature = kombo.sign(body, secret)["X-Kombo-Signature"]
    assert signature == headers["x-kombo-signature"] and not signature.endswith("=")


def test_tampered_body_is_rejected():
    headers, body, secret = delivery("data_changed_ats")
    with pytest.raises(SignatureError):
        kombo.verify(headers, body.replace(b"ats_applications", b"ats_candidates"), [secret])


def test_wrong_secret_is_rejected():
    headers, body, _ = delivery("data_changed_ats")
    with pytest.raises(SignatureError):
        kombo.verify(headers, body, ["another-secret"])


@pytest.mark.parametrize("headers", [{}, {"x-kombo-signature": "  "}, {"x-kombo-signature": "sha256=abc"}])
def test_missing_or_malformed_signature_header_is_rejected(headers):
    _, body, secret = delivery("data_changed_ats")
    with pytest.raises(SignatureError):
        kombo.verify(headers, body, [secret])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret = delivery("data_changed_ats")
    kombo.verify(headers, body, ["the-new-secret", secret])


# -- parse ----------------------------------------------------------------------------------------

def test_changed_applications_become_one_lookup_per_integration():
    headers, body, _ = delivery("data_changed_ats")
    [lookup] = kombo.parse(headers, body, tenant="acme")
    assert isinstance(lookup, Lookup)
    assert (lookup.resource, lookup.resource_id, lookup.hint) == ("ats_applications", "greenhouse:CBNMt7dSNCzBdnRTx87dev4E", "rejected")
    assert (lookup.delivery_id, lookup.occurred_at) == ("8vGcmtTdPuFh6xSc1Xm9RTZR", None)


def test_changed_employees_become_a_lookup_for_exits():
    [lookup] = kombo.parse({}, delivery("data_changed_hris")[1], tenant="acme")
    assert (lookup.resource, lookup.resource_id, lookup.hint) == ("hris_employees", "personio:CBNMt7dSNCzBdnRTx87dev4E", "exited")


def test_changes_to_models_the_hub_does_not_use_parse_to_nothing():
    message = json.loads(delivery("data_changed_hris")[1])
    message["data"]["changed_models"] = [{"name": "hris_legal_entities"}, {"name": "hris_absences"}]
    assert kombo.parse({}, json.dumps(message).encode(), tenant="acme") == []


def test_sync_finished_parses_to_nothing():
    assert kombo.parse({}, delivery("sync_finished")[1], tenant="acme") == []


@pytest.mark.parametrize("data", [
    {"integration_id": None, "changed_models": [{"name": "ats_applications"}]},
    {"integration_id": "x", "changed_models": "ats_applications"},
    {"integration_id": {"id": "x"}, "changed_models": []},
])
def test_malformed_data_changed_is_a_payload_error(data):
    with pytest.raises(PayloadError):
        kombo.parse({}, json.dumps({"id": "1", "type": "data-changed", "data": data}).encode(), tenant="acme")


# -- fetch ------------------------------------------------------------------------------------------

AUTH = {"Authorization": "Bearer kombo-key"}


@pytest.fixture
def api(httpserver):
    return VendorApi(egress=LOOPBACK, vendor=kombo.NAME, base_url=httpserver.url_for("/v1"), headers=kombo.auth_headers("kombo-key"),
                     timeout=(0.5, 0.5))


def lookup(name="data_changed_ats") -> Lookup:
    return kombo.parse({}, delivery(name)[1], tenant="acme")[0]


def test_fetch_pages_through_changed_applications_and_returns_the_rejections(httpserver, api):
    headers = {**AUTH, "X-Integration-Id": "greenhouse:CBNMt7dSNCzBdnRTx87dev4E"}
    first = {"updated_after": SINCE, "page_size": "250"}
    httpserver.expect_ordered_request("/v1/ats/applications", headers=headers, query_string=first
                                      ).respond_with_json(api_answer("applications_page1"))
    httpserver.expect_ordered_request("/v1/ats/applications", headers=headers, query_string={**first, "cursor": "eyJwYWdlIjoyfQ"}
                                      ).respond_with_json(api_answer("applications_page2"))
    events = kombo.fetch(lookup(), api, now=NOW)
    httpserver.check_assertions()
    assert all(isinstance(e, RejectionEvent) and not e.by_candidate for e in events)
    assert [(e.application_id, e.person.vendor_person_id, e.occurred_at.isoformat()) for e in events] == [
        ("app1KomboId", "cand1KomboId", "2024-05-02T10:00:00+00:00"),
        ("app3KomboId", "cand3KomboId", "2024-05-03T08:30:00+00:00"),  # no rejected_at: changed_at
    ]
    first_event = events[0]
    assert (first_event.stage, first_event.reason, first_event.job_id, first_event.job_title) == (
        "Phone Screen", "Not qualified", "H5daSm8e85Dmvmne3wLeCPhX", "Backend Engineer")
    assert (first_event.person.name, first_event.person.email, first_event.person.phone) == (
        "Ada Lovelace1", "ada1@example.com", "+49 30 1234567")
    assert first_event.person.given_name == "Ada"  # first_name; last_name is the family name


def test_fetch_of_changed_employees_returns_exits_keyed_to_the_termination_date(httpserver, api):
    httpserver.expect_request("/v1/hris/employees", headers={**AUTH, "X-Integration-Id": "personio:CBNMt7dSNCzBdnRTx87dev4E"},
                              query_string={"updated_after": SINCE, "page_size": "250"}).respond_with_json(api_answer("employees"))
    [event] = kombo.fetch(lookup("data_changed_hris"), api, now=NOW)
    assert isinstance(event, ExitEvent)
    assert (event.person.vendor_person_id, event.occurred_at.isoformat()) == ("emp1KomboId", "2024-06-30T00:00:00+00:00")
    assert (event.person.name, event.person.email, event.job_title) == ("Grace B. Hopper1", "grace1@example.com", "Engineer")


def test_the_same_records_fetched_twice_give_the_same_facts(httpserver, api):
    httpserver.expect_request("/v1/hris/employees").respond_with_json(api_answer("employees"))
    first = kombo.fetch(lookup("data_changed_hris"), api, now=NOW)
    again = kombo.fetch(lookup("data_changed_hris"), api, now=datetime(2024, 5, 3, 13, 0, tzinfo=UTC))
    assert [e.fact_key() for e in first] == [e.fact_key() for e in again]


def test_fetch_when_the_integration_is_gone_returns_nothing(httpserver, api):
    httpserver.expect_request("/v1/ats/applications").respond_with_data("", status=404)
    assert kombo.fetch(lookup(), api, now=NOW) == []


def test_answer_without_results_is_a_payload_error(httpserver, api):
    httpserver.expect_request("/v1/ats/applications").respond_with_json({"status": "success", "data": {"next": None}})
    with pytest.raises(PayloadError):
        kombo.fetch(lookup(), api, now=NOW)


