"""Thin notices completed off the request path, and polled sources, against a real local HTTP
server playing the vendor: retries, redeliveries and duplicates still give one fact each."""
from __future__ import annotations

import json
import os

import boto3
import pytest
from werkzeug import Response

import app as app_module
from chalicelib.adapters import resources
from integrations import registry
from tests import fakevendor
from tests.conftest import ADMIN
from tools.local_runner import LocalRunner, QueueBinding

SECRET = "acme-ats-secret"
APPLICATION = {"id": "a1", "candidate_id": "c1", "status": "rejected", "archived_at": "2026-11-20T10:00:00Z",
               "reason": "Position filled", "name": "Test Person", "email": "c1@example.com"}


@pytest.fixture
def vendor(client, monkeypatch, httpserver, loopback_egress):
    monkeypatch.setitem(registry.SOURCES, fakevendor.NAME, fakevendor)
    monkeypatch.setitem(registry.ENRICHED, fakevendor.NAME, fakevendor)
    monkeypatch.setitem(registry.POLLED, fakevendor.NAME, fakevendor)
    answer = client.http.put(f"/admin/tenants/acme/sources/{fakevendor.NAME}",
                             headers={**ADMIN, "Content-Type": "application/json"},
                             body=json.dumps({"webhook_secret": SECRET, "api_key": "vendor-key",
                                              "api_base_url": httpserver.url_for("/api")}))
    assert answer.status_code == 200, answer.body
    return client


def runner(retry_after_s=0):
    queue = resources.QUEUES["enrich"]
    return LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), retry_after_s=retry_after_s,
                       queues=[QueueBinding(os.environ[resources.queue_env("enrich")], queue["consumer"])])


def notify(client, delivery_id="d1", application_id="a1"):
    body = json.dumps({"event": "application.archived", "id": delivery_id, "application_id": application_id}).encode()
    return client.http.post(f"/webhooks/acme/{fakevendor.NAME}", headers=fakevendor.sign(body, SECRET), body=body)


def timeline(client, email="c1@example.com"):
    people = client.http.get(f"/admin/tenants/acme/people?email={email}", headers=ADMIN).json_body["people"]
    return [e["type"] for e in people[0]["timeline"]] if people else []


def queue_depth(name):
    url = os.environ[resources.queue_env("enrich")] if name == "enrich" else \
        boto3.client("sqs").get_queue_url(QueueName=resources.queue_name("test", "enrich") + "-dlq")["QueueUrl"]
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                                         "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attributes["Attributes"].values())


def test_a_thin_notice_is_acknowledged_at_once_and_completed_from_the_api(vendor, httpserver):
    httpserver.expect_request("/api/applications/a1", headers={"Authorization": "Bearer vendor-key"}).respond_with_json(APPLICATION)
    answers = [notify(vendor) for _ in range(3)]  # the vendor retries
    assert [a.status_code for a in answers] == [202] * 3
    assert [a.json_body["duplicates"] for a in answers] == [0, 1, 1]
    assert timeline(vendor) == []  # nothing fetched on the request path
    assert queue_depth("enrich") == 1
    while runner().drain_once():
        pass
    assert timeline(vendor) == ["rejected"]
    assert len(httpserver.log) == 1


def test_vendor_faults_are_retried_until_the_fact_is_recorded_once(vendor, httpserver):
    httpserver.expect_ordered_request("/api/applications/a1").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/api/applications/a1").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "1"}))
    httpserver.expect_ordered_request("/api/applications/a1").respond_with_json(APPLICATION)
    notify(vendor)
    local = runner()
    for _ in range(3):
        local.drain_once()
    assert timeline(vendor) == ["rejected"]
    assert queue_depth("enrich") == 0


def test_a_redelivered_message_records_nothing_twice(vendor, httpserver):
    httpserver.expect_request("/api/applications/a1").respond_with_json(APPLICATION)
    notify(vendor)
    sqs, url = boto3.client("sqs"), os.environ[resources.queue_env("enrich")]
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    sqs.send_message(QueueUrl=url, MessageBody=message["Body"])  # at-least-once: the same message twice
    while runner().drain_once():
        pass
    assert timeline(vendor) == ["rejected"]


