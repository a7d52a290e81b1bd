"""Recruitee: candidate_moved deliveries (signatures computed independently with openssl) verify and parse."""
from __future__ import annotations

import json

import pytest

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import RejectionEvent, RejectionRevertedEvent
from integrations.sources import recruitee
from tests.conftest import load_fixture

NAMES = ["candidate_moved_disqualified", "candidate_moved_requalified", "candidate_moved_stage_changed", "test_request"]


def delivery(name: str):
    fx = load_fixture(f"sources/recruitee/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"]


@pytest.mark.parametrize("name", NAMES)
def test_known_answer_signature_verifies(name):
    headers, body, secret = delivery(name)
    recruitee.verify(headers, body, [secret])


def test_sign_matches_the_known_answer():
    headers, body, secret = delivery("candidate_moved_disqualified")
    assert recruitee.sign(body, secret)["X-Recruitee-Signature"] == headers["x-recruitee-signature"]


def test_tampered_body_is_rejected():
    headers, body, secret = delivery("candidate_moved_disqualified")
    with pytest.raises(SignatureError):
        recruitee.verify(headers, body.replace(b"disqualified", b"requalified"), [secret])


def test_wrong_secret_is_rejected():
    headers, body, _ = delivery("candidate_moved_disqualified")
    with pytest.raises(SignatureError):
        recruitee.verify(headers, body, ["another-secret"])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret = delivery("candidate_moved_disqualified")
    recruitee.verify(headers, body, ["the-new-secret", secret])


@pytest.mark.parametrize("value", ["", " ", "sha256=abc", "zz", "A8A28EBB"])
def test_malformed_signature_header_is_rejected(value):
    _, body, secret = delivery("candidate_moved_disqualified")
    with pytest.raises(SignatureError):
        recruitee.verify({"x-recruitee-signature": value}, body, [secret])


def test_missing_signature_header_is_rejected():
    _, body, secret = delivery("candidate_moved_disqualified")
    with pytest.raises(SignatureError):
        recruitee.verify({}, body, [secret])


def test_uppercase_hex_signature_is_accepted():
    headers, body, secret = delivery("candidate_moved_disqualified")
    recruitee.verify({"x-recruitee-signature": headers["x-recruitee-signature"].upper()}, body, [secret])


def test_unsigned_setup_test_is_let_through_and_ignored():
    recruitee.verify({}, b'{"test":true}', ["secret"])
    assert recruitee.parse({}, b'{"test":true}', tenant="acme") == []


def test_unsigned_test_payload_carrying_an_event_is_let_through_but_parses_to_nothing():
    _, body, _ = delivery("candidate_moved_disqualified")
    test_payload = json.dumps({**json.loads(body), "test": True}).encode()
    recruitee.verify({}, test_payload, ["secret"])
    assert recruitee.parse({}, test_payload, tenant="acme") == []


@pytest.mark.parametrize("body", [b'{"test": false}', b'{"test": "true"}', b'[{"test": true}]', b'{"event_type": "candidate_moved"}'])
def test_other_unsigned_bodies_are_rejected(body):
    with pytest.raises(SignatureError):
        recruitee.verify({}, body, ["secret"])


def test_signed_test_with_a_wrong_signature_is_rejected():
    with pytest.raises(SignatureError):
        recruitee.verify({"x-recruitee-signature": "0" * 64}, b'{"test":true}', ["secret"])


def test_disqualification_parses_to_one_rejection():
    headers, body, _ = delivery("candidate_moved_disqualified")
    [event] = recruitee.parse(headers, body, tenant="acme")
    assert isinstance(event, RejectionEvent) and not event.by_candidate
    assert (event.person.vendor_person_id, event.application_id, event.job_id, event.job_title) == \
        ("48211907", "48211907:1520334", "1520334", "Customer Success Manager")
    assert (event.stage, event.reason) == ("Phone screen", "Not enough experience")
    assert event.occurred_at.isoformat() == "2024-11-21T10:15:42.123456+00:00"
    assert event.delivery_id == "7730112"
    assert (event.person.name, event.person.email, event.person.phone) == ("Jan de Vries", "jan.devries@example.com", "+31 6 12345678")


def test_requalification_reverts_the_same_application():
    [rejection] = recruitee.parse({}, delivery("candidate_moved_disqualified")[1], tenant="acme")
    [reverted] = recruitee.parse({}, delivery("candidate_moved_requalified")[1], tenant="acme")
    assert isinstance(reverted, RejectionRevertedEvent)
    assert (reverted.application_id, reverted.person.vendor_person_id) == (rejection.application_id, rejection.person.vendor_person_id)
    assert reverted.occurred_at.isoformat() == "2024-11-22T08:01:09+00:00"


def test_stage_change_and_test_request_parse_to_nothing():
    assert recruitee.parse({}, delivery("candidate_moved_stage_changed")[1], tenant="acme") == []
    assert recruitee.parse({}, delivery("test_request")[1], tenant="acme") == []


def test_disqualify_reason_as_plain_text_is_read():
    data = json.loads(delivery("candidate_moved_disqualified")[1])
    data["payload"]["details"]["disqualify_reason"] = "Withdrew"
    [event] = recruitee.parse({}, json.dumps(data).encode(), tenant="acme")
    assert event.reason == "Withdrew" and not event.by_candidate


@pytest.mark.parametrize("change", [
    lambda d: d.pop("created_at"),
    lambda d: d["payload"].pop("candidate"),
    lambda d: d["payload"]["candidate"].pop("id"),
    lambda d: d.update(payload=[]),
    lambda d: d.update(created_at="yesterday"),
    lambda d: d["payload"]["candidate"].update(emails=[{"a": 1}]),
])
def test_malformed_disqualification_is_a_payload_error(change):
    data = json.loads(delivery("candidate_moved_disqualified")[1])
    change(data)
    with pytest.raises(PayloadError):
        recruitee.parse({}, json.dumps(data).encode(), tenant="acme")


def test_unknown_event_type_parses_to_nothing():
    assert recruitee.parse({}, b'{"event_type": "candidate_created", "payload": {}}', tenant="acme") == []
