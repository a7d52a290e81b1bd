"""e20-sources: the delivery log, the test event, secret rotation and the dead-letter queues, through
the admin API and the console's sources screen (Chalice test client; DynamoDB and SQS in moto)."""
from __future__ import annotations

import json
import os
import re
from urllib.parse import urlencode

import boto3
import pytest

from chalicelib.adapters import resources
from integrations.sources import greenhouse
from tests.conftest import ADMIN, connect, load_fixture
from tests.integration.test_console import FORM, call, session_for

GH_SECRET = "gh-test-secret-7f3a"
EMAIL = "hector.porter.265788@example.com"
JSON = {**ADMIN, "Content-Type": "application/json"}


@pytest.fixture
def acme(client):
    connect(client, "acme", "greenhouse", GH_SECRET)
    return client


def deliver(client, body: bytes | None = None, secret: str = GH_SECRET, tenant: str = "acme"):
    body = body if body is not None else load_fixture("sources/greenhouse/reject_candidate")["body"].encode()
    return client.http.post(f"/webhooks/{tenant}/greenhouse", headers=greenhouse.sign(body, secret), body=body)


def log(client, query: str = "") -> dict:
    answer = client.http.get(f"/admin/tenants/acme/sources/greenhouse/deliveries{query}", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    return json.loads(answer.body)


def write_queued() -> int:
    """Run the deliveries queue's consumer as Lambda would (a duplicate's entry is written from there)."""
    import app as app_module
    from tools.local_runner import LocalRunner, QueueBinding

    spec = resources.QUEUES["deliveries"]
    runner = LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), retry_after_s=0,
                         queues=[QueueBinding(os.environ[resources.queue_env("deliveries")], spec["consumer"])])
    handed = 0
    while batch := runner.drain_once():
        handed += batch
    return handed


def source_of(client) -> dict:
    return next(s for s in json.loads(client.http.get("/admin/tenants/acme/sources", headers=ADMIN).body)["sources"]
                if s["source"] == "greenhouse")


def audit_actions(hub, tenant: str = "acme") -> list[tuple[str, str]]:
    return [(e["action"], e["who"]) for e in hub.access.audit_entries(tenant, {"limit": "100"})["entries"]]


# -- the delivery log --------------------------------------------------------------------------------

def test_every_delivery_is_logged_with_its_outcome_newest_first_and_no_personal_data(acme):
    assert source_of(acme)["last_delivery_at"] is None and source_of(acme)["state"] == "never_delivered"
    assert log(acme) == {"deliveries": [], "next": None}
    assert deliver(acme).status_code == 202
    assert deliver(acme).status_code == 202  # the same delivery again
    assert [d["outcome"] for d in log(acme)["deliveries"]] == ["accepted"]  # the duplicate's entry: queued
    assert write_queued() == 1
    assert deliver(acme, secret="not-the-secret").status_code == 401
    ping = load_fixture("sources/greenhouse/ping")["body"].encode()
    assert deliver(acme, ping).status_code == 202
    found = log(acme)["deliveries"]
    assert [(d["outcome"], d["reason"]) for d in found] == [
        ("ignored", None), ("refused", "signature"), ("duplicate", None), ("accepted", None)]
    assert found[-1]["event"] == "reject_candidate" and found[1]["event"] is None  # an unverified body is not read
    text = json.dumps(found)
    assert EMAIL not in text and "Porter" not in text and "Hector" not in text
    listed = source_of(acme)
    assert listed["last_delivery_at"] == found[0]["at"] and listed["state"] == "ok"
    single = json.loads(acme.http.get("/admin/tenants/acme/sources/greenhouse", headers=ADMIN).body)
    assert single["last_delivery_at"] == found[0]["at"]
    page = log(acme, "?limit=2")
    assert len(page["deliveries"]) == 2 and page["next"]
    rest = log(acme, "?" + urlencode({"limit": 2, "cursor": page["next"]}))
    assert [d["outcome"] for d in rest["deliveries"]] == ["duplicate", "accepted"]


