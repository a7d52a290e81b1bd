"""POST /webhooks/{tenant}/{source} end to end through Chalice's test client and moto."""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.sources import greenhouse, lever, standard
from tests.conftest import ADMIN, connect, load_fixture

GH_SECRET = "gh-test-secret-7f3a"
STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EMAIL = "hector.porter.265788@example.com"


@pytest.fixture
def acme(client):
    connect(client, "acme", "greenhouse", GH_SECRET)
    connect(client, "acme", "standard", STD_SECRET)
    return client


def post(client, source, body: bytes, headers, tenant="acme"):
    return client.http.post(f"/webhooks/{tenant}/{source}", headers=headers, body=body)


def post_greenhouse(client, name="reject_candidate", tenant="acme", body=None):
    fx = load_fixture(f"sources/greenhouse/{name}")
    body = body if body is not None else fx["body"].encode()
    return post(client, "greenhouse", body, greenhouse.sign(body, GH_SECRET), tenant)


def std_message(kind, minutes, person="cand-9", application="app-1", **data):
    body = {"type": kind, "data": {"person": {"id": person, "name": "Test Person", "email": f"{person}@example.jp"},
                                   "application_id": application,
                                   "occurred_at": (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat(),
                                   **data}}
    return json.dumps(body).encode()


def post_standard(client, body: bytes, msg_id=None):
    return post(client, "standard", body, standard.sign(body, STD_SECRET, msg_id=msg_id))


def person_by_email(client, email, tenant="acme"):
    answer = client.http.get(f"/admin/tenants/{tenant}/people?email={email}", headers=ADMIN)
    assert answer.status_code == 200
    return answer.json_body["people"]


def test_signed_rejection_is_accepted_and_visible(acme):
    answer = post_greenhouse(acme)
    assert answer.status_code == 202
    assert answer.json_body == {"accepted": 1, "ignored": 0, "duplicates": 0}
    [person] = person_by_email(acme, "Hector.Porter.265788@EXAMPLE.com")
    assert person["roles"] == ["rejected"] and person["name"] == "Hector Porter"
    assert [e["type"] for e in person["timeline"]] == ["rejected"]
    assert person["timeline"][0] | {"job_title": "Designer", "reason": "Too Junior", "source": "greenhouse"} == person["timeline"][0]
    same = acme.http.get(f"/admin/tenants/acme/people/{person['id']}", headers=ADMIN).json_body
    assert {key: same[key] for key in person} == person  # the GET adds identities and suggested merges
    assert (same["identities"], same["suggested_merges"]) == (["greenhouse:265788"], [])


def test_the_same_delivery_five_times_is_one_fact(acme, hub):
    answers = [post_greenhouse(acme) for _ in range(5)]
    assert [a.status_code for a in answers] == [202] * 5
    assert [a.json_body["duplicates"] for a in answers] == [0, 1, 1, 1, 1]
    [person] = person_by_email(acme, EMAIL)
    assert len(person["timeline"]) == 1
    assert hub.ports.counters.totals("acme")["events.rejected"] == 1
    assert hub.ports.counters.totals("acme")["people.role.rejected"] == 1


def test_the_same_fact_under_new_delivery_ids_is_one_fact(acme, hub):
    body = std_message("candidate.rejected", 5)
    for i in range(3):
        assert post_standard(acme, body, msg_id=f"msg_{i}").json_body["duplicates"] == (0 if i == 0 else 1)
    # re-serialised by the vendor: other bytes, same fact
    reformatted = json.dumps(json.loads(body), indent=2).encode()
    assert post_standard(acme, reformatted).json_body["duplicates"] == 1
    assert len(person_by_email(acme, "cand-9@example.jp")[0]["timeline"]) == 1
    assert hub.ports.counters.totals("acme")["events.rejected"] == 1


@pytest.mark.parametrize("seed", range(6))
def test_shuffled_reject_unreject_reject_replay_converges(acme, hub, seed):
    facts = [std_message("candidate.rejected", 1), std_message("candidate.rejection_reverted", 2),
             std_message("candidate.rejected", 3)]
    deliveries = [(body, f"msg_{i}") for i, body in enumerate(facts)] * 3  # each delivered three times
    random.Random(seed).shuffle(deliveries)
    for body, msg_id in deliveries:
        assert post_standard(acme, body, msg_id).status_code == 202
    [person] = person_by_email(acme, "cand-9@example.jp")
    assert [e["type"] for e in person["timeline"]] == ["rejected", "rejection_reverted", "rejected"]
    assert person["roles"] == ["rejected"]
    counters = hub.ports.counters.totals("acme")
    assert (counters["events.rejected"], counters["events.rejection_reverted"]) == (2, 1)
    assert counters["people.role.rejected"] == 1 and counters.get("people.role.applicant", 0) == 0


def test_unreject_arriving_last_leaves_an_applicant(acme):
    for body in (std_message("candidate.rejected", 1), std_message("candidate.rejection_reverted", 2)):
        post_standard(acme, body)
    assert person_by_email(acme, "cand-9@example.jp")[0]["roles"] == ["applicant"]


def test_the_same_human_from_two_sources_is_one_person(acme):
    post_greenhouse(acme)
    body = json.dumps({"type": "candidate.applied", "data": {"person": {"id": "x-1", "email": "ＨＥＣＴＯＲ.porter.265788@example.com"},
                                                            "application_id": "x-app", "occurred_at": "2026-02-01"}}).encode()
    assert post_standard(acme, body).status_code == 202
    [person] = person_by_email(acme, EMAIL)
    assert person["roles"] == ["applicant", "rejected"]
    assert [e["source"] for e in person["timeline"]] == ["greenhouse", "standard"]


def test_ping_and_unknown_types_are_acknowledged_and_ignored(acme):
    assert post_greenhouse(acme, "ping").json_body == {"accepted": 0, "ignored": 1, "duplicates": 0}
    body = load_fixture("sources/standard/unknown_type")["body"].encode()
    assert post_standard(acme, body).status_code == 202


def test_each_tenant_sees_only_its_people(acme):
    connect(acme, "other", "greenhouse", "other-tenant-secret")
    post_greenhouse(acme)
    assert person_by_email(acme, EMAIL, tenant="other") == []
    assert post_greenhouse(acme, tenant="other").status_code == 401  # signed with acme's secret


def test_rotated_secret_keeps_the_previous_one_valid_for_retries(acme):
    connect(acme, "acme", "greenhouse", "gh-rotated-secret-2")
    assert post_greenhouse(acme).status_code == 202  # signed with the old secret: a retry in flight
    fx = load_fixture("sources/greenhouse/new_candidate_application")
    body = fx["body"].encode()
    assert post(acme, "greenhouse", body, greenhouse.sign(body, "gh-rotated-secret-2")).status_code == 202


# -- refusals: clear 4xx, JSON, nothing lost ------------------------------------------------------

def error_of(answer):
    assert answer.headers["Content-Type"] == "application/json"
    return answer.status_code, answer.json_body["error"]


def test_wrong_signature_is_401(acme):
    fx = load_fixture("sources/greenhouse/reject_candidate")
    answer = post(acme, "greenhouse", fx["body"].encode(), {"Signature": "sha256 " + "0" * 64})
    assert error_of(answer) == (401, "invalid_signature")
    assert error_of(post(acme, "greenhouse", fx["body"].encode(), {})) == (401, "invalid_signature")
    assert person_by_email(acme, EMAIL) == []


def test_malformed_json_signed_correctly_is_400(acme):
    body = b'{"action": "reject_candidate", "payload": '
    assert error_of(post(acme, "greenhouse", body, greenhouse.sign(body, GH_SECRET))) == (400, "malformed_payload")


def test_unknown_source_and_tenant_answer_exactly_like_a_bad_signature(acme):
    fx = load_fixture("sources/greenhouse/reject_candidate")
    body = fx["body"].encode()
    forged = greenhouse.sign(body, "not-the-tenant-secret")
    bad_signature = post(acme, "greenhouse", body, forged)
    assert error_of(bad_signature) == (401, "invalid_signature")
    for source, tenant in (("nosuchvendor", "acme"), ("greenhouse", "nobody"), ("greenhouse", "Bad_Tenant!"),
                           ("lever", "acme")):  # lever: a registered source acme has not connected
        answer = post(acme, source, body, forged, tenant=tenant)
        assert (answer.status_code, answer.body, answer.headers["Content-Type"]) == \
            (bad_signature.status_code, bad_signature.body, bad_signature.headers["Content-Type"]), (source, tenant)


@pytest.fixture
def secrets_reads(monkeypatch):
    """GetSecretValue calls made by botocore clients built from now on (a botocore event hook)."""
    import boto3
    from botocore import handlers

    from chalicelib import wiring

    calls: list[str] = []
    hook = ("before-parameter-build.secrets-manager.GetSecretValue", lambda params, **_: calls.append(params["SecretId"]))
    monkeypatch.setattr(handlers, "BUILTIN_HANDLERS", [*handlers.BUILTIN_HANDLERS, hook])
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # the adapters' clients come from boto3's default session
    wiring.reset()  # a new container: nothing cached, a new client with the hook
    return calls


@pytest.mark.parametrize("tenant", ["acme", "nobody"])
def test_twenty_bad_deliveries_cost_at_most_one_secrets_manager_read(acme, secrets_reads, tenant):
    fx = load_fixture("sources/greenhouse/reject_candidate")
    body = fx["body"].encode()
    for _ in range(20):
        assert post(acme, "greenhouse", body, greenhouse.sign(body, "not-the-tenant-secret"), tenant=tenant).status_code == 401
    assert secrets_reads == [f"relations-hub/test/{tenant}/sources/greenhouse"]  # found or not, kept a minute
    if tenant == "acme":
        assert post_greenhouse(acme).status_code == 202  # the genuine delivery still verifies, on the kept copy
        assert len(secrets_reads) == 1


def test_revoke_previous_ends_the_old_secret_at_once(acme):
    answer = acme.http.put("/admin/tenants/acme/sources/greenhouse", headers={**ADMIN, "Content-Type": "application/json"},
                           body=json.dumps({"webhook_secret": "gh-rotated-secret-2", "revoke_previous": True}))
    assert answer.status_code == 200, answer.body
    assert error_of(post_greenhouse(acme)) == (401, "invalid_signature")  # signed with the old secret: no grace
    fx = load_fixture("sources/greenhouse/new_candidate_application")
    body = fx["body"].encode()
    assert post(acme, "greenhouse", body, greenhouse.sign(body, "gh-rotated-secret-2")).status_code == 202


def test_body_over_one_mebibyte_is_413(acme):
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert error_of(post(acme, "greenhouse", body, greenhouse.sign(body, GH_SECRET))) == (413, "payload_too_large")


def test_a_valid_delivery_after_bad_ones_is_kept(acme):
    fx = load_fixture("sources/greenhouse/reject_candidate")
    post(acme, "greenhouse", fx["body"].encode(), {"Signature": "sha256 bad"})
    post(acme, "greenhouse", b"not json", greenhouse.sign(b"not json", GH_SECRET))
    assert post_greenhouse(acme).json_body["duplicates"] == 0
    assert len(person_by_email(acme, EMAIL)) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(source=st.sampled_from(["greenhouse", "standard", "unknown"]), tenant=st.sampled_from(["acme", "nobody"]),
       body=st.binary(max_size=512),
       headers=st.dictionaries(st.sampled_from(["Signature", "webhook-id", "webhook-timestamp", "webhook-signature", "X-Other"]),
                               st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80), max_size=4))
