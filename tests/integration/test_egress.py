"""Outbound calls and stored secrets through the admin API, as a hostile tenant admin would try them.

Outside the local stage (the suite runs HUB_STAGE=test) no source, agency or mail server may be on a
loopback, link-local, private or reserved address, however written, nor behind a name that resolves to
one; a tenant-scoped token cannot make the hub send a stored secret to a host it chose, even with a
listener waiting on loopback. Where loopback is allowed (the `loopback_egress` opt-in, as in the local
stage), a partner's 302 is still not followed: only the no-redirect rule stands between the call and
the other server."""
from __future__ import annotations

import json
import os
import socket
from types import SimpleNamespace

import boto3
import pytest
from pytest_httpserver import HTTPServer

import app as app_module
from chalicelib.adapters import resources
from integrations import registry
from tests import fakevendor
from tests.conftest import ADMIN, SETTINGS, drain
from tests.integration.conftest import AGENCY_SECRET
from tools.local_runner import LocalRunner, QueueBinding

JSON = {**ADMIN, "Content-Type": "application/json"}
PUBLIC = "93.184.215.14"
# names the test's resolver answers (everything else goes to the system resolver)
NAMES = {"metadata.attacker.example": "169.254.169.254", "ten.attacker.example": "10.0.0.1", "v6.attacker.example": "::1",
         "mapped.attacker.example": "::ffff:127.0.0.1", "agency.partner.example": PUBLIC, "api.acme-ats.example": PUBLIC}
REFUSED = ["http://agency.partner.example/v1", "https://169.254.169.254", "https://10.0.0.1", "https://[::1]",
           "https://0x7f000001", "https://2130706433", "https://017700000001", "https://[::ffff:127.0.0.1]",
           "https://localhost", "https://127.0.0.1", *(f"https://{name}" for name in NAMES if "attacker" in name)]


@pytest.fixture(autouse=True)
def resolver(monkeypatch):
    """A resolver that knows the test's names; the rest (localhost, ...) is resolved for real."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in NAMES:
            family = socket.AF_INET6 if ":" in NAMES[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (NAMES[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def tenant_token(client):
    answer = client.http.post("/admin/tenants/acme/tokens", headers=ADMIN)
    assert answer.status_code == 201, answer.body
    return {"Authorization": f"Bearer {answer.json_body['token']}", "Content-Type": "application/json"}


@pytest.fixture
def listener():
    """A server on loopback that records whatever reaches it."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/").respond_with_json({"results": []})
    server.start()
    yield server
    server.clear()
    server.stop()


def agency_body(endpoint, **extra):
    return {"name": "Partner", "legal_name": "Partner K.K.", "country": "JP", "endpoint": endpoint,
            "auth": {"type": "standard_webhooks", "secret": AGENCY_SECRET}, "data_items": ["name", "email"], **extra}


def put_agency(client, headers, body, slug="partner"):
    return client.http.put(f"/admin/tenants/acme/agencies/{slug}", headers=headers, body=json.dumps(body))


def put_source(client, headers, body, source=fakevendor.NAME):
    return client.http.put(f"/admin/tenants/acme/sources/{source}", headers=headers, body=json.dumps(body))


@pytest.fixture
def vendor_registered(monkeypatch):
    monkeypatch.setitem(registry.SOURCES, fakevendor.NAME, fakevendor)
    monkeypatch.setitem(registry.ENRICHED, fakevendor.NAME, fakevendor)


@pytest.mark.parametrize("url", REFUSED)
def test_outside_the_local_stage_an_agency_endpoint_on_a_private_address_is_refused(client, url):
    answer = put_agency(client, JSON, agency_body(url))  # even for the platform operator
    assert answer.status_code == 400 and answer.json_body["error"] == "egress_refused", answer.body
    assert client.http.get("/admin/tenants/acme/agencies/partner", headers=ADMIN).status_code == 404


@pytest.mark.parametrize("url", REFUSED)
def test_outside_the_local_stage_a_vendor_api_on_a_private_address_is_refused(client, vendor_registered, url):
    answer = put_source(client, JSON, {"webhook_secret": "vendor-secret", "api_key": "k", "api_base_url": url})
    assert answer.status_code == 400 and answer.json_body["error"] == "egress_refused", answer.body


