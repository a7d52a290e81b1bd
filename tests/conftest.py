"""Test setup: safe AWS defaults BEFORE the app is imported, moto fixtures, the Chalice client."""
from __future__ import annotations

import json
import os
from pathlib import Path

# Settings the app reads; set before any app import so nothing can reach real AWS.
os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
    "HUB_STAGE": "test", "HUB_TABLE": "relations-hub-test", "HUB_ADMIN_TOKEN": "test-admin-token",
    "POWERTOOLS_METRICS_NAMESPACE": "RelationsHub", "POWERTOOLS_DEV": "false",
    "HUB_NOTICE_DELAY_SECONDS": "0", "HUB_PUBLIC_URL": "https://hub.example.test",
    "HUB_AGENCY_TIMEOUT_S": "1", "HUB_AGENCY_PARALLELISM": "1",
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

import pytest  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
ADMIN = {"Authorization": "Bearer test-admin-token"}


def load_fixture(name: str) -> dict:
    """The one loader for recorded deliveries: tests/fixtures/<name>.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def source_fixtures(source: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / "sources" / source).glob("*.json"))


@pytest.fixture
def aws():
    """In-process moto with the hub's table; the hub rebuilt to use it."""
    from moto import mock_aws

    from chalicelib import wiring
    from chalicelib.adapters import dynamo
    from tools.local_aws import provision

    with mock_aws():
        queue_env = provision()
        os.environ.update(queue_env)
        wiring.reset()
        dynamo.configure(os.environ["HUB_TABLE"])
        yield
        wiring.reset()
        for name in queue_env:
            os.environ.pop(name, None)


@pytest.fixture
def loopback_egress(monkeypatch):
    """Let the hub call servers on 127.0.0.1 (plain http included), as the local stage does: for the
    tests that run a vendor, an agency or a mail server on loopback. Every other test runs the
    strict policy of a deployed stage (HUB_STAGE=test). Never honoured inside Lambda (settings.py)."""
    from chalicelib import wiring

    monkeypatch.setenv("HUB_EGRESS_ALLOW_LOOPBACK", "1")
    wiring.reset()
    yield
    wiring.reset()


@pytest.fixture
def client(aws):
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture
def hub(aws):
    from chalicelib import wiring

    return wiring.hub()


def connect(client, tenant: str, source: str, secret: str, api_key: str | None = None) -> None:
    body = {"webhook_secret": secret} if api_key is None else {"webhook_secret": secret, "api_key": api_key}
    response = client.http.put(f"/admin/tenants/{tenant}/sources/{source}", headers={**ADMIN, "Content-Type": "application/json"},
                               body=json.dumps(body))
    assert response.status_code == 200, response.body


SETTINGS = {"company_name": "サンプル株式会社", "sender_email": "careers@example.com",
            "postal_address": "〒100-0001 東京都千代田区千代田1-1", "contact": "careers@example.com", "default_locale": "ja"}


def sent_mail() -> list:
    """Every message the in-process SES accepted, parsed, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from tools.mailbox import parse_raw
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return parse_raw(m.raw_data for m in backend.sent_messages if hasattr(m, "raw_data"))


def drain(runner_module=None, *, rounds: int = 20) -> None:
    """Run the queue consumers as Lambda would until the queues are empty."""
    import boto3

    import app as app_module
    from chalicelib.adapters import resources
    from tools.local_runner import LocalRunner, QueueBinding

    runner = LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), retry_after_s=0,
                         queues=[QueueBinding(os.environ[resources.queue_env(name)], spec["consumer"])
                                 for name, spec in resources.QUEUES.items()])
    for _ in range(rounds):
        if not runner.drain_once():
            return


@pytest.fixture(scope="session")
def make_httpserver():
    """pytest-httpserver's server playing vendors and agencies, threaded: a test's deliberately slow
    answer must not hold up the next test's requests."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()
