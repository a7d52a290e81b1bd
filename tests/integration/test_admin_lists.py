"""The admin API's lists (issue 18) through the app on moto: sources, agencies, segments, a segment's
members and campaigns; the tenant checked on every path (another tenant's token: 403, no token:
401), never a secret in an answer, the members read through the index (never a Scan) and audited."""
from __future__ import annotations

import json

import pytest

from tests.conftest import ADMIN, connect
from tests.integration.test_nurture import DynamoReads

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JSON = {**ADMIN, "Content-Type": "application/json"}
LISTS = ("sources", "agencies", "segments", "segments/makers/members", "campaigns")


def get(client, path, headers=ADMIN):
    return client.http.get(f"/admin/tenants/acme/{path}", headers=headers)


def put(client, path, body):
    answer = client.http.put(f"/admin/tenants/acme/{path}", headers=JSON, body=json.dumps(body, ensure_ascii=False))
    assert answer.status_code == 200, answer.body
    return answer.json_body


@pytest.fixture
def acme(client, hub):
    connect(client, "acme", "standard", SECRET)
    for i in range(5):
        hub.ports.relations.record_once(_event(f"e{i}", ("engineer",)), delivery_id=f"d-e{i}")
    hub.ports.relations.record_once(_event("both", ("engineer", "designer")), delivery_id="d-both")
    hub.ports.relations.record_once(_event("d0", ("designer",)), delivery_id="d-d0")
    hub.ports.relations.record_once(_event("s0", ("sales",)), delivery_id="d-s0")
    put(client, "segments/makers", {"expression": "tag:designer OR tag:engineer", "description": "作り手"})
    return client


def _event(who, tags):
    from datetime import UTC, datetime

    from chalicelib.domain.events import ApplicationEvent, PersonRef

    person = PersonRef(source="standard", vendor_person_id=who, name=f"{who} さん", email=f"{who}@example.jp")
    return ApplicationEvent(tenant="acme", person=person, occurred_at=datetime(2026, 5, 1, tzinfo=UTC),
                            application_id=f"app-{who}", tags=tags)


def test_sources_list_their_state_kind_and_webhook_url_never_a_secret(acme):
    answer = get(acme, "sources")
    assert answer.status_code == 200
    [standard] = answer.json_body["sources"]
    assert (standard["source"], standard["kind"], standard["status"]) == ("standard", "webhook", "ok")
    assert standard["webhook_url"].endswith("/webhooks/acme/standard") and standard["last_delivery_at"] is None
    assert standard["secrets"]["webhook_secret"] is True and SECRET not in answer.body.decode()


def test_segment_members_come_a_page_at_a_time_through_the_index_and_are_audited(acme):
    listed = get(acme, "segments").json_body
    assert listed == {"segments": [{"segment": "makers", "expression": "tag:designer OR tag:engineer",
                                    "description": "作り手", "version": 1, "read_through": ["tag:designer", "tag:engineer"],
                                    "count": 7}], "next": None}
    reads = DynamoReads()
    found, cursor, pages = [], None, 0
    while True:
        answer = get(acme, "segments/makers/members?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.body
        assert len(answer.json_body["people"]) <= 3
        found += answer.json_body["people"]
        pages, cursor = pages + 1, answer.json_body["next"]
        if cursor is None:
            break
    assert len(found) == len({p["id"] for p in found}) == 7 and pages >= 3
    assert {"id", "name", "roles", "tags"} <= set(found[0])
    assert not [name for name, _ in reads.calls if name == "Scan"]
    audit = get(acme, "audit").json_body["entries"]
    assert [e["target"] for e in audit if e["action"] == "segment.members"] == ["makers"] * pages
    assert not [e for e in audit if e["action"] in ("segment.list", "sources.list")]  # lists of configuration: not audited
    assert get(acme, "segments/makers/members?limit=101").status_code == 400
    assert get(acme, "segments/makers/members?cursor=garbage").status_code == 400
    assert get(acme, "segments/nosuch/members").status_code == 404


def test_agencies_and_campaigns_are_listed(acme, loopback_egress):
    put(acme, "agencies/sandbox", {"name": "Sandbox Agency", "legal_name": "Sandbox K.K.", "country": "JP",
                                   "endpoint": "http://127.0.0.1:9/v1",
                                   "auth": {"type": "bearer", "token": "agency-bearer-token"},
                                   "data_items": ["name", "email"]})
    put(acme, "campaigns/winback", {"segment": "makers", "template_kind": "nurture",
                                    "cadence": {"after": "rejection", "days": 180}, "active": False})

    agencies = get(acme, "agencies")
    assert agencies.status_code == 200 and "agency-bearer-token" not in agencies.body.decode()
    [sandbox] = agencies.json_body["agencies"]
    assert (sandbox["slug"], sandbox["paused"], sandbox["slot_balance"], sandbox["secrets"]) == (
        "sandbox", False, 0, {"auth": True})
    [winback] = get(acme, "campaigns").json_body["campaigns"]
    assert (winback["campaign"], winback["segment"], winback["template_kind"], winback["paused"], winback["sent"]) == (
        "winback", "makers", "nurture", True, 0)


def test_every_list_checks_the_tenant_in_its_path(acme):
    issued = acme.http.post("/admin/tenants/globex/tokens", headers=JSON, body=b"{}").json_body["token"]
    globex = {"Authorization": f"Bearer {issued}"}
    for path in LISTS:
        assert get(acme, path, headers=globex).status_code == 403, path
        assert get(acme, path, headers={}).status_code == 401, path
        assert acme.http.get(f"/admin/tenants/globex/{path}", headers=globex).status_code in (200, 404), path
    assert acme.http.get("/admin/tenants/globex/segments/makers/members", headers=globex).status_code == 404
    assert acme.http.get("/admin/tenants/globex/segments", headers=globex).json_body == {"segments": [], "next": None}


def test_the_lists_are_described_in_openapi():
    from app import app
    from chalicelib import openapi

    served = {(method, path) for path, entry in app.routes.items() for method in entry}
    lists = {("GET", f"/admin/tenants/{{tenant}}/{path}") for path in
             ("sources", "agencies", "segments", "segments/{segment}/members", "campaigns")}
    assert lists <= served and lists <= openapi.routes()
