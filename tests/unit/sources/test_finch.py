"""Finch: the SDK's published known-answer vector verifies; data-change notices (signed independently
with openssl) become Lookups; fetch reads employment from a local server playing the Finch API."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from chalicelib.domain.errors import PayloadError, PermanentError, RetryableError, SignatureError
from chalicelib.domain.events import ExitEvent, Lookup
from integrations.http import VendorApi
from integrations.sources import finch
from tests.conftest import load_fixture
from tests.loopback import LOOPBACK

INDIVIDUAL_ID = "9d6a5c1e-33a6-4f3b-8a0e-7f6d2c1b0a99"


def delivery(name: str):
    fx = load_fixture(f"sources/finch/{name}")
    headers = {k.lower(): v for k, v in fx["headers"].items()}
    return headers, fx["body"].encode(), fx["secret"], datetime.fromisoformat(fx["now"].replace("Z", "+00:00"))


def api_answer(name: str):
    return load_fixture(f"sources/finch/api/{name}")["response"]


# -- signature --------------------------------------------------------------------------------------

def test_the_sdk_known_answer_vector_verifies():
    headers, body, secret, now = delivery("sdk_known_answer")
    assert headers["finch-signature"] == "v1,m7y0TV2C+hlHxU42wCieApTSTaA8/047OAplBqxIV/s="
    with freeze_time(now):
        finch.verify(headers, body, [secret])


@pytest.mark.parametrize("name", ["employment_updated", "directory_updated"])
def test_known_answer_signature_verifies(name):
    headers, body, secret, now = delivery(name)
    with freeze_time(now):
        finch.verify(headers, body, [secret])


def test_sign_matches_the_known_answer():
    headers, body, secret, _ = delivery("sdk_known_answer")
    signed = finch.sign(body, secret, now=datetime.fromtimestamp(1676312382, UTC), event_id=headers["finch-event-id"])
    assert (signed["Finch-Signature"], signed["Finch-Timestamp"]) == (headers["finch-signature"], "1676312382")


def test_tampered_body_is_rejected():
    headers, body, secret, now = delivery("employment_updated")
    with freeze_time(now), pytest.raises(SignatureError):
        finch.verify(headers, body.replace(b"employment.updated", b"directory.updated"), [secret])


def test_changed_event_id_is_rejected():
    headers, body, secret, now = delivery("sdk_known_answer")
    with freeze_time(now), pytest.raises(SignatureError):
        finch.verify({**headers, "finch-event-id": "msg_another"}, body, [secret])


def test_stale_timestamp_is_rejected():
    headers, body, secret, now = delivery("sdk_known_answer")
    with freeze_time(now + timedelta(minutes=6)), pytest.raises(SignatureError):
        finch.verify(headers, body, [secret])


def test_future_timestamp_is_rejected():
    headers, body, secret, now = delivery("sdk_known_answer")
    with freeze_time(now - timedelta(minutes=6)), pytest.raises(SignatureError):
        finch.verify(headers, body, [secret])


def test_timestamp_within_five_minutes_is_accepted():
    headers, body, secret, now = delivery("sdk_known_answer")
    with freeze_time(now + timedelta(minutes=4, seconds=59)):
        finch.verify(headers, body, [secret])


def test_second_signature_in_header_is_accepted():
    headers, body, secret, now = delivery("sdk_known_answer")
    rotated = {**headers, "finch-signature": "v1,bXlfc2ln " + headers["finch-signature"]}
    with freeze_time(now):
        finch.verify(rotated, body, [secret])


def test_other_signature_versions_are_ignored():
    headers, body, secret, now = delivery("sdk_known_answer")
    with freeze_time(now), pytest.raises(SignatureError):
        finch.verify({**headers, "finch-signature": headers["finch-signature"].replace("v1,", "v2,")}, body, [secret])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret, now = delivery("sdk_known_answer")
    with freeze_time(now):
        finch.verify(headers, body, ["Zm9vYmFyYmF6cXV4", secret])


def test_secret_that_is_not_base64_is_refused():
    headers, body, _, now = delivery("sdk_known_answer")
    with freeze_time(now), pytest.raises(SignatureError):
        finch.verify(headers, body, ["invalid secret"])


@pytest.mark.parametrize("missing", ["finch-event-id", "finch-timestamp", "finch-signature"])
def test_missing_header_is_rejected(missing):
    headers, body, secret, now = delivery("sdk_known_answer")
    with freeze_time(now), pytest.raises(SignatureError):
        finch.verify({k: v for k, v in headers.items() if k != missing}, body, [secret])


@pytest.mark.parametrize("timestamp", ["yesterday", "nan", "1e30", ""])
def test_malformed_timestamp_is_rejected(timestamp):
    headers, body, secret, now = delivery("sdk_known_answer")
    with freeze_time(now), pytest.raises(SignatureError):
        finch.verify({**headers, "finch-timestamp": timestamp}, body, [secret])


# -- parse ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["employment_updated", "directory_updated"])
def test_data_change_becomes_an_employment_lookup(name):
    headers, body, _, _ = delivery(name)
    [lookup] = finch.parse(headers, body, tenant="acme")
    assert isinstance(lookup, Lookup)
    assert (lookup.source, lookup.resource, lookup.resource_id) == ("finch", "employment", INDIVIDUAL_ID)
    assert lookup.delivery_id == headers["finch-event-id"]
    assert (lookup.occurred_at, lookup.extra) == (None, ())


def test_entity_id_is_carried_to_fetch():
    headers, body, _, _ = delivery("employment_updated")
    message = json.loads(body)
    message["entity_id"] = "e0e0e0e0-0000-4000-8000-000000000001"
    [lookup] = finch.parse(headers, json.dumps(message).encode(), tenant="acme")
    assert lookup.get("entity_id") == "e0e0e0e0-0000-4000-8000-000000000001"


def test_body_without_event_type_parses_to_nothing():
    assert finch.parse({}, delivery("sdk_known_answer")[1], tenant="acme") == []


@pytest.mark.parametrize("event_type", ["account.updated", "employment.created", "payment.created", "job.data_sync_all.completed"])
def test_events_the_hub_does_not_use_parse_to_nothing(event_type):
    message = json.loads(delivery("employment_updated")[1])
    message["event_type"] = event_type
    assert finch.parse({}, json.dumps(message).encode(), tenant="acme") == []


@pytest.mark.parametrize("data", [None, {}, {"individual_id": None}, {"individual_id": ["x"]}, "x"])
def test_data_change_without_individual_is_a_payload_error(data):
    message = json.loads(delivery("employment_updated")[1])
    message["data"] = data
    with pytest.raises(PayloadError):
        finch.parse({}, json.dumps(message).encode(), tenant="acme")


# -- fetch ------------------------------------------------------------------------------------------

AUTH = {"Authorization": "Bearer finch-token", "Finch-API-Version": "2020-09-17"}
BATCH = {"requests": [{"individual_id": INDIVIDUAL_ID}]}


@pytest.fixture
def api(httpserver):
    return VendorApi(egress=LOOPBACK, vendor=finch.NAME, base_url=httpserver.url_for("/"), headers=finch.auth_headers("finch-token"),
                     timeout=(0.5, 0.5))


def lookup(**extra) -> Lookup:
    headers, body, _, _ = delivery("employment_updated")
    [notice] = finch.parse(headers, body, tenant="acme")
    return Lookup(**{**notice.__dict__, "extra": tuple(extra.items())})


def test_fetch_of_a_terminated_employment_returns_an_exit_keyed_to_end_date(httpserver, api):
    httpserver.expect_ordered_request("/employer/employment", method="POST", headers=AUTH, json=BATCH
                                      ).respond_with_json(api_answer("employment_terminated"))
    httpserver.expect_ordered_request("/employer/individual", method="POST", headers=AUTH, json=BATCH
                                      ).respond_with_json(api_answer("individual"))
    [event] = finch.fetch(lookup(), api)
    httpserver.check_assertions()
    assert isinstance(event, ExitEvent)
    assert (event.person.vendor_person_id, event.occurred_at.isoformat()) == (INDIVIDUAL_ID, "2024-03-29T00:00:00+00:00")
    assert (event.person.name, event.person.email, event.person.phone) == ("Katherine Johnson", "katherine@example.com", "+1 757 555 0100")
    assert (event.person.family_name, event.person.given_name) == ("Johnson", "Katherine")  # last_name, first_name
    assert (event.job_title, event.reason, event.delivery_id) == ("Mathematician", None, "msg_2SFMDibF3lmRw8DzX4t1JjiEZQl")


def test_fetch_sends_the_entity_id_of_multi_entity_connections(httpserver, api):
    entity = "e0e0e0e0-0000-4000-8000-000000000001"
    httpserver.expect_request("/employer/employment", json={**BATCH, "entity_ids": [entity]}).respond_with_json(
        api_answer("employment_active"))
    assert finch.fetch(lookup(entity_id=entity), api) == []
    httpserver.check_assertions()


def test_fetch_of_an_active_employment_returns_nothing(httpserver, api):
    httpserver.expect_request("/employer/employment").respond_with_json(api_answer("employment_active"))
    assert finch.fetch(lookup(), api) == []
    assert len(httpserver.log) == 1  # contact data is not read for people who stay


@pytest.mark.parametrize("change, exits", [
    ({"employment_status": "retired"}, True),
    ({"employment_status": None, "is_active": False}, True),
    ({"employment_status": "deceased"}, False),
    ({"employment_status": "leave", "is_active": False}, False),
    ({"end_date": None}, False),
])
def test_which_employments_count_as_an_exit(httpserver, api, change, exits):
    answer = api_answer("employment_terminated")
    answer["responses"][0]["body"].update(change)
    httpserver.expect_request("/employer/employment").respond_with_json(answer)
    httpserver.expect_request("/employer/individual").respond_with_json(api_answer("individual"))
    assert bool(finch.fetch(lookup(), api)) is exits


def test_individual_finch_no_longer_knows_returns_nothing(httpserver, api):
    httpserver.expect_request("/employer/employment").respond_with_json(api_answer("employment_not_found"))
    assert finch.fetch(lookup(), api) == []


def test_exit_without_readable_contact_data_still_counts(httpserver, api):
    httpserver.expect_request("/employer/employment").respond_with_json(api_answer("employment_terminated"))
    httpserver.expect_request("/employer/individual").respond_with_json(api_answer("employment_not_found"))
    [event] = finch.fetch(lookup(), api)
    assert (event.person.name, event.person.email) == ("Katherine Johnson", None)


@pytest.mark.parametrize("code, error", [(429, RetryableError), (500, RetryableError), (403, PermanentError)])
def test_per_individual_error_codes_in_a_batch_answer(httpserver, api, code, error):
    answer = api_answer("employment_not_found")
    answer["responses"][0]["code"] = code
    httpserver.expect_request("/employer/employment").respond_with_json(answer)
    with pytest.raises(error):
        finch.fetch(lookup(), api)


def test_answer_without_responses_is_a_payload_error(httpserver, api):
    httpserver.expect_request("/employer/employment").respond_with_json({"data": []})
    with pytest.raises(PayloadError):
        finch.fetch(lookup(), api)


