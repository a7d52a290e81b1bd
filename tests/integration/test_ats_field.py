"""Issue 19: the `ats_field` delivery against a loopback Harvest API (a real HTTP server on
127.0.0.1 that records every PATCH and answers Greenhouse's documented errors; see
tests/fixtures/harvest/README.md), on moto, the writeback queue drained as Lambda would."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug import Response

from integrations.sources import greenhouse
from tests.conftest import ADMIN, SETTINGS, connect, drain, load_fixture, sent_mail

SECRET = "gh-test-secret-7f3a"
KEY = "harvest-key"
JSON = {**ADMIN, "Content-Type": "application/json"}
DELIVERY = {"mode": "ats_field", "field": "career_relay_link", "on_behalf_of": "92120"}
CANDIDATE = "60304594"
BASIC = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()


def put_source(client, body, source="greenhouse"):
    return client.http.put(f"/admin/tenants/acme/sources/{source}", headers=JSON, body=json.dumps(body))


@pytest.fixture
def harvest(client, httpserver, loopback_egress):
    """acme's Greenhouse with a Harvest key pointing at the loopback server, in ats_field mode."""
    answer = put_source(client, {"webhook_secret": SECRET, "api_key": KEY, "api_base_url": httpserver.url_for("/"),
                                 "delivery": DELIVERY})
    assert answer.status_code == 200, answer.body
    client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps(SETTINGS))
    drain()  # the backfill queued on the switch: an empty candidate list
    httpserver.clear()
    return client


def delivery(action: str, *, at: datetime | None = None) -> bytes:
    body = json.loads(load_fixture("sources/greenhouse/new_candidate_application")["body"])
    application = body["payload"]["application"]
    when = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    application.update(applied_at=when, last_activity_at=when)
    body["action"] = action
    if action == "reject_candidate":
        application.update(status="rejected", rejected_at=when,
                           rejection_reason={"id": 8, "name": "Lacking skill(s)", "type": {"id": 1, "name": "We rejected them"}})
    return json.dumps(body).encode()


def post(client, body: bytes, event_id: str):
    return client.http.post("/webhooks/acme/greenhouse", body=body,
                            headers={**greenhouse.sign(body, SECRET), "Greenhouse-Event-ID": event_id})


def patches(httpserver) -> list:
    return [(request, json.loads(request.data)) for request, _ in httpserver.log if request.method == "PATCH"]


def status(client):
    return client.http.get("/admin/tenants/acme/sources/greenhouse", headers=ADMIN).json_body


def test_a_new_application_gets_one_patch_with_its_link_replays_add_none_and_the_rejection_sends_no_hub_mail(harvest, httpserver):
    httpserver.expect_request(f"/v1/candidates/{CANDIDATE}", method="PATCH").respond_with_json({"id": int(CANDIDATE)})
    body = delivery("new_candidate_application")
    assert post(harvest, body, "e1").status_code == 202
    assert not patches(httpserver)  # never on the webhook's request path
    drain()
    assert post(harvest, body, "e1").status_code == 202  # the same delivery replayed
    drain()
    written = patches(httpserver)
    assert len(written) == 1
    request, sent = written[0]
    assert request.headers["On-Behalf-Of"] == "92120" and request.headers["Authorization"] == BASIC
    [field] = sent["custom_fields"]
    assert field["name_key"] == "career_relay_link" and "/r/" in field["value"]

    assert post(harvest, delivery("reject_candidate"), "e2").status_code == 202
    drain()
    assert sent_mail() == []  # the ATS mails the rejection; the hub does not

    token = field["value"].split("/r/", 1)[1]
    page = harvest.http.get(f"/r/{token}")
    assert page.status_code == 200 and "form" in page.body.decode()
    assert export_links(harvest, "person@work.com") == [("relay", "ats_field")]


