"""Personio: the static Authorization token is checked in constant time; employment.terminated becomes a
Lookup; fetch gets a client-credentials token and reads the employment from a local server playing Personio."""
from __future__ import annotations

import base64

import pytest

from chalicelib.domain.errors import PayloadError, PermanentError, SignatureError
from chalicelib.domain.events import ExitEvent, Lookup
from integrations.http import VendorApi
from integrations.sources import personio
from tests.conftest import load_fixture, source_fixtures
from tests.loopback import LOOPBACK

AUTH = personio.auth_headers("client-id:client-secret")
BEARER = {"Authorization": "Bearer papi-test-access-token"}
PERSON, EMPLOYMENT = "16254378", "2817364"


def delivery(name: str):
    fx = load_fixture(f"sources/personio/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"]


def api_body(name: str):
    return load_fixture(f"sources/personio/api/{name}")["body"]


@pytest.mark.parametrize("name", source_fixtures("personio"))
def test_known_token_verifies(name):
    headers, body, secret = delivery(name)
    personio.verify(headers, body, [secret])


def test_sign_sends_the_token_verbatim():
    headers, body, secret = delivery("employment_terminated")
    assert personio.sign(body, secret)["Authorization"] == headers["authorization"]


def test_tampered_body_is_still_accepted_because_nothing_is_signed():
    # Personio signs nothing: the token proves the sender, not the bytes (documented in the module)
    headers, body, secret = delivery("employment_terminated")
    personio.verify(headers, body.replace(b"2817364", b"1111111"), [secret])


@pytest.mark.parametrize("value", ["wrong-token", "Bearer personio-webhook-token-9b2f", "personio-webhook-token-9b2"])
def test_wrong_token_is_rejected(value):
    _, body, secret = delivery("employment_terminated")
    with pytest.raises(SignatureError):
        personio.verify({"authorization": value}, body, [secret])


def test_missing_authorization_header_is_rejected():
    _, body, secret = delivery("employment_terminated")
    with pytest.raises(SignatureError):
        personio.verify({}, body, [secret])


def test_previous_token_is_accepted_during_rotation():
    headers, body, secret = delivery("employment_terminated")
    personio.verify(headers, body, ["the-new-token", secret])


def test_employment_terminated_parses_to_a_person_lookup_naming_the_employment():
    headers, body, _ = delivery("employment_terminated")
    [lookup] = personio.parse(headers, body, tenant="acme")
    assert isinstance(lookup, Lookup)
    assert (lookup.source, lookup.resource, lookup.resource_id, lookup.get("employment_id"), lookup.hint) == \
        ("personio", "person", PERSON, EMPLOYMENT, "exited")
    assert (lookup.occurred_at.isoformat(), lookup.delivery_id) == ("2026-01-18T00:00:12+00:00", None)


def test_other_events_parse_to_nothing():
    headers, body, _ = delivery("employment_updated")
    assert personio.parse(headers, body, tenant="acme") == []


@pytest.mark.parametrize("body", [b'{"event_name": "employment.terminated", "occurred_at": "2026-01-18T00:00:12Z"}',
                                  b'{"event_name": "employment.terminated", "occurred_at": "2026-01-18T00:00:12Z", "payload": {"id": "1"}}',
                                  b'{"event_name": "employment.terminated", "payload": {"person": {"id": "1"}}}',
                                  b'["employment.terminated"]'])
def test_malformed_known_event_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        personio.parse({}, body, tenant="acme")


# -- fetch, against a local server playing Personio's API ------------------------------------------

def api(httpserver, timeout=(2, 2)):
    return VendorApi(egress=LOOPBACK, vendor="personio", base_url=httpserver.url_for("/"), headers=AUTH, timeout=timeout)


def lookup(employment_id=EMPLOYMENT):
    return Lookup(tenant="acme", source="personio", resource="person", resource_id=PERSON, hint="exited",
                  extra=(("employment_id", employment_id),))


def expect_token(httpserver):
    return httpserver.expect_request("/v2/auth/token", method="POST", headers=AUTH, data="grant_type=client_credentials")


def expect_employments(httpserver):
    return httpserver.expect_request(f"/v2/persons/{PERSON}/employments", method="GET", headers=BEARER)


def test_auth_headers_are_basic_client_credentials():
    assert base64.b64decode(AUTH["Authorization"].removeprefix("Basic ")) == b"client-id:client-secret"


def test_fetch_keys_the_exit_to_the_termination_date(httpserver):
    expect_token(httpserver).respond_with_json(api_body("token"))
    expect_employments(httpserver).respond_with_json(api_body("employments"))
    httpserver.expect_request(f"/v2/persons/{PERSON}", method="GET", headers=BEARER).respond_with_json(api_body("person"))
    [event] = personio.fetch(lookup(), api(httpserver))
    assert isinstance(event, ExitEvent)
    assert (event.person.vendor_person_id, event.application_id, event.occurred_at.isoformat(), event.reason) == \
        (PERSON, EMPLOYMENT, "2026-01-18T00:00:00+00:00", "QUIT")
    assert (event.person.name, event.person.email) == ("Jonas Beispiel", "jonas@example.com")
    assert (event.person.family_name, event.person.given_name) == ("Beispiel", "Jonas")  # last_name, first_name


def test_fetch_of_another_employment_gives_nothing(httpserver):
    expect_token(httpserver).respond_with_json(api_body("token"))
    expect_employments(httpserver).respond_with_json(api_body("employments"))
    assert personio.fetch(lookup("999"), api(httpserver)) == []


def test_fetch_of_an_employment_without_termination_gives_nothing(httpserver):
    expect_token(httpserver).respond_with_json(api_body("token"))
    expect_employments(httpserver).respond_with_json({"_data": [{"id": EMPLOYMENT, "status": "ACTIVE"}]})
    assert personio.fetch(lookup(), api(httpserver)) == []


def test_token_answer_without_a_token_raises_permanent(httpserver):
    expect_token(httpserver).respond_with_json({"error": "invalid_client"})
    with pytest.raises(PermanentError):
        personio.fetch(lookup(), api(httpserver))


