"""The admin API of the backbone: source connections and people lookups, behind the bearer token."""
from __future__ import annotations

import json

import boto3
import pytest

from tests.conftest import ADMIN, connect

JSON = {**ADMIN, "Content-Type": "application/json"}


def put_source(client, body, tenant="acme", source="greenhouse", headers=JSON):
    return client.http.put(f"/admin/tenants/{tenant}/sources/{source}", headers=headers,
                           body=body if isinstance(body, bytes) else json.dumps(body))


def test_health_is_open(client):
    answer = client.http.get("/health")
    assert answer.status_code == 200 and answer.json_body == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="},
                                     {"Authorization": "Bearer "}])
def test_admin_routes_refuse_missing_or_wrong_tokens(client, headers):
    for answer in (client.http.get("/admin/tenants/acme/people?email=a@example.com", headers=headers),
                   client.http.get("/admin/tenants/acme/people/p_1", headers=headers),
                   put_source(client, {"webhook_secret": "long-enough"}, headers={**headers, "Content-Type": "application/json"})):
        assert answer.status_code == 401 and answer.json_body["error"] == "unauthorized"


def test_connecting_a_source_stores_the_secret_in_secrets_manager_only(client):
    answer = put_source(client, {"webhook_secret": "s3cret-value-1", "api_key": "key-value-1"})
    assert answer.status_code == 200
    assert "s3cret-value-1" not in answer.body.decode() and "key-value-1" not in answer.body.decode()
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(
        SecretId="relations-hub/test/acme/sources/greenhouse")["SecretString"])
    assert stored == {"webhook_secret": "s3cret-value-1", "api_key": "key-value-1"}
    items = boto3.client("dynamodb").scan(TableName="relations-hub-test")["Items"]  # test-only look at the table
    assert items and "s3cret-value-1" not in json.dumps(items) and "key-value-1" not in json.dumps(items)


def test_rotating_keeps_the_api_key_and_the_previous_secret(client):
    put_source(client, {"webhook_secret": "first-secret", "api_key": "the-key"})
    put_source(client, {"webhook_secret": "second-secret"})
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(
        SecretId="relations-hub/test/acme/sources/greenhouse")["SecretString"])
    assert (stored["webhook_secret"], stored["previous_webhook_secret"], stored["api_key"]) == ("second-secret", "first-secret", "the-key")


@pytest.mark.parametrize("body,code", [
    (b"not json", 400), (b"[]", 400), ({}, 400), ({"webhook_secret": 5}, 400), ({"webhook_secret": "short"}, 400),
    ({"webhook_secret": "long-enough", "api_key": ""}, 400), ({"webhook_secret": "long-enough", "extra": 1}, 400),
])
def test_bad_source_connections_are_400(client, body, code):
    answer = put_source(client, body)
    assert answer.status_code == code and set(answer.json_body) == {"error", "message"}


def test_unknown_source_or_bad_tenant_name_is_404(client):
    assert put_source(client, {"webhook_secret": "long-enough"}, source="nosuch").status_code == 404
    assert put_source(client, {"webhook_secret": "long-enough"}, tenant="UPPER").status_code == 404


def test_standard_source_needs_a_standard_webhooks_secret(client):
    answer = put_source(client, {"webhook_secret": "plain-text-secret"}, source="standard")
    assert answer.status_code == 400 and "whsec_" in answer.json_body["message"]


def test_people_lookup_needs_an_address(client):
    connect(client, "acme", "greenhouse", "long-enough")
    assert client.http.get("/admin/tenants/acme/people", headers=ADMIN).status_code == 400
    assert client.http.get("/admin/tenants/acme/people?email=not-an-address", headers=ADMIN).status_code == 400
    assert client.http.get("/admin/tenants/acme/people?email=nobody@example.com", headers=ADMIN).json_body == {"people": [], "next": None}


def test_unknown_person_is_404(client):
    answer = client.http.get("/admin/tenants/acme/people/p_nobody", headers=ADMIN)
    assert answer.status_code == 404 and answer.json_body["error"] == "not_found"


def test_in_aws_a_platform_principal_is_admitted_and_others_are_not(monkeypatch):
    from chalicelib.domain.errors import Forbidden, Unauthorized
    from chalicelib.handlers.http import require_admin

    monkeypatch.setenv("HUB_ADMIN_AUTH", "iam")
    monkeypatch.setenv("HUB_PLATFORM_PRINCIPALS", "arn:aws:iam::123456789012:user/hr-admin")
    require_admin({}, {"identity": {"userArn": "arn:aws:iam::123456789012:user/hr-admin"}})  # SigV4, checked by API Gateway
    with pytest.raises(Forbidden):  # authenticated by the gateway, but no platform principal
        require_admin({}, {"identity": {"userArn": "arn:aws:iam::123456789012:user/someone-else"}})
    with pytest.raises(Unauthorized):
        require_admin({}, {"identity": {"userArn": None}})
    monkeypatch.setenv("HUB_ADMIN_AUTH", "token")
    with pytest.raises(Unauthorized):
        require_admin({}, {"identity": {"userArn": "arn:aws:iam::123456789012:user/hr-admin"}})
