"""One person across sources through the admin API on moto (issue 17.6, docs/people.md): an HR
system's exit and an ATS rejection sharing a phone are suggested, merged by the admin, and are one
person after it; a merge stays within one tenant."""
from __future__ import annotations

import json
import os

import boto3

import app as app_module
from chalicelib.adapters import resources
from chalicelib.domain import counters
from integrations.sources import greenhouse
from tests.conftest import ADMIN, connect, load_fixture
from tests.integration.conftest import JSON
from tools.local_runner import LocalRunner, QueueBinding

PHONE = "+819012345678"
TYPED_IN_HR = "090-1234-5678"         # as a Japanese HR system holds it (read in the tenant's region, JP)
TYPED_IN_ATS = "+81 90 1234 5678"     # as a candidate types it into an international ATS


def connect_smarthr(client, httpserver) -> None:
    """SmartHR's webhook names the crew; the exit is read from its API (here on loopback), by the
    enrichment queue's consumer."""
    body = json.dumps({"webhook_secret": load_fixture("sources/smarthr/crew_updated_resigned")["secret"],
                       "api_key": "smarthr-access", "api_base_url": httpserver.url_for("/api")})
    answer = client.http.put("/admin/tenants/acme/sources/smarthr", headers=JSON, body=body)
    assert answer.status_code == 200, answer.body
    crew = {**load_fixture("sources/smarthr/api/crew")["body"], "tel_number": TYPED_IN_HR}
    httpserver.expect_request(f"/api/v1/crews/{crew['id']}").respond_with_json(crew)


def post_smarthr_exit(client) -> None:
    fx = load_fixture("sources/smarthr/crew_updated_resigned")
    answer = client.http.post("/webhooks/acme/smarthr", headers=fx["headers"], body=fx["body"].encode())
    assert answer.status_code == 202, answer.body
    queue = resources.QUEUES["enrich"]
    runner = LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), retry_after_s=0,
                         queues=[QueueBinding(os.environ[resources.queue_env("enrich")], queue["consumer"])])
    while runner.drain_once():
        pass


def post_greenhouse_rejection(client, tenant: str = "acme") -> None:
    fx = load_fixture("sources/greenhouse/reject_candidate")
    body = fx["body"].replace('"value": "330-281-8004"', f'"value": "{TYPED_IN_ATS}"').encode()
    answer = client.http.post(f"/webhooks/{tenant}/greenhouse", headers={"Content-Type": "application/json",
                                                                     **greenhouse.sign(body, fx["secret"])}, body=body)
    assert answer.status_code == 202, answer.body


def found(client, email: str) -> str:
    people = client.http.get(f"/admin/tenants/acme/people?email={email}", headers=ADMIN).json_body["people"]
    assert len(people) == 1
    return str(people[0]["id"])


def people_count(client) -> int:
    from chalicelib import wiring

    return wiring.hub().ports.counters.totals("acme").get(counters.PEOPLE, 0)


def test_an_hr_exit_and_an_ats_rejection_with_one_phone_are_one_person_after_the_suggested_merge(
        client, httpserver, loopback_egress):
    connect_smarthr(client, httpserver)
    connect(client, "acme", "greenhouse", load_fixture("sources/greenhouse/reject_candidate")["secret"])
    post_smarthr_exit(client)
    post_greenhouse_rejection(client)
    alumna, candidate = found(client, "hanako.yamada@example.com"), found(client, "hector.porter.265788@example.com")
    assert alumna != candidate  # the same phone alone never merges
    before = people_count(client)

    shown = client.http.get(f"/admin/tenants/acme/people/{alumna}", headers=ADMIN).json_body
    assert shown["suggested_merges"] == [{"person_id": candidate, "why": ["same phone"]}]

    answer = client.http.post(f"/admin/tenants/acme/people/{alumna}/merge", headers=JSON,
                              body=json.dumps({"other": candidate}))
    assert answer.status_code == 200, answer.body
    assert answer.json_body["person_id"] == alumna and answer.json_body["merged"] == candidate
    again = client.http.post(f"/admin/tenants/acme/people/{alumna}/merge", headers=JSON,
                             body=json.dumps({"other": candidate}))
    assert again.json_body == answer.json_body  # replayed: the same answer, nothing twice

    person = client.http.get(f"/admin/tenants/acme/people/{alumna}", headers=ADMIN).json_body
    assert sorted(person["identities"]) == ["greenhouse:265788", "smarthr:8f1c0f0e-3c2b-4b7e-9a51-0c6b2d3e4f50"]
    assert sorted(entry["type"] for entry in person["timeline"]) == ["exited", "rejected"]
    assert {"alumni", "rejected"} <= set(person["roles"])
    assert person["suggested_merges"] == []
    assert people_count(client) == before - 1
    assert found(client, "hector.porter.265788@example.com") == alumna
    old = client.http.get(f"/admin/tenants/acme/people/{candidate}", headers=ADMIN)
    assert old.status_code == 200 and old.json_body["id"] == alumna  # the merged-away id leads to the survivor
    audit = client.http.get("/admin/tenants/acme/audit", headers=ADMIN).json_body["entries"]
    merges = [entry for entry in audit if entry["action"] == "person.merge"]
    assert merges and merges[0]["target"] == f"{alumna}+{candidate}"
    assert "Porter" not in json.dumps(audit) and PHONE not in json.dumps(audit)


def test_a_merge_is_within_one_tenant_another_tenants_person_is_404(client):
    for tenant in ("acme", "globex"):
        connect(client, tenant, "greenhouse", load_fixture("sources/greenhouse/reject_candidate")["secret"])
        post_greenhouse_rejection(client, tenant)
    mine = found(client, "hector.porter.265788@example.com")
    theirs = client.http.get("/admin/tenants/globex/people?email=hector.porter.265788@example.com",
                             headers=ADMIN).json_body["people"][0]["id"]

    answer = client.http.post(f"/admin/tenants/acme/people/{mine}/merge", headers=JSON, body=json.dumps({"other": theirs}))
    assert answer.status_code == 404 and answer.json_body["error"] == "not_found"
    answer = client.http.post(f"/admin/tenants/globex/people/{mine}/merge", headers=JSON, body=json.dumps({"other": theirs}))
    assert answer.status_code == 404
    assert client.http.get(f"/admin/tenants/globex/people/{theirs}", headers=ADMIN).status_code == 200