def test_one_bad_record_does_not_hold_up_the_batch(vendor, httpserver):
    httpserver.expect_request("/api/applications/a1").respond_with_json(APPLICATION)
    httpserver.expect_request("/api/applications/a2", headers={"Authorization": "Bearer vendor-key"}).respond_with_data("no", status=401)
    notify(vendor, "d2", "a2")
    notify(vendor, "d1", "a1")
    runner().drain_once()
    assert timeline(vendor) == ["rejected"]


def test_a_notice_the_vendor_keeps_refusing_ends_in_the_dead_letter_queue(vendor, httpserver):
    httpserver.expect_request("/api/applications/a1").respond_with_data("no", status=401)
    notify(vendor)
    local = runner()
    for _ in range(resources.MAX_RECEIVE_COUNT + 2):
        local.drain_once()
    assert queue_depth("enrich") == 0 and queue_depth("dlq") == 1


def test_a_fetched_state_the_hub_does_not_act_on_records_nothing(vendor, httpserver):
    httpserver.expect_request("/api/applications/a1").respond_with_json({**APPLICATION, "status": "hired"})
    notify(vendor)
    while runner().drain_once():
        pass
    assert timeline(vendor) == [] and queue_depth("enrich") == 0


# -- polling -------------------------------------------------------------------------------------

def page(items, next_cursor, more, headers=None):
    return Response(json.dumps({"items": items, "next": next_cursor, "has_more": more}), headers=headers or {},
                    content_type="application/json")


def person(n):
    return {**APPLICATION, "id": f"a{n}", "candidate_id": f"c{n}", "email": f"c{n}@example.com"}


def poll_now(client):
    answer = client.http.post("/admin/tenants/acme/jobs/poll_sources", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    return answer.json_body["sources"]


def test_polling_walks_the_pages_and_resumes_from_the_stored_cursor(vendor, httpserver):
    httpserver.expect_ordered_request("/api/changes", query_string="after=").respond_with_response(page([person(1), person(2)], "p2", True))
    httpserver.expect_ordered_request("/api/changes", query_string="after=p2").respond_with_response(page([person(3)], "p3", False))
    httpserver.expect_ordered_request("/api/changes", query_string="after=p3").respond_with_response(page([], "p3", False))
    assert poll_now(vendor) == [{"source": "acme_ats", "pages": 2, "events": 3, "new": 3, "stopped": "done"}]
    assert poll_now(vendor) == [{"source": "acme_ats", "pages": 1, "events": 0, "new": 0, "stopped": "done"}]
    assert timeline(vendor, "c3@example.com") == ["rejected"]


def test_polling_the_same_window_again_records_nothing_twice(vendor, httpserver):
    for _ in range(2):
        httpserver.expect_ordered_request("/api/changes").respond_with_response(page([person(1)], None, False))
    poll_now(vendor)
    assert poll_now(vendor)[0]["new"] == 0
    assert timeline(vendor) == ["rejected"]


def test_polling_stops_when_the_vendor_rate_limit_is_spent(vendor, httpserver):
    httpserver.expect_ordered_request("/api/changes").respond_with_response(page([person(1)], "p2", True, {"X-Remaining": "0"}))
    assert poll_now(vendor)[0]["stopped"] == "rate_limited"


def test_a_failing_vendor_is_reported_and_the_cursor_kept(vendor, httpserver):
    httpserver.expect_ordered_request("/api/changes").respond_with_response(page([person(1)], "p2", True))
    httpserver.expect_ordered_request("/api/changes", query_string="after=p2").respond_with_data("down", status=502)
    httpserver.expect_ordered_request("/api/changes", query_string="after=p2").respond_with_response(page([person(2)], "p3", False))
    assert poll_now(vendor)[0] == {"source": "acme_ats", "pages": 0, "events": 0, "new": 0, "stopped": "partner_failed"}
    assert poll_now(vendor)[0]["new"] == 1  # resumed after p2, not from the start
    assert timeline(vendor, "c2@example.com") == ["rejected"]


def test_the_schedule_polls_every_tenant(vendor, httpserver):
    httpserver.expect_request("/api/changes").respond_with_response(page([person(1)], None, False))
    runner().fire_due(now=0)
    assert timeline(vendor) == ["rejected"]
