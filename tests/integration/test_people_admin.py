"""The admin API for HR and for people's rights: search, tags, export, erasure, audit, tenant tokens.

Real parts: the Chalice app, in-process moto, the sandbox agency on loopback."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib import openapi
from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, drain, sent_mail
from tests.integration.conftest import SECRET
from tests.integration.test_agency_batches import candidates, configure, decide, run

JSON = {**ADMIN, "Content-Type": "application/json"}


def webhook(client, i: int, *, name: str | None = None, at: datetime | None = None, kind: str = "candidate.rejected",
            application: str | None = None, msg_id: str | None = None) -> bytes:
    at = at or datetime.now(UTC) - timedelta(minutes=5)
    body = json.dumps({"type": kind, "data": {
        "person": {"id": f"c-{i}", "name": name or f"候補者 {i}", "email": f"c-{i}@example.jp"},
        "application_id": application or f"a-{i}", "occurred_at": at.isoformat(), "job": {"id": "j", "title": "エンジニア"}}}).encode()
    answer = client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET, msg_id=msg_id), body=body)
    assert answer.status_code == 202, answer.body
    return body


def get(client, path: str, headers=ADMIN):
    return client.http.get(path, headers=headers)


def person_id(client, email: str) -> str | None:
    people = get(client, f"/admin/tenants/acme/people?email={email}").json_body["people"]
    return people[0]["id"] if people else None


def search(client, query: str) -> list[dict]:
    """Every page of a search, following `next`."""
    found, cursor = [], None
    while True:
        answer = get(client, f"/admin/tenants/acme/people?{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.body
        found += answer.json_body["people"]
        cursor = answer.json_body["next"]
        if cursor is None:
            return found


@pytest.fixture
def dynamo_calls(monkeypatch):
    """The DynamoDB operations made from the moment it is asked (every botocore client, observed)."""
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call

    def observed(client, operation, params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", observed)
    return calls


def test_people_are_found_by_name_prefix_tag_and_role_a_page_at_a_time_without_scan(acme, dynamo_calls):
    for i in range(7):
        webhook(acme, i, name=f"Ｙａｍａｄａ Hanako {i}" if i < 5 else f"Suzuki Ichiro {i}")
    drain()
    dynamo_calls.clear()
    yamadas = search(acme, "name=yamada&limit=2")  # width and case folded, 3 pages
    assert sorted(p["name"][-1] for p in yamadas) == ["0", "1", "2", "3", "4"]
    assert len({p["id"] for p in yamadas}) == 5
    assert {"Scan"}.isdisjoint(dynamo_calls) and "Query" in dynamo_calls
    assert len(search(acme, "role=rejected&limit=3")) == 7
    assert search(acme, "role=employee") == []
    pid = yamadas[0]["id"]
    tags = json.dumps({"add": ["Engineer", "tokyo"]})
    assert acme.http.patch(f"/admin/tenants/acme/people/{pid}", headers=JSON, body=tags).status_code == 200
    [tagged] = search(acme, "tag=engineer&role=rejected")
    assert tagged["id"] == pid and tagged["tags"] == ["engineer", "tokyo"]
    assert [p["id"] for p in search(acme, "name=yamada&tag=tokyo")] == [pid]
    assert search(acme, "name=suzuki&tag=tokyo") == []
    assert "Scan" not in dynamo_calls


def test_tags_are_edited_and_the_search_follows(acme):
    webhook(acme, 1)
    drain()
    pid = person_id(acme, "c-1@example.jp")
    path = f"/admin/tenants/acme/people/{pid}"

    def patch(body):
        return acme.http.patch(path, headers=JSON, body=json.dumps(body))

    assert patch({"tags": ["a", "b", "c"]}).json_body["tags"] == ["a", "b", "c"]
    assert patch({"add": ["d", "A"], "remove": ["b"]}).json_body["tags"] == ["a", "c", "d"]
    assert search(acme, "tag=b") == [] and [p["id"] for p in search(acme, "tag=d")] == [pid]
    for bad in ({}, {"tags": "x"}, {"tags": ["ok"], "add": ["x"]}, {"tags": ["#x"]}, {"tags": ["x" * 51]},
                {"colour": ["red"]}, {"tags": [f"t{i}" for i in range(51)]}):
        answer = patch(bad)
        assert answer.status_code == 400 and answer.json_body["error"] == "bad_request", bad
    assert acme.http.patch("/admin/tenants/acme/people/p_000000000000000000000000", headers=JSON,
                           body=json.dumps({"tags": []})).status_code == 404
    assert get(acme, path).json_body["tags"] == ["a", "c", "d"]


def test_search_refuses_bad_queries_with_a_400(acme):
    for query in ("", "role=boss", "limit=5", "name=x&limit=0", "name=x&limit=101", "name=x&cursor=%%%",
                  "name=x&cursor=e30", "email=not-an-address", "colour=red&name=x", "name=%20"):
        answer = get(acme, f"/admin/tenants/acme/people?{query}")
        assert answer.status_code == 400 and answer.json_body["error"] == "bad_request", query
    first = get(acme, "/admin/tenants/acme/people?role=rejected&limit=1")
    assert first.status_code == 200


def _consented_and_referred(acme, agency) -> tuple[str, str, str]:
    configure(acme, agency)
    links = candidates(acme, 2)
    decide(acme, links["c-0@example.jp"], relay="yes", openings="yes")
    assert run(acme)[0]["accepted"] == 1
    return person_id(acme, "c-0@example.jp"), links["c-0@example.jp"], links["c-1@example.jp"]


def test_export_returns_everything_held_about_a_person_with_the_provision_records(acme, agency):
    pid, link, _ = _consented_and_referred(acme, agency)
    answer = get(acme, f"/admin/tenants/acme/people/{pid}/export")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    held = answer.json_body
    assert held["person"]["email"] == "c-0@example.jp" and held["person"]["name"] == "候補者 0"
    assert held["person"]["identities"] == ["standard:c-0"] and held["person"]["consents"]["relay"]["given"]
    assert {e["type"] for e in held["timeline"]} >= {"rejected", "notice_sent", "consent_given", "referred", "referral_accepted"}
    assert [n["status"] for n in held["notices"]] == ["sent"]
    assert [(r["agency"], r["status"]) for r in held["referrals"]] == [("sandbox", "accepted")]
    assert sorted(link["purpose"] for link in held["links"]) == ["relay", "unsubscribe"]
    assert link.split(".", 1)[1] not in answer.body.decode()  # the link's secret is not part of the export
    [record] = held["provisions"]
    assert record["recipient"]["legal_name"] == "Sandbox Agency K.K. (sandbox)" and record["data_items"]
    assert get(acme, "/admin/tenants/acme/people/p_000000000000000000000000/export").status_code == 404


def _partition(pid: str) -> list[dict]:
    table = boto3.resource("dynamodb").Table("relations-hub-test")
    return table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"T#acme#P#{pid}"})["Items"]


def test_erasure_removes_the_person_keeps_counters_and_provision_records_and_tells_the_agency(acme, agency):
    pid, link, other_link = _consented_and_referred(acme, agency)
    before = get(acme, "/admin/tenants/acme/kpis").json_body
    answer = acme.http.delete(f"/admin/tenants/acme/people/{pid}", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["erased"] == pid and answer.json_body["provision_records_kept"] == 1
    assert answer.json_body["kept_until"][:4] == str(datetime.now(UTC).year + 3)

    assert get(acme, f"/admin/tenants/acme/people/{pid}").status_code == 404
    assert get(acme, f"/admin/tenants/acme/people/{pid}/export").status_code == 404
    assert person_id(acme, "c-0@example.jp") is None
    assert [p["id"] for p in search(acme, "name=候補者")] == [person_id(acme, "c-1@example.jp")]
    # only the minimal record that the agency has them remains in the partition, waiting to tell it,
    # and the marker that they were erased (the id and the time: a merge with them is refused)
    [marker] = [item for item in _partition(pid) if item["kind"] == "person_marker"]
    assert set(marker) == {"pk", "sk", "kind", "erased_at"}
    [left] = [item for item in _partition(pid) if item["kind"] != "person_marker"]
    assert left["kind"] == "referral" and left["gsi1pk"] == "WDQ#acme#sandbox" and "name" not in left
    assert int(left["expires_at"]) > datetime.now(UTC).timestamp() + 2 * 365 * 86400  # then it goes too
    # counters stay; the person no longer counts as a relationship retained
    after = get(acme, "/admin/tenants/acme/kpis").json_body
    assert after["current"]["people"] == before["current"]["people"]
    assert after["current"]["career_relay"] == before["current"]["career_relay"]
    assert after["current"]["relations_retained"] == before["current"]["relations_retained"] - 1
    # links are dead, and look like any unknown link
    assert acme.http.get(f"/r/{link}").status_code == 404 and acme.http.get(f"/r/{other_link}").status_code == 200
    from chalicelib.adapters.dynamo import DynamoTokens
    assert DynamoTokens().resolve(link) is None
    # the provision record stays until its date (APPI Art. 29), and the agency is told once
    assert len(get(acme, f"/admin/tenants/acme/provisions?person_id={pid}").json_body["provisions"]) == 1
    assert run(acme)[0]["withdrawals"] == 1 and run(acme)[0]["withdrawals"] == 0
    assert len(agency.withdrawn) == 1
    assert acme.http.delete(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).status_code == 404


def test_an_erased_person_is_never_mailed_and_replays_do_not_bring_them_back(acme):
    at = datetime.now(UTC) - timedelta(hours=2)
    msg_id = "msg_original_delivery"
    original = webhook(acme, 5, at=at, msg_id=msg_id)  # its notice is queued, not yet sent
    pid = person_id(acme, "c-5@example.jp")
    assert acme.http.delete(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).status_code == 200
    drain()
    assert sent_mail() == []  # the queued notice finds nobody to mail

    # the vendor retries the same delivery; another system exports the old fact again
    assert acme.http.post("/webhooks/acme/standard", headers=standard.sign(original, SECRET, msg_id=msg_id),
                          body=original).status_code == 202
    webhook(acme, 5, at=at)
    webhook(acme, 5, at=at - timedelta(days=3), kind="candidate.applied")
    drain()
    assert person_id(acme, "c-5@example.jp") is None and sent_mail() == []
    assert [item["kind"] for item in _partition(pid)] == ["person_marker"]  # the id and the erasure time only

    # a genuinely new application, after the erasure: a new relationship, a new id
    now = datetime.now(UTC)
    webhook(acme, 5, at=now, kind="candidate.applied", application="a-new")
    webhook(acme, 5, at=now, kind="candidate.applied", application="a-new")  # and its copy, delivered again
    drain()
    new_id = person_id(acme, "c-5@example.jp")
    assert new_id and new_id != pid
    person = get(acme, f"/admin/tenants/acme/people/{new_id}").json_body
    assert [e["type"] for e in person["timeline"]] == ["applied"] and person["roles"] == ["applicant"]


def test_the_audit_trail_says_who_did_what_to_which_record_and_never_the_data(acme, agency):
    pid, _, _ = _consented_and_referred(acme, agency)
    get(acme, f"/admin/tenants/acme/people/{pid}")
    get(acme, f"/admin/tenants/acme/people/{pid}/export")
    acme.http.patch(f"/admin/tenants/acme/people/{pid}", headers=JSON, body=json.dumps({"add": ["vip"]}))
    acme.http.delete(f"/admin/tenants/acme/people/{pid}", headers=ADMIN)
    get(acme, "/admin/tenants/acme/kpis")  # no personal data: not audited
    answer = get(acme, "/admin/tenants/acme/audit?limit=100")
    assert answer.status_code == 200 and answer.json_body["next"] is None
    entries = answer.json_body["entries"]
    assert [e["action"] for e in entries[:4]] == ["person.erase", "person.tags", "person.export", "person.read"]
    assert all(e["target"] == pid and e["who"] == "admin" and e["at"] for e in entries[:4])
    actions = {e["action"] for e in entries}
    assert {"source.connect", "settings.change", "agency.change", "people.search", "job.agency_batch"} <= actions
    assert "kpis" not in " ".join(actions)
    text = answer.body.decode()
    assert "c-0@example.jp" not in text and "候補者" not in text and "vip" not in text
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    pages, cursor = [], None
    while True:  # pages of 3 give the same entries
        page = get(acme, "/admin/tenants/acme/audit?limit=3" + (f"&cursor={cursor}" if cursor else "")).json_body
        pages += page["entries"]
        cursor = page["next"]
        if not cursor:
            break
    assert pages[:len(entries)] == entries


def _all_items() -> list[dict]:
    table = boto3.resource("dynamodb").Table("relations-hub-test")
    return table.scan()["Items"]  # test inspection only


def _concrete(path: str, tenant: str) -> str:
    values = {"tenant": tenant, "person_id": "p_000000000000000000000000", "source": "standard", "agency": "sandbox",
              "kind": "rejection", "locale": "ja", "token_id": "0123456789abcdef", "grant_id": "0123456789abcdef",
              "segment": "s", "campaign": "c", "version": "r-0123456789abcdef", "message_id": "m-0000"}
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


ADMIN_OPERATIONS = [(m.upper(), p) for m, p, _, spec in openapi.OPERATIONS if not spec.get("public")]


def _content_type(path: str) -> str:
    return "text/csv" if path.endswith("/imports") else "application/json"


def test_tenant_tokens_reach_their_tenant_only_are_stored_hashed_and_can_be_revoked(acme):
    issued = acme.http.post("/admin/tenants/acme/tokens", headers=ADMIN)
    assert issued.status_code == 201 and set(issued.json_body) >= {"id", "token"}
    token_id, token = issued.json_body["id"], issued.json_body["token"]
    scoped = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert token not in json.dumps(_all_items(), default=str)  # only its hash is kept
    assert get(acme, "/admin/tenants/acme/settings", scoped).status_code == 200
    assert get(acme, "/admin/openapi.json", scoped).status_code == 200
    refused = []
    for method, path in ADMIN_OPERATIONS:
        if "{tenant}" not in path:
            continue
        answer = acme.http.request(method, _concrete(path, "other"), headers={**scoped, "Content-Type": _content_type(path)},
                                   body=b"{}")
        if answer.status_code != 403 or json.loads(answer.body)["error"] != "forbidden":
            refused.append((method, path, answer.status_code))
    assert refused == []  # every other tenant's route: 403
    for method, path in (("POST", "/admin/tenants/acme/tokens"), ("DELETE", f"/admin/tenants/acme/tokens/{token_id}")):
        assert acme.http.request(method, path, headers=scoped).status_code == 403  # token management: all-tenants only
    [entry] = [e for e in get(acme, "/admin/tenants/acme/audit").json_body["entries"] if e["action"] == "token.issue"]
    assert entry["target"] == token_id and entry["who"] == "admin"
    get(acme, "/admin/tenants/acme/people?role=rejected", scoped)
    assert get(acme, "/admin/tenants/acme/audit").json_body["entries"][0]["who"] == f"token:{token_id}"

    assert acme.http.delete(f"/admin/tenants/acme/tokens/{token_id}", headers=ADMIN).json_body == {"revoked": token_id}
    assert get(acme, "/admin/tenants/acme/settings", scoped).status_code == 401
    assert acme.http.delete(f"/admin/tenants/acme/tokens/{token_id}", headers=ADMIN).status_code == 404
    forged = token.rsplit(".", 1)[0] + ".forged-secret"
    assert get(acme, "/admin/tenants/acme/settings", {"Authorization": f"Bearer {forged}"}).status_code == 401


@pytest.mark.parametrize("method,path", ADMIN_OPERATIONS)
def test_every_admin_route_refuses_a_missing_or_wrong_token(client, method, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="},
                    {"Authorization": "Bearer acme.0123456789abcdef.not-a-token"}):
        answer = client.http.request(method, _concrete(path, "acme"), headers={**headers, "Content-Type": _content_type(path)},
                                     body=b"{}")
        assert answer.status_code == 401 and json.loads(answer.body)["error"] == "unauthorized", (headers, answer.body)


def test_the_openapi_description_lists_every_route_of_the_app(client):
    from app import app

    served = {(method, path) for path, methods in app.routes.items() for method in methods}
    assert openapi.routes() == served
    document = get(client, "/admin/openapi.json").json_body
    assert document["openapi"].startswith("3.") and set(document["paths"]) == {p for _, p in served}
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


# -- search as Japanese users type, phones in E.164 (docs/search.md) -----------------------------------

def _record_in_parts(i: int, **parts: str) -> None:
    """A rejection with the name in parts, straight into the DynamoDB store (the standard source has one full name)."""
    from chalicelib.adapters.dynamo.relations import DynamoRelations
    from chalicelib.domain.events import PersonRef, RejectionEvent

    event = RejectionEvent(tenant="acme", person=PersonRef("standard", f"k-{i}", **parts),
                           occurred_at=datetime.now(UTC) - timedelta(minutes=5), application_id=f"k-{i}")
    DynamoRelations().record_once(event, delivery_id=f"k-{i}")


def test_people_are_found_as_japanese_users_type_through_the_index(acme, dynamo_calls):
    _record_in_parts(1, family_name="山田", given_name="太郎", family_kana="ヤマダ", given_kana="タロウ")
    _record_in_parts(2, family_name="髙橋", given_name="花子", family_kana="タカハシ", given_kana="ハナコ")
    _record_in_parts(3, family_name="高橋", given_name="一郎")
    dynamo_calls.clear()

    def names(typed: str) -> list[str]:
        from urllib.parse import quote
        return sorted(p["name"] for p in search(acme, f"name={quote(typed)}&limit=1"))

    assert names("ヤマダ") == names("やまだ") == names("ﾔﾏﾀﾞ") == names("山田太郎") == ["山田 太郎"]
    assert names("高橋") == names("髙橋") == ["高橋 一郎", "髙橋 花子"] and names("たかはし") == ["髙橋 花子"]
    assert "Scan" not in dynamo_calls and "Query" in dynamo_calls


def test_a_phone_is_stored_in_e164_and_as_typed_and_agencies_see_e164(acme):
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": "c-tel", "name": "山田 太郎", "email": "c-tel@example.jp", "phone": "０９０－１２３４－５６７８"},
        "application_id": "a-tel", "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}}).encode()
    assert acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body).status_code == 202
    pid = person_id(acme, "c-tel@example.jp")
    shown = get(acme, f"/admin/tenants/acme/people/{pid}").json_body
    assert (shown["phone"], shown["phone_display"]) == ("+819012345678", "０９０－１２３４－５６７８")
    settings = get(acme, "/admin/tenants/acme/settings").json_body
    assert settings["phone_region"] == "JP"
    refused = acme.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps({**SETTINGS, "phone_region": "Japan"}))
    assert refused.status_code == 400 and refused.json_body["error"] == "bad_request"


def test_people_stored_before_search_key_get_todays_index_terms_on_their_next_write(acme):
    from chalicelib.adapters.dynamo import keys
    from chalicelib.adapters.dynamo.models import IndexItem, PersonItem

    webhook(acme, 1, name="Yamada  Hanako")
    pid = person_id(acme, "c-1@example.jp")
    item = PersonItem.get(*keys.profile_key("acme", pid))  # rewritten as this hub stored people before: form 1
    item.terms_form, item.phone_display, item.phone = None, None, "090-1234-5678"
    item.save()
    new_form = IndexItem.get(*keys.index_key("acme", pid, "name", "yamadahanako"))
    new_form.delete()
    IndexItem(*keys.index_key("acme", pid, "name", "yamada hanako"), person_id=pid).save()
    shown = get(acme, f"/admin/tenants/acme/people/{pid}").json_body  # read: the typed phone, in E.164 for JP
    assert (shown["phone"], shown["phone_display"]) == ("+819012345678", "090-1234-5678")

    webhook(acme, 1, name="Yamada  Hanako", kind="candidate.applied", application="a-again")  # the next write, same name
    names = [i.sk for i in IndexItem.query(keys.index_pk("acme", "name", ""), IndexItem.sk.startswith("yamada"))]
    assert names == [f"yamadahanako#{pid}"]
    assert [p["id"] for p in search(acme, "name=yamada%20hana")] == [pid]
    assert PersonItem.get(*keys.profile_key("acme", pid)).terms_form == 2
