"""Lever: body-signed deliveries (signatures computed independently with openssl), thin notices,
and fetch() against a real local HTTP server playing the Lever API."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import HireEvent, Lookup, RejectionEvent, RejectionRevertedEvent
from integrations.http import VendorApi
from integrations.sources import lever
from tests.conftest import load_fixture, source_fixtures
from tests.loopback import LOOPBACK

OPPORTUNITY = "250d8f03-738a-4bba-a671-8a3d73477145"
HIRED_OPPORTUNITY = "3410c8b9-5c31-4bab-b7e9-9f710206d647"
REASON = "63dd55b2-a99f-4e7b-985f-22c7bf80ab42"
HIRED_REASON = "e3d1a3c5-0b7f-4c2e-9d6a-2f4b8c1e7a90"
POSTING = "f2f01e16-27f8-4711-a728-7d49499795a0"
BASIC = "Basic " + base64.b64encode(b"k:").decode()


def delivery(name: str):
    fx = load_fixture(f"sources/lever/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"], fx["now"]


def api_body(name: str) -> dict:
    return load_fixture(f"sources/lever/api/{name}")["body"]


def body_with(name: str, **changes) -> bytes:
    data = json.loads(delivery(name)[1])
    data.update(changes)
    return json.dumps(data).encode()


# -- signatures -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", source_fixtures("lever"))
def test_known_answer_signature_verifies(name):
    headers, body, secret, now = delivery(name)
    with freeze_time(now):
        lever.verify(headers, body, [secret])


def test_body_signature_matches_the_openssl_known_answer():
    _, body, secret, _ = delivery("candidateArchiveChange")
    data = json.loads(body)
    assert lever.body_signature(data["token"], data["triggeredAt"], secret) == data["signature"]


def test_tampered_body_is_rejected():
    headers, _, secret, now = delivery("candidateArchiveChange")
    triggered = json.loads(delivery("candidateArchiveChange")[1])["triggeredAt"]
    with freeze_time(now):
        with pytest.raises(SignatureError):
            lever.verify(headers, body_with("candidateArchiveChange", triggeredAt=triggered + 1), [secret])
        with pytest.raises(SignatureError):
            lever.verify(headers, body_with("candidateArchiveChange", token="x" * 48), [secret])


def test_data_is_not_signed_by_lever_so_only_a_replay_signature_covers_it():
    headers, body, secret, now = delivery("candidateArchiveChange")
    forged = body.replace(OPPORTUNITY.encode(), b"00000000-0000-0000-0000-000000000000")
    with freeze_time(now):
        lever.verify(headers, forged, [secret])  # Lever's scheme: fetch() rereads the truth from the API
        replay = lever.sign(body, secret)
        with pytest.raises(SignatureError):
            lever.LOCAL.verify({k.lower(): v for k, v in replay.items()}, forged, [secret])


def test_sign_round_trips_through_the_replay_header_whatever_the_age_in_the_local_stage():
    _, body, secret, _ = delivery("candidateHired_test_request")  # 2015: far outside Lever's window
    headers = {k.lower(): v for k, v in lever.sign(body, secret).items()}
    assert headers["x-hub-replay-signature"].startswith("sha256=")
    lever.LOCAL.verify(headers, body, [secret])


def test_outside_the_local_stage_the_replay_header_counts_for_nothing():
    _, old_body, secret, _ = delivery("candidateHired_test_request")
    replayed = {k.lower(): v for k, v in lever.sign(old_body, secret).items()}  # a captured delivery, replayed
    with pytest.raises(SignatureError):
        lever.verify(replayed, old_body, [secret])  # only Lever's body signature counts, and it is years old
    headers, body, secret, now = delivery("candidateArchiveChange")
    with freeze_time(now):
        lever.verify({**headers, "x-hub-replay-signature": "sha256=" + "0" * 64}, body, [secret])  # not read
        with pytest.raises(SignatureError):
            lever.verify({k.lower(): v for k, v in lever.sign(b'{"event": "candidateHired"}', secret).items()},
                         b'{"event": "candidateHired"}', [secret])


@pytest.mark.parametrize("value", ["", "sha256", "sha1=abc", "sha256=zz", "md5"])
def test_malformed_replay_header_is_rejected(value):
    _, body, secret, now = delivery("candidateArchiveChange")
    with freeze_time(now), pytest.raises(SignatureError):
        lever.LOCAL.verify({"x-hub-replay-signature": value}, body, [secret])


def test_stale_timestamp_is_rejected():
    headers, body, secret, now = delivery("candidateArchiveChange")
    later = datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(days=14, minutes=1)
    with freeze_time(later), pytest.raises(SignatureError):
        lever.verify(headers, body, [secret])


def test_a_rerun_within_two_weeks_is_accepted():
    headers, body, secret, now = delivery("candidateArchiveChange")
    with freeze_time(datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(days=13)):
        lever.verify(headers, body, [secret])


def test_future_timestamp_is_rejected():
    headers, body, secret, now = delivery("candidateArchiveChange")
    earlier = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(minutes=7)
    with freeze_time(earlier), pytest.raises(SignatureError):
        lever.verify(headers, body, [secret])


def test_wrong_secret_is_rejected():
    headers, body, _, now = delivery("candidateArchiveChange")
    with freeze_time(now), pytest.raises(SignatureError):
        lever.verify(headers, body, ["another-token"])


@pytest.mark.parametrize("change", [{"signature": None}, {"token": None}, {"triggeredAt": None},
                                    {"triggeredAt": True}, {"triggeredAt": 1.5e12}, {"triggeredAt": "soon"},
                                    {"signature": ""}, {"token": 42}])
def test_missing_or_malformed_signature_fields_are_rejected(change):
    headers, _, secret, now = delivery("candidateArchiveChange")
    with freeze_time(now), pytest.raises(SignatureError):
        lever.verify(headers, body_with("candidateArchiveChange", **change), [secret])


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_no_json_object_is_rejected(body):
    with pytest.raises(SignatureError):
        lever.verify({}, body, ["token"])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret, now = delivery("candidateArchiveChange")
    with freeze_time(now):
        lever.verify(headers, body, ["the-regenerated-token", secret])


def test_one_secret_may_hold_the_tokens_of_several_webhooks():
    headers, body, secret, now = delivery("candidateArchiveChange")
    with freeze_time(now):
        lever.verify(headers, body, [f"hired-webhook-token {secret}"])


# -- notices ----------------------------------------------------------------------------------

def test_archive_parses_to_a_lookup_of_the_opportunity_with_the_archive_time_and_reason():
    headers, body, _, _ = delivery("candidateArchiveChange")
    [notice] = lever.parse(headers, body, tenant="acme")
    assert isinstance(notice, Lookup)
    assert (notice.source, notice.resource, notice.resource_id, notice.hint) == ("lever", "opportunity", OPPORTUNITY, "rejected")
    assert notice.delivery_id == "5c3a6f52-8e0d-4f8e-9a61-0c1f2b7d4e90"
    assert notice.occurred_at == datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    assert notice.get("archive_reason") == REASON


def test_unarchive_parses_to_a_reversal_lookup_keyed_by_the_token():
    headers, body, _, _ = delivery("candidateArchiveChange_unarchived")
    [notice] = lever.parse(headers, body, tenant="acme")
    assert (notice.hint, notice.resource_id, notice.get("archive_reason")) == ("rejection_reverted", OPPORTUNITY, REASON)
    assert notice.delivery_id == "0f9e8d7c6b5a49382716f5e4d3c2b1a0ffeeddccbbaa9988"
    assert notice.occurred_at == datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def test_hire_parses_to_a_hire_lookup_at_the_trigger_time():
    [notice] = lever.parse({}, delivery("candidateHired")[1], tenant="acme")
    assert (notice.hint, notice.resource_id) == ("hired", HIRED_OPPORTUNITY)
    assert notice.occurred_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_the_settings_page_test_request_parses_to_nothing():
    assert lever.parse({}, delivery("candidateHired_test_request")[1], tenant="acme") == []


def test_stage_changes_are_not_used():
    assert lever.parse({}, delivery("candidateStageChange")[1], tenant="acme") == []


def test_an_archive_notice_without_an_id_uses_the_deprecated_candidate_id():
    data = json.loads(delivery("candidateArchiveChange")[1])
    del data["data"]["opportunityId"]
    [notice] = lever.parse({}, json.dumps(data).encode(), tenant="acme")
    assert notice.resource_id == OPPORTUNITY


@pytest.mark.parametrize("change", [
    {"data": None}, {"data": []}, {"data": {"toArchived": None}},
    {"data": {"opportunityId": OPPORTUNITY}},
    {"data": {"opportunityId": OPPORTUNITY, "toArchived": "yes"}},
    {"data": {"opportunityId": OPPORTUNITY, "toArchived": {"archivedAt": "yesterday"}}},
    {"triggeredAt": None}, {"triggeredAt": 10 ** 400}, {"triggeredAt": "1" * 400}, {"triggeredAt": "²"},
])
def test_malformed_known_events_are_payload_errors(change):
    with pytest.raises(PayloadError):
        lever.parse({}, body_with("candidateArchiveChange", **change), tenant="acme")


def test_unknown_event_parses_to_nothing():
    assert lever.parse({}, body_with("candidateArchiveChange", event="interviewCreated"), tenant="acme") == []


# -- fetch against a local server playing the Lever API ----------------------------------------

def api(httpserver, timeout=(2.0, 2.0)) -> VendorApi:
    return VendorApi(egress=LOOPBACK, vendor=lever.NAME,
                     base_url=httpserver.url_for("/v1"), headers=lever.auth_headers("k"), timeout=timeout)


def notice(name: str) -> Lookup:
    [lookup] = lever.parse({}, delivery(name)[1], tenant="acme")
    return lookup


def expect_opportunity(httpserver, opportunity: str, body: dict):
    httpserver.expect_request(f"/v1/opportunities/{opportunity}", method="GET", headers={"Authorization": BASIC},
                              query_string="expand=applications&expand=stage").respond_with_json(body)


def expect_get(httpserver, path: str, body: dict):
    httpserver.expect_request(path, method="GET", headers={"Authorization": BASIC}).respond_with_json(body)


def test_fetch_turns_a_non_hired_archive_into_a_rejection(httpserver):
    expect_opportunity(httpserver, OPPORTUNITY, api_body("opportunity_archived"))
    expect_get(httpserver, f"/v1/archive_reasons/{REASON}", api_body("archive_reason_underqualified"))
    expect_get(httpserver, f"/v1/postings/{POSTING}", api_body("posting"))
    [event] = lever.fetch(notice("candidateArchiveChange"), api(httpserver))
    assert isinstance(event, RejectionEvent) and not event.by_candidate
    assert (event.person.vendor_person_id, event.application_id) == ("7f23e772-f2cb-4ebb-b33f-54b872999992", OPPORTUNITY)
    assert (event.person.name, event.person.email, event.person.phone) == ("Shane Smith", "shane@exampleq3.com", "(123) 456-7891")
    assert (event.job_id, event.job_title, event.stage, event.reason) == (
        POSTING, "Customer Success Manager", "Phone screen", "Underqualified")
    assert event.occurred_at == datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    assert event.delivery_id == "5c3a6f52-8e0d-4f8e-9a61-0c1f2b7d4e90"
    httpserver.check_assertions()


def test_fetch_of_an_archive_as_hired_gives_nothing(httpserver):
    expect_opportunity(httpserver, OPPORTUNITY, api_body("opportunity_archived"))
    expect_get(httpserver, f"/v1/archive_reasons/{REASON}", api_body("archive_reason_hired"))
    assert lever.fetch(notice("candidateArchiveChange"), api(httpserver)) == []


def test_fetch_of_an_opportunity_unarchived_since_gives_nothing(httpserver):
    expect_opportunity(httpserver, OPPORTUNITY, api_body("opportunity_active"))
    assert lever.fetch(notice("candidateArchiveChange"), api(httpserver)) == []


def test_fetch_of_a_deleted_opportunity_gives_nothing(httpserver):
    httpserver.expect_request(f"/v1/opportunities/{OPPORTUNITY}").respond_with_json({"code": "ResourceNotFound"}, status=404)
    assert lever.fetch(notice("candidateArchiveChange"), api(httpserver)) == []


def test_fetch_turns_a_hire_into_a_hire_at_the_archive_time(httpserver):
    expect_opportunity(httpserver, HIRED_OPPORTUNITY, api_body("opportunity_hired"))
    expect_get(httpserver, f"/v1/archive_reasons/{HIRED_REASON}", api_body("archive_reason_hired"))
    expect_get(httpserver, f"/v1/postings/{POSTING}", api_body("posting"))
    [event] = lever.fetch(notice("candidateHired"), api(httpserver))
    assert isinstance(event, HireEvent)
    assert (event.application_id, event.person.vendor_person_id) == (HIRED_OPPORTUNITY, "05c248f9-ccb1-435f-bab5-0ec608aec263")
    assert event.occurred_at == datetime(2026, 11, 24, 7, 59, 58, tzinfo=UTC)


def test_fetch_turns_an_unarchive_of_a_rejection_into_a_reversal(httpserver):
    expect_opportunity(httpserver, OPPORTUNITY, api_body("opportunity_active"))
    expect_get(httpserver, f"/v1/archive_reasons/{REASON}", api_body("archive_reason_underqualified"))
    [event] = lever.fetch(notice("candidateArchiveChange_unarchived"), api(httpserver))
    assert isinstance(event, RejectionRevertedEvent)
    assert (event.application_id, event.occurred_at) == (OPPORTUNITY, datetime(2026, 11, 22, 14, 0, tzinfo=UTC))
    assert event.job_id is None  # the opportunity was fetched without expanded applications


def test_fetch_of_an_unarchive_of_a_hire_gives_nothing(httpserver):
    expect_opportunity(httpserver, OPPORTUNITY, api_body("opportunity_active"))
    expect_get(httpserver, f"/v1/archive_reasons/{REASON}", api_body("archive_reason_hired"))
    assert lever.fetch(notice("candidateArchiveChange_unarchived"), api(httpserver)) == []


def test_fetch_keeps_ids_from_reshaping_the_path(httpserver):
    lookup = Lookup(tenant="acme", source="lever", resource="opportunity", resource_id="../users", hint="rejected",
                    occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
    httpserver.expect_request("/v1/opportunities/../users").respond_with_json({}, status=404)  # the server decodes %2F
    assert lever.fetch(lookup, api(httpserver)) == []
    assert "..%2Fusers" in httpserver.log[0][0].environ["REQUEST_URI"]


def test_fetch_of_an_answer_without_data_is_a_payload_error(httpserver):
    expect_opportunity(httpserver, OPPORTUNITY, {"unexpected": True})
    with pytest.raises(PayloadError):
        lever.fetch(notice("candidateArchiveChange"), api(httpserver))


def test_auth_is_basic_with_the_key_and_an_empty_password():
    assert lever.auth_headers("k") == {"Authorization": BASIC}