def test_a_duplicates_queued_entry_is_written_once_however_often_it_comes_and_at_once_when_it_cannot_be_queued(
        acme, hub, monkeypatch):
    assert deliver(acme).status_code == 202 and deliver(acme).status_code == 202
    sqs = boto3.client("sqs")
    url = os.environ[resources.queue_env("deliveries")]
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert set(body) == {"tenant", "source", "entry", "at", "event", "outcome", "reason", "test"}  # never a body
    for _ in range(3):  # SQS delivers at least once: each write lands on the same entry
        hub.deliveries.write_queued(body)
    assert [d["outcome"] for d in log(acme)["deliveries"]] == ["duplicate", "accepted"]

    def refused(*_args, **_kwargs):
        raise RuntimeError("the queue is unavailable")
    monkeypatch.setattr(hub.ports.queues, "send", refused)
    assert deliver(acme).status_code == 202
    assert [d["outcome"] for d in log(acme)["deliveries"]] == ["duplicate", "duplicate", "accepted"]


def test_a_refused_last_delivery_marks_the_source_failing_and_unknown_tenants_log_nothing(acme):
    assert deliver(acme, secret="not-the-secret").status_code == 401
    assert (source_of(acme)["state"], source_of(acme)["state_reason"]) == ("failing", "signature")
    assert deliver(acme, tenant="nobody").status_code == 401
    assert acme.http.get("/admin/tenants/nobody/sources/greenhouse/deliveries", headers=ADMIN).status_code == 404


def test_the_log_refuses_a_bad_limit_or_cursor(acme):
    for query in ("?limit=0", "?limit=101", "?limit=x", "?cursor=nope"):
        assert acme.http.get(f"/admin/tenants/acme/sources/greenhouse/deliveries{query}", headers=ADMIN).status_code == 400


# -- the test event and the secret -------------------------------------------------------------------

