"""OAuth sources that stay connected (issue 16, point 10): freee人事労務's access token refreshed
before it expires against a real token endpoint on loopback, the rotated refresh token stored in
Secrets Manager (moto) before the new access token is used; a refused refresh or a refused token
marks the source failing on its admin GET, and a call that works clears it."""
from __future__ import annotations

import json
from urllib.parse import parse_qs

import boto3
import pytest
from werkzeug import Request, Response

from tests.conftest import ADMIN

JSON = {**ADMIN, "Content-Type": "application/json"}
ME = {"companies": [{"id": 7, "role": "company_admin"}]}


@pytest.fixture
def freee(client, httpserver, loopback_egress):
    """A freee API and token endpoint on loopback; `seen` records each call as (path, form or auth)."""
    seen: list[tuple[str, object]] = []
    token_answers: list[tuple[int, dict]] = []

    def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        seen.append(("/token", form))
        status, body = token_answers.pop(0) if len(token_answers) > 1 else token_answers[0]
        return Response(json.dumps(body), status=status, content_type="application/json")

    def api(request: Request) -> Response:
        seen.append((request.path, request.headers.get("Authorization")))
        if request.headers.get("Authorization") != f"Bearer {api.valid}":
            return Response("{}", status=401, content_type="application/json")
        body = ME if request.path.endswith("/users/me") else []
        return Response(json.dumps(body), status=200, content_type="application/json")

    api.valid = "a1"  # type: ignore[attr-defined]
    httpserver.expect_request("/token", method="POST").respond_with_handler(token)
    httpserver.expect_request("/hr/api/v1/users/me").respond_with_handler(api)
    httpserver.expect_request("/hr/api/v1/companies/7/employees").respond_with_handler(api)
    return {"seen": seen, "token": token_answers, "api": api, "url": httpserver.url_for}


def connect(client, freee, **oauth):
    body = {"api_base_url": freee["url"]("/hr"),
            "oauth": {"client_id": "cid", "client_secret": "csecret", "token_url": freee["url"]("/token"), **oauth}}
    answer = client.http.put("/admin/tenants/acme/sources/freee_hr", headers=JSON, body=json.dumps(body))
    assert answer.status_code == 200, answer.body
    assert answer.json_body["secrets"]["oauth"] is True
    assert "csecret" not in answer.body.decode() and "r1" not in answer.body.decode()


def poll(client):
    answer = client.http.post("/admin/tenants/acme/jobs/poll_sources", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    return answer.json_body["sources"][0]


def source(client):
    answer = client.http.get("/admin/tenants/acme/sources/freee_hr", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def stored_oauth():
    from chalicelib import wiring

    name = wiring.hub().ports.credentials.name("acme", "freee_hr")  # type: ignore[attr-defined]
    return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])["oauth"]


def test_a_freee_token_near_expiry_is_refreshed_and_the_rotated_refresh_token_stored_before_use(client, freee):
    connect(client, freee, refresh_token="r1", access_token="a0", expires_in=300)  # 5 minutes left: due
    freee["token"].append((200, {"access_token": "a1", "token_type": "bearer", "expires_in": 21600,
                                 "refresh_token": "r2"}))
    assert poll(client)["stopped"] == "done"
    token_calls = [form for path, form in freee["seen"] if path == "/token"]
    assert token_calls == [{"grant_type": "refresh_token", "client_id": "cid", "client_secret": "csecret",
                            "refresh_token": "r1"}]
    assert all(auth == "Bearer a1" for path, auth in freee["seen"] if path != "/token")  # only the new token used
    stored = stored_oauth()
    assert (stored["refresh_token"], stored["access_token"]) == ("r2", "a1")
    # the next poll, hours before the new expiry, calls no token endpoint
    assert poll(client)["stopped"] in ("done", "busy")
    assert len([1 for path, _ in freee["seen"] if path == "/token"]) == 1
    shown = source(client)
    assert shown["status"] == "ok" and shown["secrets"]["oauth"] is True
    assert not {"r2", "a1", "csecret"} & set(json.dumps(shown).replace('"', " ").split())


def test_a_refused_refresh_marks_the_source_failing_and_a_new_connection_clears_it(client, freee):
    connect(client, freee, refresh_token="r1")
    freee["token"].append((401, {"error": "invalid_grant", "error_description": "指定された認可グラントは不正"}))
    report = poll(client)
    assert report["stopped"] == "partner_failed"
    shown = source(client)
    assert (shown["status"], shown["reason"]) == ("failing", "refresh_refused") and shown["since"]
    assert "認可" not in json.dumps(shown, ensure_ascii=False)  # the vendor's words never reach the answer
    assert stored_oauth()["refresh_token"] == "r1"  # nothing stored from a refused refresh

    freee["token"][:] = [(200, {"access_token": "a1", "expires_in": 21600, "refresh_token": "r3"})]
    connect(client, freee, refresh_token="r2")
    assert poll(client)["stopped"] == "done"
    assert source(client)["status"] == "ok"
    assert stored_oauth()["refresh_token"] == "r3"


def test_a_token_the_vendor_refuses_marks_the_source_failing_until_a_call_works(client, freee, capsys):
    freee["api"].valid = "a-other"
    connect(client, freee, refresh_token="r1", access_token="a1", expires_in=21600)
    capsys.readouterr()
    assert poll(client)["stopped"] == "partner_failed"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"SourceFailing"' in line]
    assert len(emf) == 1 and emf[0]["source"] == "freee_hr" and emf[0]["SourceFailing"] in (1.0, [1.0])
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "source"]]  # never the tenant
    assert "acme" not in json.dumps(emf[0])
    assert [path for path, _ in freee["seen"]] == ["/hr/api/v1/users/me"]  # not due: no refresh
    shown = source(client)
    assert (shown["status"], shown["reason"]) == ("failing", "credentials_refused")
    freee["api"].valid = "a1"
    assert poll(client)["stopped"] == "done"
    assert source(client)["status"] == "ok"


def test_the_source_get_is_for_its_tenant_only_and_unknown_sources_are_404(client, freee):
    connect(client, freee, refresh_token="r1")
    assert client.http.get("/admin/tenants/acme/sources/freee_hr").status_code == 401
    assert client.http.get("/admin/tenants/acme/sources/nope", headers=ADMIN).status_code == 404
    assert client.http.get("/admin/tenants/other/sources/freee_hr", headers=ADMIN).status_code == 404