def export_links(client, email: str) -> list[tuple[str, str]]:
    """(purpose, channel) of the links the person's export shows."""
    people = client.http.get(f"/admin/tenants/acme/people?email={email}", headers=ADMIN).json_body["people"]
    assert len(people) == 1, people
    exported = client.http.get(f"/admin/tenants/acme/people/{people[0]['id']}/export", headers=ADMIN).json_body
    return [(link["purpose"], link["channel"]) for link in exported["links"]]


def table_text() -> str:
    """Every item of the hub's table, as text (a scan: tests only)."""
    import os

    import boto3
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=os.environ["HUB_TABLE"])
    return "\n".join(json.dumps(item, ensure_ascii=False) for page in pages for item in page["Items"])


def standard_rejection(person: str, application: str) -> bytes:
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": person, "name": "候補者", "email": f"{person}@example.jp"},
        "application_id": application, "occurred_at": at, "job": {"id": "j", "title": "エンジニア"}}}).encode()


def rotate_link_key() -> None:
    """A new value of the platform's link key, seen by a new container (the cache of the old one lapses)."""
    import os
    import secrets

    import boto3

    from chalicelib import wiring
    name = f"{os.environ.get('HUB_SECRETS_PREFIX', 'relations-hub/test')}/link-key"
    boto3.client("secretsmanager").put_secret_value(SecretId=name, SecretString=json.dumps({"key": secrets.token_urlsafe(48)}))
    wiring.reset()


def test_no_raw_link_token_or_link_is_at_rest_and_a_replay_answers_the_same_link(harvest, httpserver):
    """docs/security.md, "No raw link token at rest": the ATS field's link and the standard answer's
    link are computed (a MAC under the platform's link key); the table keeps their hashes only."""
    from integrations.sources import standard
    from tests.integration.conftest import SECRET as STANDARD_SECRET

    httpserver.expect_request(f"/v1/candidates/{CANDIDATE}", method="PATCH").respond_with_json({"id": int(CANDIDATE)})
    assert post(harvest, delivery("new_candidate_application"), "e1").status_code == 202
    drain()
    [(_, sent)] = patches(httpserver)
    field_link = sent["custom_fields"][0]["value"]
    connect(harvest, "acme", "standard", STANDARD_SECRET)
    assert put_source(harvest, {"delivery": {"mode": "ats_field"}}, "standard").status_code == 200
    body = standard_rejection("c-9", "a-9")
    first = harvest.http.post("/webhooks/acme/standard", headers=standard.sign(body, STANDARD_SECRET), body=body)
    answered = first.json_body["links"]["a-9"]
    drain()

    text = table_text()
    for link in (field_link, answered):
        token = link.split("/r/", 1)[1]
        assert token.startswith("acme.") and len(token) > 40
        assert link not in text and token not in text and token.split(".", 1)[1] not in text  # (a)

    again = harvest.http.post("/webhooks/acme/standard", headers=standard.sign(body, STANDARD_SECRET), body=body)
    assert again.json_body["links"] == {"a-9": answered}  # (b)
    page = harvest.http.get(f"/r/{answered.split('/r/', 1)[1]}")
    assert page.status_code == 200 and "form" in page.body.decode()  # (c)
    assert export_links(harvest, "c-9@example.jp") == [("relay", "standard_answer")]
    assert export_links(harvest, "person@work.com") == [("relay", "ats_field")]


def test_a_rotated_link_key_changes_new_links_and_the_old_ones_still_open(acme):
    """(d): the table keeps the old links' hashes, so they resolve until they expire."""
    from integrations.sources import standard
    from tests.integration.conftest import SECRET as STANDARD_SECRET

    assert put_source(acme, {"delivery": {"mode": "ats_field"}}, "standard").status_code == 200
    body = standard_rejection("c-7", "a-7")
    old = acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, STANDARD_SECRET), body=body).json_body["links"]["a-7"]
    rotate_link_key()
    new = acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, STANDARD_SECRET), body=body).json_body["links"]["a-7"]
    assert new != old
    for link in (old, new):
        assert acme.http.get(f"/r/{link.split('/r/', 1)[1]}").status_code == 200
    assert old not in table_text() and new not in table_text()
    again = acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, STANDARD_SECRET), body=body).json_body["links"]["a-7"]
    assert again == new