def test_a_test_event_is_verified_and_parsed_records_no_one_and_is_audited(acme, hub):
    answer = acme.http.post("/admin/tenants/acme/sources/greenhouse/test", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    result = json.loads(answer.body)
    assert (result["outcome"], result["event"], result["test"]) == ("accepted", "reject_candidate", True)
    assert [(d["outcome"], d["test"]) for d in log(acme)["deliveries"]] == [("accepted", True)]
    people = json.loads(acme.http.get("/admin/tenants/acme/people?email=test-event@example.invalid", headers=ADMIN).body)
    assert people["people"] == []
    assert source_of(acme)["state"] == "never_delivered"  # a test is not the vendor's delivery
    assert ("source.test", "admin") in audit_actions(hub)


def test_a_rotated_secret_is_shown_once_and_the_old_one_works_until_ended(acme, hub):
    rotated = json.loads(acme.http.post("/admin/tenants/acme/sources/greenhouse/rotate", headers=ADMIN).body)
    new = rotated["webhook_secret"]
    assert new != GH_SECRET and rotated["previous_ended"] is False
    assert deliver(acme, secret=GH_SECRET).status_code == 202  # the grace period
    assert deliver(acme, secret=new).status_code == 202
    ended = acme.http.post("/admin/tenants/acme/sources/greenhouse/rotate", headers=JSON, body='{"end_previous": true}')
    newest = json.loads(ended.body)["webhook_secret"]
    assert deliver(acme, secret=new).status_code == 401 and deliver(acme, secret=newest).status_code == 202
    assert new not in json.dumps(hub.access.audit_entries("acme", {"limit": "100"}))
    assert acme.http.post("/admin/tenants/acme/sources/greenhouse/rotate", headers=JSON,
                          body='{"end_previous": 1}').status_code == 400


# -- dead letters ------------------------------------------------------------------------------------

def dlq_url(queue: str) -> str:
    return boto3.client("sqs").get_queue_url(QueueName=resources.queue_name("test", queue) + "-dlq")["QueueUrl"]


def park(queue: str, body: dict) -> None:
    boto3.client("sqs").send_message(QueueUrl=dlq_url(queue), MessageBody=json.dumps(body))


def waiting(queue: str) -> list[dict]:
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(QueueUrl=os.environ[resources.queue_env(queue)], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_dead_letters_are_listed_per_tenant_and_redriven_once(acme, hub):
    park("notices", {"tenant": "acme", "person_id": "p-secret-id", "notice": "N#1"})
    park("enrich", {"tenant": "globex", "source": "lever", "resource": "x", "resource_id": "1", "delivery_id": "d"})
    listed = json.loads(acme.http.get("/admin/tenants/acme/dead_letters", headers=ADMIN).body)["dead_letters"]
    assert [(d["kind"], d["queue"], d["reason"]) for d in listed] == [("notice", "notices", "failed_attempts")]
    assert "p-secret-id" not in json.dumps(listed)
    again = json.loads(acme.http.get("/admin/tenants/acme/dead_letters", headers=ADMIN).body)["dead_letters"]
    assert [d["id"] for d in again] == [listed[0]["id"]]  # a listing leaves messages in place
    assert acme.http.post(f"/admin/tenants/globex/dead_letters/{listed[0]['id']}/redrive", headers=ADMIN).status_code == 404
    first = acme.http.post(f"/admin/tenants/acme/dead_letters/{listed[0]['id']}/redrive", headers=ADMIN)
    second = acme.http.post(f"/admin/tenants/acme/dead_letters/{listed[0]['id']}/redrive", headers=ADMIN)
    assert first.status_code == second.status_code == 200 and json.loads(first.body)["redriven"] is True
    assert waiting("notices") == [{"tenant": "acme", "person_id": "p-secret-id", "notice": "N#1"}]
    assert json.loads(acme.http.get("/admin/tenants/acme/dead_letters", headers=ADMIN).body)["dead_letters"] == []
    assert ("dead_letter.redrive", "admin") in audit_actions(hub)


# -- the console screen ------------------------------------------------------------------------------

def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def post_form(client, path: str, session_id: str, fields: dict[str, str]):
    return client.http.post(path, headers={**FORM, "Cookie": f"__Host-hub-session={session_id}"}, body=urlencode(fields))


def test_the_sources_screen_shows_state_url_log_and_acts_as_the_signed_in_admin(acme, hub):
    session_id, session = session_for(hub, ("acme:admin",))
    page = call(acme, "GET", "/console/t/acme/sources", session_id)
    assert page.status_code == 200
    html = page.body.decode()
    assert "/webhooks/acme/greenhouse" in html and 'data-state="never_delivered"' in html and "readonly" in html
    tested = post_form(acme, "/console/t/acme/sources/greenhouse/test", session_id, {"csrf": session.csrf})
    assert tested.status_code == 200 and 'data-outcome="accepted"' in tested.body.decode()
    deliver(acme, secret="not-the-secret")
    detail = call(acme, "GET", "/console/t/acme/sources/greenhouse?lang=en", session_id).body.decode()
    assert 'data-outcome="refused" data-reason="signature"' in detail and 'data-test="1"' in detail
    assert EMAIL not in detail
    rotated = post_form(acme, "/console/t/acme/sources/greenhouse/rotate", session_id, {"csrf": session.csrf})
    secret = re.search(r'id="new-secret">([^<]+)<', rotated.body.decode()).group(1)
    assert deliver(acme, secret=secret).status_code == 202
    assert ("source.test", session.identity.actor) in audit_actions(hub)
    assert ("source.rotate", session.identity.actor) in audit_actions(hub)
    park("notices", {"tenant": "acme", "person_id": "p-1", "notice": "N#1"})
    listed = call(acme, "GET", "/console/t/acme/sources", session_id).body.decode()
    message_id = hidden(listed, "id")
    done = post_form(acme, "/console/t/acme/dead_letters/redrive", session_id, {"csrf": session.csrf, "id": message_id})
    assert done.status_code == 303
    gone = post_form(acme, "/console/t/acme/dead_letters/redrive", session_id, {"csrf": session.csrf, "id": "nope"})
    assert gone.status_code == 404
    assert ("dead_letter.redrive", session.identity.actor) in audit_actions(hub)


def test_the_sources_screen_refuses_other_roles_tenants_and_missing_csrf(acme, hub):
    viewer, _ = session_for(hub, ("acme:viewer",))
    assert call(acme, "GET", "/console/t/acme/sources", viewer).status_code == 403
    other, other_session = session_for(hub, ("globex:admin",))
    assert call(acme, "GET", "/console/t/acme/sources", other).status_code == 403
    admin, session = session_for(hub, ("acme:admin",))
    assert post_form(acme, "/console/t/acme/sources/greenhouse/test", admin, {}).status_code == 403
    assert post_form(acme, "/console/t/acme/sources/greenhouse/test", viewer, {"csrf": "x"}).status_code == 403
    assert call(acme, "GET", "/console/t/acme/sources/lever", admin).status_code == 404
    polled = post_form(acme, "/console/t/acme/sources/greenhouse/poll", admin, {"csrf": session.csrf})
    assert polled.status_code == 400 and "error" in polled.body.decode()
