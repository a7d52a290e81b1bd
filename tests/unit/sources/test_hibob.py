"""HiBob: deliveries signed with openssl (HMAC-SHA512, base64) verify; employee.left and lifecycle
table entries become Lookups; fetch reads the lifecycle history from a local server playing Bob's API."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import ExitEvent, Lookup
from integrations.http import VendorApi
from integrations.sources import hibob
from tests.conftest import load_fixture, source_fixtures
from tests.loopback import LOOPBACK

AUTH = hibob.auth_headers("SERVICE-1:token")
EMPLOYEE = "3332883854254932743"


def delivery(name: str):
    fx = load_fixture(f"sources/hibob/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"]


def api_body(name: str):
    return load_fixture(f"sources/hibob/api/{name}")["body"]


@pytest.mark.parametrize("name", source_fixtures("hibob"))
def test_known_answer_signature_verifies(name):
    headers, body, secret = delivery(name)
    hibob.verify(headers, body, [secret])


def test_sign_matches_the_known_answer():
    headers, body, secret = delivery("employee_left")
    assert hibob.sign(body, secret)["Bob-Signature"] == headers["bob-signature"]


def test_tampered_body_is_rejected():
    headers, body, secret = delivery("employee_left")
    with pytest.raises(SignatureError):
        hibob.verify(headers, body.replace(b"employee.left", b"employee.joined"), [secret])


def test_wrong_secret_is_rejected():
    headers, body, _ = delivery("employee_left")
    with pytest.raises(SignatureError):
        hibob.verify(headers, body, ["another-secret"])


@pytest.mark.parametrize("value", ["", "not base64 at all", "c2hvcnQ="])
def test_malformed_signature_header_is_rejected(value):
    _, body, secret = delivery("employee_left")
    with pytest.raises(SignatureError):
        hibob.verify({"bob-signature": value}, body, [secret])


def test_missing_signature_header_is_rejected():
    _, body, secret = delivery("employee_left")
    with pytest.raises(SignatureError):
        hibob.verify({}, body, [secret])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret = delivery("employee_left")
    hibob.verify(headers, body, ["the-new-secret", secret])


def test_employee_left_parses_to_an_employee_lookup():
    headers, body, _ = delivery("employee_left")
    [lookup] = hibob.parse(headers, body, tenant="acme")
    assert isinstance(lookup, Lookup)
    assert (lookup.source, lookup.resource, lookup.resource_id, lookup.hint, lookup.extra) == \
        ("hibob", "employee", EMPLOYEE, "exited", ())
    assert lookup.occurred_at.isoformat() == "2025-01-31T23:00:04.118231+00:00"


def test_lifecycle_table_entry_parses_to_a_lookup_carrying_its_effective_date():
    headers, body, _ = delivery("table_entry_created_lifecycle")
    [lookup] = hibob.parse(headers, body, tenant="acme")
    assert (lookup.resource_id, lookup.get("effective_date")) == (EMPLOYEE, "2025-01-08")


def test_other_tables_parse_to_nothing():
    headers, body, _ = delivery("table_entry_created_work")
    assert hibob.parse(headers, body, tenant="acme") == []


@pytest.mark.parametrize("body", [b"Ping test", b'{"text":"Ping test"}', b'{"type": "employee.joined", "data": {}}'])
def test_pings_and_other_events_parse_to_nothing(body):
    assert hibob.parse({}, body, tenant="acme") == []


@pytest.mark.parametrize("body", [b'{"type": "employee.left"}', b'{"type": "employee.left", "data": {}}',
                                  b'{"type": "table.entry.created", "data": {"employeeId": "1", "tableId": "lifecycle"}}',
                                  b'{"type": "employee.left", "triggeredAt": "soon", "data": {"employeeId": "1"}}'])
def test_malformed_known_event_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        hibob.parse({}, body, tenant="acme")


# -- fetch, against a local server playing Bob's API -------------------------------------------------

def api(httpserver, timeout=(2, 2)):
    return VendorApi(egress=LOOPBACK, vendor="hibob", base_url=httpserver.url_for("/"), headers=AUTH, timeout=timeout)


def lookup(**extra):
    return Lookup(tenant="acme", source="hibob", resource="employee", resource_id=EMPLOYEE, hint="exited",
                  extra=tuple(extra.items()))


def expect_lifecycle(httpserver):
    return httpserver.expect_request(f"/v1/people/{EMPLOYEE}/lifecycle", method="GET", headers=AUTH)


def expect_person(httpserver):
    return httpserver.expect_request(f"/v1/people/{EMPLOYEE}", method="POST", headers=AUTH,
                                     json={"fields": hibob.PERSON_FIELDS})


def test_fetch_keys_the_exit_to_the_terminated_entry_effective_date(httpserver):
    expect_lifecycle(httpserver).respond_with_json(api_body("lifecycle"))
    expect_person(httpserver).respond_with_json(api_body("employee"))
    [event] = hibob.fetch(lookup(), api(httpserver))
    assert isinstance(event, ExitEvent)
    assert (event.person.vendor_person_id, event.occurred_at.isoformat(), event.reason) == \
        (EMPLOYEE, "2025-01-31T00:00:00+00:00", "Resignation")
    assert (event.person.name, event.person.email) == ("Dana Example", "dana@example.com")
    assert (event.person.family_name, event.person.given_name) == ("Example", "Dana")  # surname, firstName


def test_fetch_for_a_lifecycle_entry_that_is_not_a_termination_gives_nothing(httpserver):
    # the notified entry (2025-01-08) is the garden leave, not the termination
    expect_lifecycle(httpserver).respond_with_json(api_body("lifecycle"))
    assert hibob.fetch(lookup(effective_date="2025-01-08"), api(httpserver)) == []


def test_fetch_for_the_termination_table_entry_gives_the_exit(httpserver):
    expect_lifecycle(httpserver).respond_with_json(api_body("lifecycle"))
    expect_person(httpserver).respond_with_json(api_body("employee"))
    [event] = hibob.fetch(lookup(effective_date="2025-01-31"), api(httpserver))
    assert event.occurred_at.date().isoformat() == "2025-01-31"


def test_fetch_without_a_termination_entry_gives_nothing(httpserver):
    expect_lifecycle(httpserver).respond_with_json({"values": [{"id": 1, "status": "employed", "effectiveDate": "2021-03-01"}]})
    assert hibob.fetch(lookup(), api(httpserver)) == []