def test_get_shows_the_delivery_and_hub_notice_is_the_default(client):
    assert put_source(client, {"webhook_secret": "another-secret-1"}, "lever").status_code == 200
    assert client.http.get("/admin/tenants/acme/sources/lever", headers=ADMIN).json_body["delivery"]["mode"] == "hub_notice"
    assert put_source(client, {"webhook_secret": SECRET, "delivery": DELIVERY}).status_code == 200
    shown = client.http.get("/admin/tenants/acme/sources/greenhouse", headers=ADMIN).json_body["delivery"]
    assert shown == {**DELIVERY, "invitation_delay_days": 0}


@pytest.mark.parametrize("delivery_body, says", [
    ({"mode": "ats_field", "field": "x"}, "on_behalf_of"),
    ({"mode": "ats_field", "on_behalf_of": "1"}, "field"),
    ({"mode": "carrier_pigeon"}, "mode"),
    ({"mode": "invitation", "invitation_delay_days": 366}, "invitation_delay_days"),
    ({"mode": "hub_notice", "colour": "red"}, "colour"),
])
def test_a_bad_delivery_is_a_clear_400(client, delivery_body, says):
    answer = put_source(client, {"webhook_secret": SECRET, "delivery": delivery_body})
    assert answer.status_code == 400 and says in answer.json_body["message"]


def test_ats_field_is_refused_for_a_source_that_cannot_carry_it(client):
    answer = put_source(client, {"webhook_secret": "another-secret-1", "delivery": {"mode": "ats_field", "field": "x"}}, "lever")
    assert answer.status_code == 400 and "not available for lever" in answer.json_body["message"]


@pytest.mark.parametrize("code", [401, 403])
def test_refused_credentials_mark_the_source_failing(harvest, httpserver, code):
    httpserver.expect_request(f"/v1/candidates/{CANDIDATE}", method="PATCH").respond_with_data("no", status=code)
    post(harvest, delivery("new_candidate_application"), "e1")
    drain()
    shown = status(harvest)
    assert shown["status"] == "failing" and shown["reason"] == "credentials_refused"


def test_a_gone_candidate_is_dropped(harvest, httpserver):
    httpserver.expect_request(f"/v1/candidates/{CANDIDATE}", method="PATCH").respond_with_data("", status=404)
    post(harvest, delivery("new_candidate_application"), "e1")
    drain()
    assert len(patches(httpserver)) == 1 and status(harvest)["status"] == "ok"


def test_an_unknown_field_marks_the_source_failing_and_stops_retrying(harvest, httpserver):
    httpserver.expect_request(f"/v1/candidates/{CANDIDATE}", method="PATCH").respond_with_json(
        {"errors": [{"message": "custom field not found", "field": "custom_fields"}]}, status=422)
    post(harvest, delivery("new_candidate_application"), "e1")
    drain()
    assert len(patches(httpserver)) == 1  # not retried
    shown = status(harvest)
    assert shown["status"] == "failing" and shown["reason"] == "ats_field_unknown"


def test_429_pauses_the_source_and_the_write_comes_back_after_retry_after(harvest, httpserver, monkeypatch):
    httpserver.expect_ordered_request(f"/v1/candidates/{CANDIDATE}", method="PATCH").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "1"}))
    httpserver.expect_ordered_request(f"/v1/candidates/{CANDIDATE}", method="PATCH").respond_with_json({"id": 1})
    post(harvest, delivery("new_candidate_application"), "e1")
    drain()  # 429: paused, the message re-queued with a delay (no sleep in the consumer)
    assert len(patches(httpserver)) == 1
    import time
    time.sleep(2.1)  # the queue's delay (SQS DelaySeconds), not the consumer
    drain()
    assert len(patches(httpserver)) == 2 and status(harvest)["status"] == "ok"


