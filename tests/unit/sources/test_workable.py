"""Workable: deliveries signed with openssl (hex, the assumed encoding) verify and parse."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import HireEvent, RejectionEvent
from integrations.sources import workable
from tests.conftest import load_fixture, source_fixtures


def delivery(name: str):
    fx = load_fixture(f"sources/workable/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"]


def body_with(fixture: str, **changes) -> bytes:
    data = json.loads(delivery(fixture)[1])
    data["data"].update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize("name", source_fixtures("workable"))
def test_known_answer_signature_verifies(name):
    headers, body, secret = delivery(name)
    workable.verify(headers, body, [secret])


def test_sign_matches_the_known_answer():
    headers, body, secret = delivery("candidate_moved_disqualified")
    assert workable.sign(body, secret)["X-Workable-Signature"] == headers["x-workable-signature"]


def test_tampered_body_is_rejected():
    headers, body, secret = delivery("candidate_moved_disqualified")
    with pytest.raises(SignatureError):
        workable.verify(headers, body.replace(b'"disqualified": true', b'"disqualified": false'), [secret])


def test_wrong_secret_is_rejected():
    headers, body, _ = delivery("candidate_moved_disqualified")
    with pytest.raises(SignatureError):
        workable.verify(headers, body, ["another-account-token"])


def test_missing_signature_header_is_rejected():
    _, body, secret = delivery("candidate_moved_disqualified")
    with pytest.raises(SignatureError):
        workable.verify({}, body, [secret])


@pytest.mark.parametrize("value", ["", "  ", "sha256=abc", "zz", "é"])
def test_malformed_signature_header_is_rejected(value):
    _, body, secret = delivery("candidate_moved_disqualified")
    with pytest.raises(SignatureError):
        workable.verify({"x-workable-signature": value}, body, [secret])


def test_upper_case_hex_is_accepted():
    headers, body, secret = delivery("candidate_moved_disqualified")
    workable.verify({"x-workable-signature": headers["x-workable-signature"].upper()}, body, [secret])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret = delivery("candidate_moved_disqualified")
    workable.verify(headers, body, ["the-new-account-token", secret])


def test_disqualification_parses_to_a_rejection_at_the_disqualification_time():
    headers, body, _ = delivery("candidate_moved_disqualified")
    [event] = workable.parse(headers, body, tenant="acme")
    assert isinstance(event, RejectionEvent) and not event.by_candidate
    assert (event.person.vendor_person_id, event.application_id, event.delivery_id) == ("ce4da98", "ce4da98", "4a7f9c21")
    assert (event.job_id, event.job_title, event.stage) == ("GROOV005", "Office Manager", "Interview")
    assert event.reason == "Doesn't have required experience"
    assert event.occurred_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert (event.person.name, event.person.email, event.person.phone) == (
        "Lakita Marrero", "lakita_marrero@example.com", "+1 503 555 0142")
    assert (event.person.family_name, event.person.given_name) == ("Marrero", "Lakita")  # lastname, firstname


def test_a_candidate_who_withdrew_is_flagged():
    [event] = workable.parse({}, delivery("candidate_moved_withdrew")[1], tenant="acme")
    assert isinstance(event, RejectionEvent) and event.by_candidate
    assert (event.reason, event.stage) == ("Withdrew/declined interview", "Phone screen")


def test_a_move_to_hired_parses_to_a_hire_on_the_hire_date():
    [event] = workable.parse({}, delivery("candidate_moved_hired")[1], tenant="acme")
    assert isinstance(event, HireEvent)
    assert (event.person.vendor_person_id, event.occurred_at) == ("a02c7e1", datetime(2026, 11, 24, tzinfo=UTC))


def test_a_requalified_candidate_moving_on_parses_to_nothing():
    assert workable.parse({}, delivery("candidate_moved_requalified")[1], tenant="acme") == []


def test_the_same_rejection_seen_again_later_keeps_its_time():
    first = workable.parse({}, delivery("candidate_moved_disqualified")[1], tenant="acme")[0]
    later = workable.parse({}, body_with("candidate_moved_disqualified", updated_at="2026-12-01T00:00:00Z",
                                         stage="Assessment"), tenant="acme")[0]
    assert first.fact_key() == later.fact_key()


def test_without_a_disqualification_time_the_update_time_is_used():
    [event] = workable.parse({}, body_with("candidate_moved_disqualified", disqualified_at=None), tenant="acme")
    assert event.occurred_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_the_name_is_built_from_its_parts_when_missing():
    [event] = workable.parse({}, body_with("candidate_moved_disqualified", name=None), tenant="acme")
    assert event.person.name == "Lakita Marrero"


def test_unknown_event_parses_to_nothing():
    body = json.loads(delivery("candidate_moved_disqualified")[1])
    body["event_type"] = "candidate_created"
    assert workable.parse({}, json.dumps(body).encode(), tenant="acme") == []


@pytest.mark.parametrize("changes", [
    {"id": None}, {"disqualified": "yes"}, {"withdrew": 1},
    {"disqualified_at": "yesterday"}, {"disqualified_at": None, "updated_at": None},
    {"hired_at": "soon"}, {"job": {"shortcode": {"x": 1}}},
])
def test_malformed_known_events_are_payload_errors(changes):
    base = "candidate_moved_hired" if "hired_at" in changes else "candidate_moved_disqualified"
    with pytest.raises(PayloadError):
        workable.parse({}, body_with(base, **changes), tenant="acme")


@pytest.mark.parametrize("body", [b'{"event_type": "candidate_moved"}', b'{"event_type": "candidate_moved", "data": []}',
                                  b"[]", b"not json"])
def test_bodies_without_a_candidate_are_payload_errors(body):
    with pytest.raises(PayloadError):
        workable.parse({}, body, tenant="acme")
