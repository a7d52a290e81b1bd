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


# -- IAM principals (HUB_ADMIN_AUTH=iam): the app maps each to its tenants -------------------------------

ACCOUNT = "123456789012"
PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/hub-platform"
ACME_ROLE = f"arn:aws:iam::{ACCOUNT}:role/tenants/hub-acme-admin"     # granted with its path
ACME_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/hub-acme-admin/hanako"  # what API Gateway passes on
STRANGER = f"arn:aws:sts::{ACCOUNT}:assumed-role/hub-unmapped/taro"


@pytest.fixture
def iam(client, monkeypatch):
    """The hub as deployed: API Gateway checked the SigV4 signature and passes the caller's ARN in the
    request context (requestContext.identity.userArn); a test names the caller in X-Test-Caller-Arn."""
    monkeypatch.setenv("HUB_ADMIN_AUTH", "iam")
    monkeypatch.setenv("HUB_PLATFORM_PRINCIPALS", f"{PLATFORM}, arn:aws:iam::{ACCOUNT}:user/not an arn")
    converter = client.http._local_gateway.event_converter
    original = converter.create_lambda_event

    def signed_by_the_gateway(method, path, headers, body=None):
        event = original(method, path, headers, body)
        arn = event["headers"].pop("x-test-caller-arn", None)
        if arn:
            event["requestContext"]["identity"]["userArn"] = arn
        return event

    monkeypatch.setattr(converter, "create_lambda_event", signed_by_the_gateway)
    return client


def caller(arn: str) -> dict:
    return {"X-Test-Caller-Arn": arn, "Content-Type": "application/json"}


def grant(client, tenant: str, principal: str, by: str = PLATFORM):
    return client.http.post(f"/admin/tenants/{tenant}/principals", headers=caller(by), body=json.dumps({"principal": principal}))


def test_an_iam_principal_of_one_tenant_gets_403_on_another_and_on_token_issuance(iam):
    from tests.integration.test_people_admin import ADMIN_OPERATIONS, _concrete, _content_type

    assert grant(iam, "acme", ACME_ROLE).status_code == 201
    assert grant(iam, "beta", f"arn:aws:iam::{ACCOUNT}:role/hub-beta-admin").status_code == 201
    assert iam.http.get("/admin/tenants/acme/audit", headers=caller(ACME_SESSION)).status_code == 200
    assert iam.http.get("/admin/openapi.json", headers=caller(ACME_SESSION)).status_code == 200
    let_through = []
    for method, path in ADMIN_OPERATIONS:  # as if the gateway's policy let the call through to every path
        if "{tenant}" not in path:
            continue
        answer = iam.http.request(method, _concrete(path, "beta"), headers={**caller(ACME_SESSION),
                                  "Content-Type": _content_type(path)}, body=b"{}")
        if answer.status_code != 403 or json.loads(answer.body)["error"] != "forbidden":
            let_through.append((method, path, answer.status_code))
    assert let_through == []
    for method, path, body in (("POST", "/admin/tenants/acme/tokens", b"{}"), ("GET", "/admin/tenants/acme/tokens", b""),
                               ("DELETE", "/admin/tenants/acme/tokens/0123456789abcdef", b""),
                               ("POST", "/admin/tenants/acme/principals", json.dumps({"principal": STRANGER}).encode()),
                               ("GET", "/admin/tenants/acme/principals", b""),
                               ("DELETE", "/admin/tenants/acme/principals/0123456789abcdef", b"")):
        answer = iam.http.request(method, path, headers=caller(ACME_SESSION), body=body)
        assert answer.status_code == 403 and answer.json_body["error"] == "forbidden", (method, path)  # platform only


def test_an_unmapped_iam_principal_gets_403_everywhere(iam):
    from tests.integration.test_people_admin import ADMIN_OPERATIONS, _concrete, _content_type

    grant(iam, "acme", ACME_ROLE)
    let_through = []
    for method, path in ADMIN_OPERATIONS:
        answer = iam.http.request(method, _concrete(path, "acme"), headers={**caller(STRANGER),
                                  "Content-Type": _content_type(path)}, body=b"{}")
        if answer.status_code != 403:
            let_through.append((method, path, answer.status_code))
    assert let_through == []  # /admin/openapi.json included: it acts for no tenant
    assert iam.http.get("/admin/tenants/acme/audit", headers={"Content-Type": "application/json"}).status_code == 401


def test_a_platform_principal_issues_tokens_and_grants_and_withdraws_them(iam):
    assert iam.http.get("/admin/tenants/acme/audit", headers=caller(ACME_SESSION)).status_code == 403  # not yet granted
    granted = grant(iam, "acme", ACME_ROLE)
    assert granted.status_code == 201
    assert granted.json_body["principal"] == f"arn:aws:iam::{ACCOUNT}:role/hub-acme-admin"  # one spelling: no path
    assert grant(iam, "acme", ACME_SESSION).json_body == granted.json_body  # the same role: the same grant
    listed = iam.http.get("/admin/tenants/acme/principals", headers=caller(PLATFORM)).json_body["principals"]
    assert listed == [granted.json_body] and listed[0]["granted_by"] == PLATFORM
    assert iam.http.get("/admin/tenants/acme/audit", headers=caller(ACME_SESSION)).status_code == 200
    issued = iam.http.post("/admin/tenants/acme/tokens", headers=caller(PLATFORM), body=b"{}")
    assert issued.status_code == 201

    revoked = iam.http.delete(f"/admin/tenants/acme/principals/{granted.json_body['id']}", headers=caller(PLATFORM))
    assert revoked.json_body == {"revoked": granted.json_body["id"]}
    assert iam.http.get("/admin/tenants/acme/audit", headers=caller(ACME_SESSION)).status_code == 403  # at once
    assert iam.http.delete(f"/admin/tenants/acme/principals/{granted.json_body['id']}", headers=caller(PLATFORM)).status_code == 404
    trail = iam.http.get("/admin/tenants/acme/audit", headers=caller(PLATFORM)).json_body["entries"]
    assert [(e["action"], e["who"]) for e in trail if e["action"].startswith(("principal.", "token."))] == [
        ("principal.revoke", PLATFORM), ("token.issue", PLATFORM), ("principal.grant", PLATFORM), ("principal.grant", PLATFORM)]


@pytest.mark.parametrize("principal", ["", "hub-acme-admin", "arn:aws:s3:::bucket", f"arn:aws:iam::{ACCOUNT}:group/admins",
                                       f"arn:aws:iam::{ACCOUNT}:role/", "arn:aws:iam::12345:role/x", 42, None])
def test_a_grant_names_an_iam_role_or_user_arn(iam, principal):
    answer = iam.http.post("/admin/tenants/acme/principals", headers=caller(PLATFORM), body=json.dumps({"principal": principal}))
    assert answer.status_code == 400 and set(answer.json_body) == {"error", "message"}


def test_without_iam_auth_a_request_context_identity_counts_for_nothing(iam, monkeypatch):
    monkeypatch.setenv("HUB_ADMIN_AUTH", "token")  # make run, tests: bearer tokens only
    answer = iam.http.get("/admin/tenants/acme/audit", headers=caller(PLATFORM))
    assert answer.status_code == 401 and answer.json_body["error"] == "unauthorized"
