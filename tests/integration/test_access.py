"""Admin access through the app: tenant tokens expire and are listed without their secrets; in AWS
(HUB_ADMIN_AUTH=iam) the IAM principal behind a call is mapped to its tenants by the app itself."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.adapters.dynamo import keys
from chalicelib.domain.events import iso
from tests.conftest import ADMIN

JSON = {**ADMIN, "Content-Type": "application/json"}


def issue(client, tenant="acme", body=None, headers=JSON):
    return client.http.post(f"/admin/tenants/{tenant}/tokens", headers=headers,
                            body=json.dumps(body) if body is not None else b"")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def rewrite_token(tenant: str, token_id: str, **attributes) -> None:
    """Change a stored token as time or an older release would have left it (test-only table access)."""
    pk, sk = keys.admin_token_key(tenant, token_id)
    table = boto3.resource("dynamodb").Table("relations-hub-test")
    sets = {k: v for k, v in attributes.items() if v is not None}
    removes = [k for k, v in attributes.items() if v is None]
    expression = ("SET " + ", ".join(f"{k} = :{k}" for k in sets) if sets else "") + \
                 (" REMOVE " + ", ".join(removes) if removes else "")
    table.update_item(Key={"pk": pk, "sk": sk}, UpdateExpression=expression.strip(),
                      **({"ExpressionAttributeValues": {f":{k}": v for k, v in sets.items()}} if sets else {}))


# -- tenant tokens: expiry and listing ------------------------------------------------------------------

def test_a_token_expires_after_90_days_by_default_or_the_days_asked(client):
    default = issue(client)
    assert default.status_code == 201 and default.headers["Cache-Control"] == "no-store"
    expires = datetime.fromisoformat(default.json_body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=89, hours=23) < expires - datetime.now(UTC) <= timedelta(days=90)
    week = issue(client, body={"expires_in_days": 7}).json_body
    assert timedelta(days=6, hours=23) < datetime.fromisoformat(week["expires_at"].replace("Z", "+00:00")) - datetime.now(UTC)


@pytest.mark.parametrize("body", [{"expires_in_days": 0}, {"expires_in_days": 367}, {"expires_in_days": "30"},
                                  {"expires_in_days": 2.5}, {"lifetime": 3}, [], "x"])
def test_a_life_outside_1_to_366_days_is_400(client, body):
    answer = issue(client, body=body)
    assert answer.status_code == 400 and set(answer.json_body) == {"error", "message"}


def test_an_expired_token_is_refused_exactly_like_an_unknown_one(client):
    issued = issue(client, body={"expires_in_days": 1}).json_body
    assert client.http.get("/admin/tenants/acme/audit", headers=bearer(issued["token"])).status_code == 200
    rewrite_token("acme", issued["id"], valid_until=iso(datetime.now(UTC) - timedelta(seconds=1)))

    expired = client.http.get("/admin/tenants/acme/audit", headers=bearer(issued["token"]))
    unknown = client.http.get("/admin/tenants/acme/audit", headers=bearer(issued["token"][:-2] + "xx"))
    assert (expired.status_code, expired.body) == (unknown.status_code, unknown.body)
    assert expired.status_code == 401 and expired.json_body["error"] == "unauthorized"


def test_a_token_stored_before_tokens_expired_lives_90_days_from_its_creation(client):
    young, old = issue(client).json_body, issue(client).json_body
    for token, age in ((young, 89), (old, 91)):
        rewrite_token("acme", token["id"], valid_until=None, expires_at=None,
                      created_at=iso(datetime.now(UTC) - timedelta(days=age)))
    assert client.http.get("/admin/tenants/acme/audit", headers=bearer(young["token"])).status_code == 200
    assert client.http.get("/admin/tenants/acme/audit", headers=bearer(old["token"])).status_code == 401
    listed = {t["id"]: t for t in client.http.get("/admin/tenants/acme/tokens", headers=ADMIN).json_body["tokens"]}
    assert (listed[young["id"]]["expired"], listed[old["id"]]["expired"]) == (False, True)


def test_tokens_are_listed_with_issuer_expiry_and_last_use_never_a_secret(client):
    first = issue(client).json_body
    second = issue(client, body={"expires_in_days": 30}).json_body
    client.http.get("/admin/tenants/acme/audit", headers=bearer(first["token"]))

    answer = client.http.get("/admin/tenants/acme/tokens", headers=ADMIN)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    tokens = answer.json_body["tokens"]
    assert [t["id"] for t in tokens] == [first["id"], second["id"]]
    assert all(t["created_by"] == "admin" and t["created_at"] and not t["expired"] for t in tokens)
    assert tokens[0]["last_used_at"] is not None and tokens[1]["last_used_at"] is None
    assert tokens[1]["expires_at"] == second["expires_at"]
    items = boto3.resource("dynamodb").Table("relations-hub-test").scan()["Items"]  # test-only look at the digests
    digests = [item["digest"] for item in items if item.get("kind") == "admin_token"]
    assert len(digests) == 2
    for secret in (first["token"], second["token"], first["token"].split(".")[2], *digests):
        assert secret not in answer.body.decode()
    assert client.http.get("/admin/tenants/other/tokens", headers=ADMIN).json_body == {"tokens": []}


def test_a_tenant_token_cannot_list_issue_or_revoke_tokens(client):
    issued = issue(client).json_body
    scoped = bearer(issued["token"])
    for method, path in (("GET", "/admin/tenants/acme/tokens"), ("POST", "/admin/tenants/acme/tokens"),
                         ("DELETE", f"/admin/tenants/acme/tokens/{issued['id']}")):
        answer = client.http.request(method, path, headers=scoped)
        assert answer.status_code == 403 and answer.json_body["error"] == "forbidden", (method, path)
