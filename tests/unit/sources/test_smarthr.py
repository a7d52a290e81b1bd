"""SmartHR: the X-SmartHR-Token is checked in constant time; crew_updated with resigned_at is an exit on
that date; an id-only Crew is completed from a local server playing the SmartHR API."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import PayloadError, PermanentError, SignatureError
from chalicelib.domain.events import Lookup
from integrations.http import VendorApi
from integrations.sources import smarthr
from tests.conftest import load_fixture, source_fixtures
from tests.loopback import LOOPBACK

AUTH = smarthr.auth_headers("access-token")
CREW = "8f1c0f0e-3c2b-4b7e-9a51-0c6b2d3e4f50"


def delivery(name: str):
    fx = load_fixture(f"sources/smarthr/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"]


@pytest.mark.parametrize("name", source_fixtures("smarthr"))
def test_known_token_verifies(name):
    headers, body, secret = delivery(name)
    smarthr.verify(headers, body, [secret])


def test_sign_sends_the_token_verbatim():
    headers, body, secret = delivery("crew_updated_resigned")
    assert smarthr.sign(body, secret)["X-SmartHR-Token"] == headers["x-smarthr-token"]


def test_tampered_body_is_still_accepted_because_nothing_is_signed():
    # SmartHR signs nothing: the token proves the sender, not the bytes (documented in the module)
    headers, body, secret = delivery("crew_updated_resigned")
    smarthr.verify(headers, body.replace(b"2026-03-31", b"2026-04-30"), [secret])


@pytest.mark.parametrize("value", ["wrong-token", "smarthr-secret-token-5d7", "SMARTHR-SECRET-TOKEN-5D7A"])
def test_wrong_token_is_rejected(value):
    _, body, secret = delivery("crew_updated_resigned")
    with pytest.raises(SignatureError):
        smarthr.verify({"x-smarthr-token": value}, body, [secret])


def test_missing_token_header_is_rejected():
    _, body, secret = delivery("crew_updated_resigned")
    with pytest.raises(SignatureError):
        smarthr.verify({}, body, [secret])


def test_previous_token_is_accepted_during_rotation():
    headers, body, secret = delivery("crew_updated_resigned")
    smarthr.verify(headers, body, ["the-new-token", secret])


def test_a_resigned_crew_in_the_body_is_looked_up_and_nothing_is_taken_from_the_body():
    # the token does not cover the body: the exit, its date, name and address come from the API only
    headers, body, _ = delivery("crew_updated_resigned")
    [lookup] = smarthr.parse(headers, body, tenant="acme")
    assert isinstance(lookup, Lookup)
    assert (lookup.tenant, lookup.source, lookup.resource, lookup.resource_id, lookup.hint) == \
        ("acme", "smarthr", "crew", CREW, "exited")
    assert "example.com" not in str(lookup.to_json()) and "2026-03-31" not in str(lookup.to_json())


def test_a_forged_resignation_in_the_body_becomes_only_a_look_up_of_the_crew_it_names():
    headers, body, _ = delivery("crew_updated_resigned")
    forged = body.replace(b"hanako.yamada@example.com", b"victim@attacker.example")
    [lookup] = smarthr.parse(headers, forged, tenant="acme")
    assert isinstance(lookup, Lookup) and "attacker" not in str(lookup.to_json())


def test_smarthr_declares_that_its_token_does_not_cover_the_body():
    assert smarthr.SIGNATURE_COVERS_BODY is False


def test_crew_still_employed_parses_to_nothing():
    headers, body, _ = delivery("crew_updated_employed")
    assert smarthr.parse(headers, body, tenant="acme") == []


def test_id_only_crew_parses_to_a_crew_lookup():
    headers, body, _ = delivery("crew_updated_ids_only")
    [lookup] = smarthr.parse(headers, body, tenant="acme")
    assert isinstance(lookup, Lookup)
    assert (lookup.resource, lookup.resource_id, lookup.hint, lookup.occurred_at.isoformat()) == \
        ("crew", CREW, "exited", "2026-03-10T02:15:01+00:00")


@pytest.mark.parametrize("event", ["crew_created", "crew_deleted", "dependent_updated"])
def test_other_events_parse_to_nothing(event):
    assert smarthr.parse({}, f'{{"event": "{event}", "crew": {{"id": "x"}}}}'.encode(), tenant="acme") == []


@pytest.mark.parametrize("body", [b'{"event": "crew_updated"}', b'{"event": "crew_updated", "crew": {}}',
                                  b'{"event": "crew_updated", "crew": {"resigned_at": "2026-03-31"}}',
                                  b'{"event": "crew_updated", "crew": {"id": "x", "resigned_at": "end of March"}}'])
def test_malformed_crew_update_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        smarthr.parse({}, body, tenant="acme")


# -- fetch, against a local server playing the SmartHR API --------------------------------------------

def api(httpserver, timeout=(2, 2)):
    return VendorApi(egress=LOOPBACK, vendor="smarthr", base_url=httpserver.url_for("/api"), headers=AUTH, timeout=timeout)


def lookup():
    return Lookup(tenant="acme", source="smarthr", resource="crew", resource_id=CREW, hint="exited")


def expect_crew(httpserver):
    return httpserver.expect_request(f"/api/v1/crews/{CREW}", method="GET", headers={"Authorization": "Bearer access-token"})


def test_fetch_turns_a_resigned_crew_into_an_exit(httpserver):
    expect_crew(httpserver).respond_with_json(load_fixture("sources/smarthr/api/crew")["body"])
    [event] = smarthr.fetch(lookup(), api(httpserver))
    assert (event.person.vendor_person_id, event.occurred_at.date().isoformat()) == (CREW, "2026-03-31")


def test_fetch_of_an_employed_crew_gives_nothing(httpserver):
    expect_crew(httpserver).respond_with_json({"id": CREW, "emp_status": "employed", "resigned_at": None})
    assert smarthr.fetch(lookup(), api(httpserver)) == []


def test_fetch_of_a_deleted_crew_gives_nothing(httpserver):
    expect_crew(httpserver).respond_with_data("", status=404)
    assert smarthr.fetch(lookup(), api(httpserver)) == []


def test_fetch_refuses_the_unfilled_tenant_subdomain():
    with pytest.raises(PermanentError):
        smarthr.fetch(lookup(), VendorApi(egress=LOOPBACK, vendor="smarthr", base_url=smarthr.API_BASE_URL, headers=AUTH))