def test_the_backfill_writes_the_open_applications_once_each(client, httpserver, loopback_egress):
    assert put_source(client, {"webhook_secret": SECRET, "api_key": KEY, "api_base_url": httpserver.url_for("/")}).status_code == 200
    applied = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    candidates = [{"id": 100 + i, "first_name": "A", "last_name": f"B{i}", "email_addresses": [{"value": f"c{i}@example.com"}],
                   "applications": [{"id": 900 + i, "status": "active", "applied_at": applied, "jobs": [{"id": 1, "name": "Dev"}]},
                                    {"id": 800 + i, "status": "rejected", "applied_at": applied}]} for i in range(3)]
    httpserver.expect_request("/v1/candidates", method="GET").respond_with_json(candidates)
    for i in range(3):
        httpserver.expect_request(f"/v1/candidates/{100 + i}", method="PATCH").respond_with_json({"id": 100 + i})
    assert put_source(client, {"delivery": DELIVERY}).status_code == 200  # switching on queues the backfill
    drain()
    assert sorted(r.path for r, _ in patches(httpserver)) == ["/v1/candidates/100", "/v1/candidates/101", "/v1/candidates/102"]
    answer = client.http.post("/admin/tenants/acme/sources/greenhouse/jobs/ats_backfill", headers=ADMIN)
    assert answer.status_code == 200 and answer.json_body["done"] is True
    drain()
    assert len(patches(httpserver)) == 3  # the same links: nothing written twice


def test_standard_answers_each_applications_link_and_a_replay_answers_the_same_link(acme):
    from integrations.sources import standard
    from tests.integration.conftest import SECRET as STANDARD_SECRET

    answer = acme.http.put("/admin/tenants/acme/sources/standard", headers=JSON, body=json.dumps({"delivery": {"mode": "ats_field"}}))
    assert answer.status_code == 200, answer.body
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": "c-1", "name": "候補者", "email": "c-1@example.jp"},
        "application_id": "a-1", "occurred_at": at, "job": {"id": "j", "title": "エンジニア"}}}).encode()
    first = acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, STANDARD_SECRET), body=body)
    again = acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, STANDARD_SECRET), body=body)
    assert first.status_code == again.status_code == 202
    link = first.json_body["links"]["a-1"]
    assert link.startswith("https://hub.example.test/r/") and again.json_body["links"] == {"a-1": link}
    drain()
    assert sent_mail() == []  # the caller mails the link itself
    assert acme.http.get(f"/r/{link.split('/r/', 1)[1]}").status_code == 200


def test_hub_notice_answers_no_links(acme):
    from integrations.sources import standard
    from tests.integration.conftest import SECRET as STANDARD_SECRET

    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": "c-2", "name": "候補者", "email": "c-2@example.jp"},
        "application_id": "a-2", "occurred_at": at}}).encode()
    answer = acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, STANDARD_SECRET), body=body)
    assert answer.status_code == 202 and "links" not in answer.json_body


def test_the_daily_refresh_queues_one_backfill_per_window_and_writes_each_link_once(harvest, httpserver):
    from chalicelib.handlers import schedules

    applied = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    httpserver.expect_request("/v1/candidates", method="GET").respond_with_json([
        {"id": 100, "first_name": "A", "last_name": "B", "email_addresses": [{"value": "c100@example.com"}],
         "applications": [{"id": 900, "status": "active", "applied_at": applied, "jobs": [{"id": 1, "name": "Dev"}]}]}])
    httpserver.expect_request("/v1/candidates/100", method="PATCH").respond_with_json({"id": 100})
    [report] = schedules.refresh_ats_links()
    assert report["tenant"] == "acme" and report["queued"] == ["greenhouse"]
    drain()
    assert [r.path for r, _ in patches(httpserver)] == ["/v1/candidates/100"]
    assert schedules.refresh_ats_links()[0]["queued"] == []  # the same window: nothing queued
    drain()
    assert len(patches(httpserver)) == 1