def test_a_tenant_token_cannot_send_any_stored_secret_to_a_host_it_chose(client, vendor_registered, tenant_token, listener):
    # the platform operator connects the tenant: a vendor key, an agency's auth, an SMTP password
    assert put_source(client, JSON, {"webhook_secret": "vendor-secret", "api_key": "platform-vendor-key"}).status_code == 200
    assert put_agency(client, JSON, agency_body("https://agency.partner.example/v1")).status_code == 200
    smtp = {"host": "smtp.partner.example", "port": 587, "username": "hub", "password": "smtp-password"}
    NAMES["smtp.partner.example"] = PUBLIC
    try:
        answer = client.http.put("/admin/tenants/acme/settings", headers=JSON,
                                 body=json.dumps({**SETTINGS, "mail_transport": "smtp", "smtp": smtp}))
        assert answer.status_code == 200, answer.body
        here = listener.url_for("/").rstrip("/")

        # the tenant admin points each of them at its listener, or at a host of its choosing
        for url in (here, here.replace("http://", "https://"), "https://attacker.example.com"):
            refused = put_source(client, tenant_token, {"webhook_secret": "vendor-secret", "api_base_url": url})
            assert refused.status_code == 400 and refused.json_body["error"] == "egress_refused", url
        refused = put_agency(client, tenant_token, {k: v for k, v in agency_body(here).items() if k != "auth"})
        assert refused.status_code == 400 and refused.json_body["error"] == "egress_refused"
        for host in ("127.0.0.1", "localhost"):
            refused = client.http.put("/admin/tenants/acme/settings", headers=tenant_token, body=json.dumps(
                {**SETTINGS, "mail_transport": "smtp", "smtp": {**smtp, "host": host, "port": listener.port, "password": None}}))
            assert refused.status_code == 400 and refused.json_body["error"] == "egress_refused"

        # a public host of its choosing is allowed for the agency, but the stored auth does not follow
        moved = put_agency(client, tenant_token, {k: v for k, v in agency_body("https://agency.partner.example/elsewhere").items()
                                                  if k != "auth"})
        assert moved.status_code == 200 and moved.json_body["secrets"] == {"auth": False}
        # a documented vendor host is allowed, but the platform's key does not follow
        documented = put_source(client, tenant_token, {"webhook_secret": "vendor-secret",
                                                       "api_base_url": "https://api.acme-ats.example/v1"})
        assert documented.status_code == 200
        assert documented.json_body["api_key_stored"] is False
        assert documented.json_body["secrets"] == {"webhook_secret": True, "api_key": False}
        # and the jobs run: nothing reaches the listener
        assert client.http.post("/admin/tenants/acme/jobs/agency_batch", headers=tenant_token).status_code == 200
        assert client.http.post("/admin/tenants/acme/jobs/poll_sources", headers=tenant_token).status_code == 200
        assert listener.log == []
        from chalicelib import wiring
        stored = wiring.hub().ports.credentials
        assert stored.source("acme", fakevendor.NAME).api_key is None
        assert stored.smtp_password("acme") == "smtp-password"  # the server did not change
    finally:
        NAMES.pop("smtp.partner.example", None)


# -- where loopback is allowed (the local stage), a redirect is still not followed ------------------------

@pytest.fixture
def elsewhere():
    """The server a partner redirects to: records whether it was called."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/steal", method="GET").respond_with_json({"results": []})
    server.expect_request("/steal", method="POST").respond_with_json({"results": []})
    server.start()
    yield server
    server.clear()
    server.stop()


def enrich_runner():
    queue = resources.QUEUES["enrich"]
    return LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), retry_after_s=0,
                       queues=[QueueBinding(os.environ[resources.queue_env("enrich")], queue["consumer"])])


def test_a_vendor_redirect_is_not_followed_and_the_key_reaches_no_other_server(client, vendor_registered, loopback_egress,
                                                                               httpserver, elsewhere):
    httpserver.expect_request("/api/applications/a1").respond_with_data(
        "", status=302, headers={"Location": elsewhere.url_for("/steal")})
    answer = put_source(client, JSON, {"webhook_secret": "vendor-secret", "api_key": "platform-vendor-key",
                                       "api_base_url": httpserver.url_for("/api")})
    assert answer.status_code == 200, answer.body
    body = json.dumps({"event": "application.archived", "id": "d1", "application_id": "a1"}).encode()
    assert client.http.post(f"/webhooks/acme/{fakevendor.NAME}", headers=fakevendor.sign(body, "vendor-secret"),
                            body=body).status_code == 202
    for _ in range(3):
        enrich_runner().drain_once()
    assert len(httpserver.log) >= 1  # the vendor was asked...
    assert elsewhere.log == []      # ...and its redirect was not followed


def test_an_agency_redirect_is_not_followed(acme, loopback_egress, httpserver, elsewhere):
    from tests.integration.test_agency_batches import candidates, configure, decide, run

    httpserver.expect_request("/agency/referrals", method="POST").respond_with_data(
        "", status=302, headers={"Location": elsewhere.url_for("/steal")})
    configure(acme, SimpleNamespace(url=httpserver.url_for("/agency")))
    for token in candidates(acme, 1).values():
        decide(acme, token, relay="yes")
    [report] = run(acme)
    assert report["failed_batches"] == 1 and report["sent"] == 0
    assert len(httpserver.log) == 1 and elsewhere.log == []  # refused as permanent: not retried, not followed
    drain()


def test_the_local_stage_may_call_a_partner_on_loopback(acme, agency):
    from tests.integration.test_agency_batches import configure

    assert configure(acme, agency).json_body["endpoint"] == agency.url  # the sandbox agency, over plain http
