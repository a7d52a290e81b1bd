"""Greenhouse: documented payloads verify (signatures computed independently with openssl) and parse."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import ApplicationEvent, HireEvent, RejectionEvent, RejectionRevertedEvent
from integrations.sources import greenhouse
from tests.conftest import load_fixture


def delivery(name: str):
    fx = load_fixture(f"sources/greenhouse/{name}")
    headers = {k.lower(): v for k, v in fx["headers"].items()}
    return headers, fx["body"].encode(), fx["secret"]


@pytest.mark.parametrize("name", ["reject_candidate", "unreject_candidate", "hire_candidate", "new_candidate_application", "ping"])
def test_known_answer_signature_verifies(name):
    headers, body, secret = delivery(name)
    greenhouse.verify(headers, body, [secret])


def test_sign_matches_the_known_answer():
    headers, body, secret = delivery("reject_candidate")
    assert greenhouse.sign(body, secret)["Signature"] == headers["signature"]


def test_tampered_body_is_rejected():
    headers, body, secret = delivery("reject_candidate")
    with pytest.raises(SignatureError):
        greenhouse.verify(headers, body.replace(b"Too Junior", b"Too Senior"), [secret])


def test_wrong_secret_is_rejected():
    headers, body, _ = delivery("reject_candidate")
    with pytest.raises(SignatureError):
        greenhouse.verify(headers, body, ["another-secret"])


@pytest.mark.parametrize("value", ["", "sha256", "sha1 abc", "sha256 zz", "sha256  "])
def test_malformed_signature_header_is_rejected(value):
    _, body, secret = delivery("reject_candidate")
    with pytest.raises(SignatureError):
        greenhouse.verify({"signature": value}, body, [secret])


def test_missing_signature_header_is_rejected():
    _, body, secret = delivery("reject_candidate")
    with pytest.raises(SignatureError):
        greenhouse.verify({}, body, [secret])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret = delivery("reject_candidate")
    greenhouse.verify(headers, body, ["the-new-secret", secret])


def test_rejection_parses_to_one_rejection_event():
    headers, body, _ = delivery("reject_candidate")
    [event] = greenhouse.parse(headers, body, tenant="acme")
    assert isinstance(event, RejectionEvent)
    assert (event.person.vendor_person_id, event.application_id, event.job_id, event.job_title) == (
        "265788", "265293", "371417", "Designer")
    assert (event.stage, event.reason, event.by_candidate) == ("Offer", "Too Junior", False)
    assert event.occurred_at.isoformat() == "2015-02-11T15:50:41+00:00"
    assert (event.person.name, event.person.email) == ("Hector Porter", "hector.porter.265788@example.com")


def test_other_actions_parse_to_their_events():
    kinds = {name: type(greenhouse.parse(*delivery(name)[:2], tenant="acme")[0])
             for name in ("unreject_candidate", "hire_candidate", "new_candidate_application")}
    assert kinds == {"unreject_candidate": RejectionRevertedEvent, "hire_candidate": HireEvent,
                     "new_candidate_application": ApplicationEvent}


def test_the_documented_unreject_carries_its_rejections_own_instant():
    """The documented pair is the tie case the domain settles for the reversal (test_people.py)."""
    [rejected] = greenhouse.parse(*delivery("reject_candidate")[:2], tenant="acme")
    [reverted] = greenhouse.parse(*delivery("unreject_candidate")[:2], tenant="acme")
    assert isinstance(reverted, RejectionRevertedEvent)
    assert reverted.occurred_at == rejected.occurred_at
    assert (reverted.application_id, reverted.person.vendor_person_id) == (rejected.application_id, rejected.person.vendor_person_id)


@freeze_time("2026-03-01T09:30:00Z")
def test_an_unreject_without_any_time_takes_the_time_of_receipt():
    headers, body, _ = delivery("unreject_candidate")
    data = json.loads(body)
    del data["payload"]["application"]["last_activity_at"]
    [event] = greenhouse.parse(headers, json.dumps(data).encode(), tenant="acme")
    assert event.occurred_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_hire_takes_the_offer_resolution_time_and_single_job():
    [event] = greenhouse.parse(*delivery("hire_candidate")[:2], tenant="acme")
    assert event.occurred_at.isoformat() == "2014-11-20T22:49:14+00:00"
    assert (event.job_id, event.job_title) == ("323753", "Developer")


def test_ping_parses_to_nothing():
    assert greenhouse.parse(*delivery("ping")[:2], tenant="acme") == []


def test_candidate_declining_is_flagged():
    body = delivery("reject_candidate")[1].replace(b'"Wrong skill set"', b'"They rejected us"')
    [event] = greenhouse.parse({}, body, tenant="acme")
    assert event.by_candidate


def test_rejection_without_candidate_is_a_payload_error():
    with pytest.raises(PayloadError):
        greenhouse.parse({}, b'{"action": "reject_candidate", "payload": {"application": {"id": 1}}}', tenant="acme")


def test_event_id_header_is_the_delivery_id():
    headers, body, _ = delivery("reject_candidate")
    [event] = greenhouse.parse({**headers, "greenhouse-event-id": "evt-1"}, body, tenant="acme")
    assert event.delivery_id == "evt-1"
