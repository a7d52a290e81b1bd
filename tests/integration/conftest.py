"""Fixtures shared by the integration tests: a tenant with a source and settings, the sandbox agency."""
from __future__ import annotations

import json

import pytest

from tests.conftest import ADMIN, SETTINGS, connect
from tools.sandbox_agency import SandboxAgency

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"          # the tenant's standard-webhooks source
AGENCY_SECRET = "whsec_c2FuZGJveC1hZ2VuY3ktc2VjcmV0LWtleQ=="  # what the sandbox agency verifies
JSON = {**ADMIN, "Content-Type": "application/json"}


@pytest.fixture
def agency(loopback_egress):
    """The sandbox agency on loopback; the hub may call it (the local stage's egress policy)."""
    server = SandboxAgency(secret=AGENCY_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def acme(client):
    connect(client, "acme", "standard", SECRET)
    client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps(SETTINGS))
    return client


