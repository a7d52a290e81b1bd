"""Merge: deliveries built from the documented schema verify (signatures computed independently with
openssl) and parse; thin ones are completed against a local server playing the Merge API."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import ExitEvent, Lookup, RejectionEvent
from integrations.http import VendorApi
from integrations.sources import merge
from tests.conftest import load_fixture
from tests.loopback import LOOPBACK

APPLICATION_ID = "92e8a369-fffe-430d-b93a-f7e8a16563f1"
CANDIDATE_ID = "2872ba14-4084-492b-be96-e5eee6fc33ef"


def delivery(name: str):
    fx = load_fixture(f"sources/merge/{name}")
    headers = {k.lower(): v for k, v in fx["headers"].items()}
    return headers, fx["body"].encode(), fx["secret"]


def api_answer(name: str):
    return load_fixture(f"sources/merge/api/{name}")["response"]


def body_with(name: str, **data) -> bytes:
    message = json.loads(delivery(name)[1])
    message["data"].update(data)
    return json.dumps(message).encode()


# -- signature --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["application_changed_rejected", "application_changed_expanded", "employee_changed_terminated"])
def test_known_answer_signature_verifies(name):
    headers, body, secret = delivery(name)
    merge.verify(headers, body, [secret])


def test_sign_matches_the_known_answer():
    headers, body, secret = delivery("application_changed_rejected")
    assert merge.sign(body, secret)["X-Merge-Webhook-Signature"] == headers["x-merge-webhook-signature"]


def test_signature_without_padding_is_accepted():
    headers, body, secret = delivery("application_changed_rejected")
    merge.verify({"x-merge-webhook-signature": headers["x-merge-webhook-signature"].rstrip("=")}, body, [secret])


def test_standard_base64_signature_is_rejected():
    _, body, secret = delivery("employee_changed_terminated")
    for extra in range(100):  # a body whose digest has '+' or '/', where the two alphabets differ
        candidate = body + b" " * extra
        standard = base64.b64encode(hmac.new(secret.encode(), candidate, hashlib.sha256).digest()).decode()
        if standard != merge.sign(candidate, secret)["X-Merge-Webhook-Signature"]:
            body = candidate
            break
    with pytest.raises(SignatureError):
        merge.verify({"x-merge-webhook-signature": standard}, body, [secret])


def test_tampered_body_is_rejected():
    headers, body, secret = delivery("application_changed_rejected")
    with pytest.raises(SignatureError):
        merge.verify(headers, body.replace(b"2021-11-15", b"2021-11-16"), [secret])


def test_wrong_secret_is_rejected():
    headers, body, _ = delivery("application_changed_rejected")
    with pytest.raises(SignatureError):
        merge.verify(headers, body, ["another-secret"])


@pytest.mark.parametrize("headers", [{}, {"x-merge-webhook-signature": ""}, {"x-merge-webhook-signature": "not-a-signature"}])
def test_missing_or_malformed_signature_header_is_rejected(headers):
    _, body, secret = delivery("application_changed_rejected")
    with pytest.raises(SignatureError):
        merge.verify(headers, body, [secret])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret = delivery("application_changed_rejected")
    merge.verify(headers, body, ["the-new-secret", secret])


# -- parse ----------------------------------------------------------------------------------------

def test_rejection_with_candidate_id_only_becomes_a_lookup():
    headers, body, _ = delivery("application_changed_rejected")
    [lookup] = merge.parse(headers, body, tenant="acme")
    assert isinstance(lookup, Lookup)
    assert (lookup.source, lookup.resource, lookup.resource_id, lookup.hint) == ("merge", "application", APPLICATION_ID, "rejected")
    assert lookup.occurred_at.isoformat() == "2021-11-15T00:00:00+00:00"
    assert lookup.delivery_id is None  # Merge sends no event id


def test_rejection_with_expanded_candidate_parses_to_a_rejection_event():
    headers, body, _ = delivery("application_changed_expanded")
    [event] = merge.parse(headers, body, tenant="acme")
    assert isinstance(event, RejectionEvent)
    assert (event.person.vendor_person_id, event.application_id) == (CANDIDATE_ID, APPLICATION_ID)
    assert (event.job_id, event.job_title) == ("52bf9b5e-0beb-4f6f-8a72-cd4dca7ca633", "Software Engineer")
    assert (event.stage, event.reason, event.by_candidate) == ("Onsite Interview", "Not a good fit", False)
    assert event.occurred_at.isoformat() == "2021-11-15T00:00:00+00:00"
    assert (event.person.name, event.person.email, event.person.phone) == ("Gil Feig", "gil.feig@example.com", "+3198675309")


def test_unexpanded_stage_and_reason_ids_are_not_taken_for_names():
    body = body_with("application_changed_expanded", current_stage="2f7adb59", reject_reason="59b25f2b")
    [event] = merge.parse({}, body, tenant="acme")
    assert (event.stage, event.reason) == (None, None)


def test_reason_without_rejection_time_takes_merge_modification_time():
    body = body_with("application_changed_expanded", rejected_at=None)
    [event] = merge.parse({}, body, tenant="acme")
    assert event.occurred_at.isoformat() == "2021-10-16T00:00:00+00:00"


def test_application_change_that_is_not_a_rejection_parses_to_nothing():
    body = body_with("application_changed_rejected", rejected_at=None, reject_reason=None)
    assert merge.parse({}, body, tenant="acme") == []


def test_terminated_employee_parses_to_an_exit_keyed_to_the_termination_date():
    headers, body, _ = delivery("employee_changed_terminated")
    [event] = merge.parse(headers, body, tenant="acme")
    assert isinstance(event, ExitEvent)
    assert event.person.vendor_person_id == "0958cbc6-6040-430a-848e-aafacbadf4ae"
    assert event.occurred_at.isoformat() == "2024-03-31T00:00:00+00:00"
    assert (event.person.name, event.person.email, event.person.phone) == ("Cousin Greg Hirsch", "greg@gmail.com", "+1234567890")


def test_employee_change_without_termination_date_parses_to_nothing():
    assert merge.parse({}, body_with("employee_changed_terminated", termination_date=None), tenant="acme") == []


def test_unknown_event_parses_to_nothing():
    message = json.loads(delivery("application_changed_rejected")[1])
    message["hook"]["event"] = "LinkedAccount.synced"
    assert merge.parse({}, json.dumps(message).encode(), tenant="acme") == []


@pytest.mark.parametrize("data", [
    {"candidate": None},
    {"candidate": ["not", "an", "id"]},
    {"id": None},
    {"rejected_at": "yesterday"},
])
def test_malformed_rejection_is_a_payload_error(data):
    with pytest.raises(PayloadError):
        merge.parse({}, body_with("application_changed_rejected", **data), tenant="acme")


def test_malformed_termination_date_is_a_payload_error():
    with pytest.raises(PayloadError):
        merge.parse({}, body_with("employee_changed_terminated", termination_date="end of March"), tenant="acme")


def test_missing_data_is_a_payload_error():
    with pytest.raises(PayloadError):
        merge.parse({}, b'{"hook": {"event": "Application.changed"}}', tenant="acme")


# -- fetch ------------------------------------------------------------------------------------------

AUTH = {"Authorization": "Bearer merge-key", "X-Account-Token": "account-token"}
APPLICATION_PATH = f"/api/ats/v1/applications/{APPLICATION_ID}"


@pytest.fixture
def api(httpserver):
    return VendorApi(egress=LOOPBACK, vendor=merge.NAME, base_url=httpserver.url_for("/api"),
                     headers=merge.auth_headers("merge-key account-token"), timeout=(0.5, 0.5))


def lookup() -> Lookup:
    return merge.parse({}, delivery("application_changed_rejected")[1], tenant="acme")[0]


def test_auth_headers_carry_the_api_key_and_the_account_token():
    assert merge.auth_headers("merge-key account-token") == AUTH
    assert merge.auth_headers("merge-key") == {"Authorization": "Bearer merge-key"}


def test_fetch_reads_the_expanded_application_and_returns_the_rejection(httpserver, api):
    httpserver.expect_oneshot_request(APPLICATION_PATH, method="GET", headers=AUTH,
                                      query_string={"expand": "candidate,job,current_stage,reject_reason"}
                                      ).respond_with_json(api_answer("application_expanded"))
    [event] = merge.fetch(lookup(), api)
    assert isinstance(event, RejectionEvent)
    assert (event.person.vendor_person_id, event.person.email, event.application_id) == (
        CANDIDATE_ID, "gil.feig@example.com", APPLICATION_ID)
    assert (event.stage, event.reason, event.job_title) == ("Onsite Interview", "Not a good fit", "Software Engineer")
    assert event.occurred_at.isoformat() == "2021-11-15T00:00:00+00:00"
    httpserver.check_assertions()


def test_fetch_reads_the_candidate_when_the_application_names_only_its_id(httpserver, api):
    httpserver.expect_oneshot_request(APPLICATION_PATH, headers=AUTH).respond_with_json(
        {**api_answer("application_expanded"), "candidate": CANDIDATE_ID})
    httpserver.expect_oneshot_request(f"/api/ats/v1/candidates/{CANDIDATE_ID}", headers=AUTH).respond_with_json(api_answer("candidate"))
    [event] = merge.fetch(lookup(), api)
    assert (event.person.vendor_person_id, event.person.name) == (CANDIDATE_ID, "Gil Feig")
    httpserver.check_assertions()


def test_fetch_of_an_application_no_longer_rejected_returns_nothing(httpserver, api):
    httpserver.expect_request(APPLICATION_PATH).respond_with_json(
        {**api_answer("application_expanded"), "rejected_at": None, "reject_reason": None})
    assert merge.fetch(lookup(), api) == []


def test_fetch_of_a_deleted_application_returns_nothing(httpserver, api):
    httpserver.expect_request(APPLICATION_PATH).respond_with_data("", status=404)
    assert merge.fetch(lookup(), api) == []


