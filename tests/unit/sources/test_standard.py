"""Standard Webhooks source: the spec's published vector, our fixtures, tampering, schema."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
from freezegun import freeze_time

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import ExitEvent, RejectionEvent
from integrations.sources import standard
from tests.conftest import load_fixture, source_fixtures

SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "events.schema.json").read_text())

# Published by the Standard Webhooks libraries' own tests (standard-webhooks/standard-webhooks, python/tests).
SPEC_VECTOR = {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
               "timestamp": 1614265330, "payload": b'{"test": 2432232314}',
               "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}


def spec_headers(**override):
    headers = {"webhook-id": SPEC_VECTOR["id"], "webhook-timestamp": str(SPEC_VECTOR["timestamp"]),
               "webhook-signature": SPEC_VECTOR["signature"]}
    return {**headers, **override}


def at(seconds: int):
    return freeze_time(datetime.fromtimestamp(seconds, tz=UTC))


def test_spec_vector_verifies():
    with at(SPEC_VECTOR["timestamp"] + 10):
        standard.verify(spec_headers(), SPEC_VECTOR["payload"], [SPEC_VECTOR["secret"]])


def test_sign_reproduces_the_spec_vector():
    moment = datetime.fromtimestamp(SPEC_VECTOR["timestamp"], tz=UTC)
    headers = standard.sign(SPEC_VECTOR["payload"], SPEC_VECTOR["secret"], now=moment, msg_id=SPEC_VECTOR["id"])
    assert headers["webhook-signature"] == SPEC_VECTOR["signature"]


def test_stale_timestamp_is_rejected():
    with at(SPEC_VECTOR["timestamp"] + 301), pytest.raises(SignatureError):
        standard.verify(spec_headers(), SPEC_VECTOR["payload"], [SPEC_VECTOR["secret"]])


def test_future_timestamp_is_rejected():
    with at(SPEC_VECTOR["timestamp"] - 301), pytest.raises(SignatureError):
        standard.verify(spec_headers(), SPEC_VECTOR["payload"], [SPEC_VECTOR["secret"]])


def test_tampered_body_and_id_are_rejected():
    with at(SPEC_VECTOR["timestamp"]):
        with pytest.raises(SignatureError):
            standard.verify(spec_headers(), b'{"test": 2432232315}', [SPEC_VECTOR["secret"]])
        with pytest.raises(SignatureError):
            standard.verify(spec_headers(**{"webhook-id": "msg_other"}), SPEC_VECTOR["payload"], [SPEC_VECTOR["secret"]])


def test_second_signature_in_header_is_accepted():
    with at(SPEC_VECTOR["timestamp"]):
        both = spec_headers(**{"webhook-signature": "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + SPEC_VECTOR["signature"]})
        standard.verify(both, SPEC_VECTOR["payload"], [SPEC_VECTOR["secret"]])


@pytest.mark.parametrize("signature", ["v1", "v1,", "v1,!!!", "nonsense", "v2,abc", ""])
def test_malformed_signature_is_a_signature_error(signature):
    with at(SPEC_VECTOR["timestamp"]), pytest.raises(SignatureError):
        standard.verify(spec_headers(**{"webhook-signature": signature}), SPEC_VECTOR["payload"], [SPEC_VECTOR["secret"]])


def test_previous_secret_is_accepted_during_rotation():
    with at(SPEC_VECTOR["timestamp"]):
        standard.verify(spec_headers(), SPEC_VECTOR["payload"], [standard.new_secret(), SPEC_VECTOR["secret"]])


@pytest.mark.parametrize("name", source_fixtures("standard"))
def test_fixtures_verify_with_their_openssl_signatures(name):
    fx = load_fixture(f"sources/standard/{name}")
    with freeze_time(fx["now"]):
        standard.verify({k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), [fx["secret"]])


@pytest.mark.parametrize("name", source_fixtures("standard"))
def test_fixtures_follow_the_published_schema(name):
    jsonschema.validate(json.loads(load_fixture(f"sources/standard/{name}")["body"]), SCHEMA)


def test_rejection_parses_with_the_delivery_id():
    fx = load_fixture("sources/standard/rejected")
    [event] = standard.parse({"webhook-id": "msg_1"}, fx["body"].encode(), tenant="acme")
    assert isinstance(event, RejectionEvent) and event.delivery_id == "msg_1"
    assert event.occurred_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert (event.stage, event.job_title, event.person.locale) == ("最終面接", "バックエンドエンジニア", "ja")


def test_exit_on_a_date_is_keyed_to_that_date():
    [event] = standard.parse({}, load_fixture("sources/standard/exited")["body"].encode(), tenant="acme")
    assert isinstance(event, ExitEvent) and event.occurred_at == datetime(2026, 12, 31, tzinfo=UTC)


def test_unknown_type_parses_to_nothing():
    assert standard.parse({}, load_fixture("sources/standard/unknown_type")["body"].encode(), tenant="acme") == []


@pytest.mark.parametrize("body", [
    b'{"type": "candidate.rejected"}',
    b'{"type": "candidate.rejected", "data": {"person": {}}}',
    b'{"type": "candidate.rejected", "data": {"person": {"id": "1"}, "occurred_at": "yesterday"}}',
    b'{"type": "candidate.rejected", "data": {"person": {"id": "1"}, "occurred_at": "2026-01-01", "by_candidate": "yes"}}',
    b'{"data": {}}', b'[]', b'not json',
])
def test_malformed_known_events_are_payload_errors(body):
    with pytest.raises(PayloadError):
        standard.parse({}, body, tenant="acme")


@pytest.mark.parametrize("body", [
    {"type": "candidate.rejected", "data": {"person": {}}},
    {"type": "candidate.rejected", "data": {"person": {"id": "1"}, "occurred_at": "2026-01-01", "by_candidate": "yes"}},
])
def test_schema_refuses_what_the_parser_refuses(body):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, SCHEMA)


def test_secret_format_is_checked_when_connecting():
    from chalicelib.domain.errors import BadRequest
    with pytest.raises(BadRequest):
        standard.check_secret("not base64 at all!")
    standard.check_secret(standard.new_secret())


def test_sign_uses_the_moment_given_in_any_zone():
    moment = datetime(2026, 11, 25, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    headers = standard.sign(b"{}", standard.new_secret(), now=moment)
    assert headers["webhook-timestamp"] == str(int(moment.timestamp()))