def test_arbitrary_requests_get_only_4xx(acme, source, tenant, body, headers):
    answer = post(acme, source, body, {"Content-Type": "application/json", **headers}, tenant=tenant)
    assert 400 <= answer.status_code < 500
    assert set(answer.json_body) == {"error", "message"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.binary(max_size=512))
def test_arbitrary_correctly_signed_bodies_get_202_or_400(acme, body):
    answer = post(acme, "greenhouse", body, greenhouse.sign(body, GH_SECRET))
    assert answer.status_code in (202, 400)


# -- Lever's replay signature: the local stage only -----------------------------------------------------

def lever_replay(name: str):
    """A recorded Lever delivery re-signed with the hub's replay header (no time window)."""
    fx = load_fixture(f"sources/lever/{name}")
    body = fx["body"].encode()
    return fx["secret"], body, lever.sign(body, fx["secret"])


def test_lever_replay_signature_is_refused_outside_the_local_stage(client):
    secret, body, headers = lever_replay("candidateHired_test_request")  # Lever signed it in 2015
    connect(client, "acme", "lever", secret)
    assert error_of(post(client, "lever", body, headers)) == (401, "invalid_signature")  # stage "test": like AWS


def test_lever_replay_signature_is_accepted_in_the_local_stage(client, monkeypatch):
    from chalicelib import wiring

    monkeypatch.setenv("HUB_STAGE", "local")  # make run
    wiring.reset()
    secret, body, headers = lever_replay("candidateHired_test_request")
    connect(client, "acme", "lever", secret)
    assert post(client, "lever", body, headers).status_code == 202


