"""BambooHR: deliveries signed with openssl verify inside the timestamp window; status changes become
Lookups; fetch reads the employee from a local server playing the BambooHR API."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from chalicelib.domain.errors import PayloadError, PermanentError, SignatureError
from chalicelib.domain.events import ExitEvent, Lookup
from integrations.http import VendorApi
from integrations.sources import bamboohr
from tests.conftest import load_fixture, source_fixtures
from tests.loopback import LOOPBACK

BASE = "/api/gateway.php/acme/v1"
AUTH = bamboohr.auth_headers("k")


def delivery(name: str):
    fx = load_fixture(f"sources/bamboohr/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"], fx["now"]


def api_body(name: str):
    return load_fixture(f"sources/bamboohr/api/{name}")["body"]


@pytest.mark.parametrize("name", source_fixtures("bamboohr"))
def test_known_answer_signature_verifies(name):
    headers, body, secret, now = delivery(name)
    with freeze_time(now):
        bamboohr.verify(headers, body, [secret])


def test_sign_matches_the_known_answer():
    headers, body, secret, now = delivery("employee_updated_first_name")
    signed = bamboohr.sign(body, secret, now=datetime.fromtimestamp(1769884925, tz=UTC))
    assert (signed["X-BambooHR-Timestamp"], signed["X-BambooHR-Signature"]) == \
        (headers["x-bamboohr-timestamp"], headers["x-bamboohr-signature"])


def test_sign_round_trips():
    _, body, secret, _ = delivery("employee_updated_employment_status")
    headers = {k.lower(): v for k, v in bamboohr.sign(body, secret).items()}
    bamboohr.verify(headers, body, [secret])


def test_tampered_body_is_rejected():
    headers, body, secret, now = delivery("employee_updated_employment_status")
    with freeze_time(now), pytest.raises(SignatureError):
        bamboohr.verify(headers, body.replace(b"67890", b"67891"), [secret])


def test_tampered_timestamp_is_rejected():
    headers, body, secret, now = delivery("employee_updated_employment_status")
    with freeze_time(now), pytest.raises(SignatureError):
        bamboohr.verify({**headers, "x-bamboohr-timestamp": "2026-05-15T17:03:13Z"}, body, [secret])


@pytest.mark.parametrize("shift", [timedelta(minutes=6), timedelta(minutes=-6)])
def test_stale_or_future_timestamp_is_rejected(shift):
    headers, body, secret, now = delivery("employee_updated_employment_status")
    with freeze_time(datetime.fromisoformat(now.replace("Z", "+00:00")) + shift), pytest.raises(SignatureError):
        bamboohr.verify(headers, body, [secret])


@pytest.mark.parametrize("drop", ["x-bamboohr-signature", "x-bamboohr-timestamp"])
def test_missing_header_is_rejected(drop):
    headers, body, secret, now = delivery("employee_updated_employment_status")
    with freeze_time(now), pytest.raises(SignatureError):
        bamboohr.verify({k: v for k, v in headers.items() if k != drop}, body, [secret])


@pytest.mark.parametrize("value", ["not-a-time", "", "nan", "1e400"])
def test_malformed_timestamp_is_rejected(value):
    headers, body, secret, now = delivery("employee_updated_employment_status")
    with freeze_time(now), pytest.raises(SignatureError):
        bamboohr.verify({**headers, "x-bamboohr-timestamp": value}, body, [secret])


def test_wrong_secret_is_rejected():
    headers, body, _, now = delivery("employee_updated_employment_status")
    with freeze_time(now), pytest.raises(SignatureError):
        bamboohr.verify(headers, body, ["another-private-key"])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret, now = delivery("employee_updated_employment_status")
    with freeze_time(now):
        bamboohr.verify(headers, body, ["the-new-private-key", secret])


def test_employment_status_change_parses_to_an_employee_lookup():
    headers, body, _, _ = delivery("employee_updated_employment_status")
    [lookup] = bamboohr.parse(headers, body, tenant="acme")
    assert isinstance(lookup, Lookup)
    assert (lookup.source, lookup.resource, lookup.resource_id, lookup.hint, lookup.delivery_id) == \
        ("bamboohr", "employee", "67890", "exited", None)
    assert lookup.occurred_at.isoformat() == "2026-05-15T17:03:11+00:00"


def test_field_based_status_change_parses_to_one_lookup_per_employee():
    headers, body, _, _ = delivery("field_based_employment_status")
    [lookup] = bamboohr.parse(headers, body, tenant="acme")
    assert (lookup.resource_id, lookup.occurred_at.isoformat()) == ("40404", "2026-05-15T17:03:11+00:00")


@pytest.mark.parametrize("name", ["employee_updated_first_name", "field_based_first_name"])
def test_a_change_of_other_fields_parses_to_nothing(name):
    headers, body, _, _ = delivery(name)
    assert bamboohr.parse(headers, body, tenant="acme") == []


def test_an_update_without_changed_fields_is_looked_up():
    body = b'{"type": "employee.updated", "timestamp": "2026-05-15T17:03:11+0000", "data": {"employeeId": "7"}}'
    [lookup] = bamboohr.parse({}, body, tenant="acme")
    assert lookup.resource_id == "7"


@pytest.mark.parametrize("body", [b'{"type": "employee.created", "data": {"employeeId": "7"}}',
                                  b'{"type": "employee.deleted", "data": {"employeeId": "7"}}'])
def test_other_event_types_parse_to_nothing(body):
    assert bamboohr.parse({}, body, tenant="acme") == []


@pytest.mark.parametrize("body", [b'{"type": "employee.updated", "data": {"changedFields": ["status"]}}',
                                  b'{"type": "employee.updated"}',
                                  b'{"employees": [{"action": "Updated", "changedFields": ["Status"]}]}',
                                  b'{"employees": ["not an object"]}',
                                  b'{"type": "employee.updated", "timestamp": "yesterday", "data": {"employeeId": "7"}}'])
def test_malformed_status_change_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        bamboohr.parse({}, body, tenant="acme")


# -- fetch, against a local server playing the BambooHR API -----------------------------------------

def api(httpserver, timeout=(2, 2)):
    return VendorApi(egress=LOOPBACK, vendor="bamboohr", base_url=httpserver.url_for(BASE), headers=AUTH, timeout=timeout)


def lookup(employee_id="67890"):
    return Lookup(tenant="acme", source="bamboohr", resource="employee", resource_id=employee_id, hint="exited")


def expect_employee(httpserver, employee_id="67890"):
    return httpserver.expect_request(f"{BASE}/employees/{employee_id}/", method="GET", headers=AUTH,
                                     query_string={"fields": ",".join(bamboohr.EMPLOYEE_FIELDS), "onlyCurrent": "false"})


def test_fetch_turns_a_terminated_employee_into_an_exit_on_the_termination_date(httpserver):
    expect_employee(httpserver).respond_with_json(api_body("employee_terminated"))
    [event] = bamboohr.fetch(lookup(), api(httpserver))
    assert isinstance(event, ExitEvent)
    assert (event.tenant, event.person.vendor_person_id, event.occurred_at.isoformat()) == \
        ("acme", "67890", "2026-05-29T00:00:00+00:00")
    assert (event.person.name, event.person.email, event.person.phone) == \
        ("Bryony Example", "bryony.home@example.com", "555-0100")
    assert (event.person.family_name, event.person.given_name) == ("Example", "Bryony")  # lastName, firstName


def test_fetch_of_an_active_employee_gives_nothing(httpserver):
    expect_employee(httpserver).respond_with_json(api_body("employee_active"))
    assert bamboohr.fetch(lookup(), api(httpserver)) == []


def test_fetch_of_a_deleted_employee_gives_nothing(httpserver):
    expect_employee(httpserver).respond_with_data("", status=404)
    assert bamboohr.fetch(lookup(), api(httpserver)) == []


def test_fetch_refuses_the_unfilled_company_domain():
    with pytest.raises(PermanentError):
        bamboohr.fetch(lookup(), VendorApi(egress=LOOPBACK, vendor="bamboohr", base_url=bamboohr.API_BASE_URL, headers=AUTH))


