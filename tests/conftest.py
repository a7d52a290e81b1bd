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