def test_a_lone_surrogate_in_a_name_signed_correctly_is_400_and_stores_nothing(acme):
    body = std_message("candidate.rejected", 1, person="cand-s", name="山田\ud800")
    body = body.replace(b'"Test Person"', b'"\\u5c71\\u7530\\ud800"')
    answer = post_standard(acme, body)
    assert error_of(answer) == (400, "malformed_payload") and "\ud800" not in answer.body.decode("utf-8", "replace")
    assert person_by_email(acme, "cand-s@example.jp") == []


@pytest.mark.parametrize("field", ["person.id", "application_id", "person.email", "person.name"])
def test_control_characters_in_a_name_an_address_or_an_id_are_400(acme, field):
    doc = json.loads(std_message("candidate.rejected", 1, person="cand-c"))
    where, key = (doc["data"]["person"], field.split(".")[1]) if "." in field else (doc["data"], field)
    where[key] = where[key][:3] + "\x00\x1b" + where[key][3:]
    assert error_of(post_standard(acme, json.dumps(doc).encode())) == (400, "malformed_payload")


def test_data_that_storage_refuses_is_answered_422_unstorable_without_the_data_and_not_retried(acme, monkeypatch):
    from pynamodb.connection.base import Connection
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    calls = []

    def refused(self, *args, **kwargs):  # DynamoDB cancels the transaction: one item fails validation
        calls.append(1)
        cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "Test Person"}},
                                   "TransactWriteItems", cancellation_reasons=[None, CancellationReason(code="ValidationError")])
        raise TransactWriteError("Failed to write transaction items", cause)

    monkeypatch.setattr(Connection, "transact_write_items", refused)
    answer = post_standard(acme, std_message("candidate.rejected", 1, person="cand-big"))
    assert error_of(answer) == (422, "unstorable")
    assert "Test Person" not in answer.body.decode() and "cand-big" not in answer.body.decode()
    assert len(calls) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.one_of(st.text(st.characters(exclude_categories=()), max_size=30),
                      st.sampled_from(["\ud800", "a\udfffb", "\x00", "x\ny", "\u2028", "\x7f"])),
       field=st.sampled_from(["person.id", "person.name", "person.email", "application_id", "job_title", "stage"]))
def test_any_string_in_a_name_or_id_of_a_signed_delivery_gets_202_or_400_never_5xx(acme, text, field):
    doc = json.loads(std_message("candidate.rejected", 1, person="cand-h", job_title="Designer", stage="interview"))
    where, key = (doc["data"]["person"], field.split(".")[1]) if "." in field else (doc["data"], field)
    where[key] = text
    answer = post_standard(acme, json.dumps(doc).encode())
    assert answer.status_code in (202, 400), (answer.status_code, answer.body)
