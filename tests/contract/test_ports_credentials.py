"""The Credentials port's binding rules, held to both sides: the fake (tests/fakes.py) and Secrets
Manager (chalicelib/adapters/secrets.py on in-process moto). A secret dropped is gone for every reader;
an api key survives a write without one unless the write drops it (its api_base_url moved)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.domain.errors import PermanentError
from chalicelib.domain.ports import Credentials
from tests.fakes import FakeCredentials


@pytest.fixture(params=["fake", "secretsmanager"])
def credentials(request: pytest.FixtureRequest) -> Iterator[Credentials]:
    if request.param == "fake":
        yield FakeCredentials()
        return
    from moto import mock_aws

    from chalicelib.adapters.secrets import SecretsManagerCredentials

    with mock_aws():
        yield SecretsManagerCredentials("relations-hub/contract")


def test_a_write_without_an_api_key_keeps_the_stored_one_unless_it_drops_it(credentials):
    credentials.store_source("acme", "lever", "secret-1", "key-1", "https://api.lever.co/v1")
    credentials.store_source("acme", "lever", "secret-2", None)
    kept = credentials.source("acme", "lever", fresh=True)
    assert kept.api_key == "key-1" and kept.api_base_url == "https://api.lever.co/v1"

    credentials.store_source("acme", "lever", "secret-2", None, "https://api.sandbox.lever.co/v1", drop_api_key=True)

    moved = credentials.source("acme", "lever", fresh=True)
    assert moved.api_key is None and moved.api_base_url == "https://api.sandbox.lever.co/v1"
    assert moved.webhook_secrets[0] == "secret-2"
    credentials.store_source("acme", "lever", "secret-2", "key-2", drop_api_key=True)  # a new key always counts
    assert credentials.source("acme", "lever", fresh=True).api_key == "key-2"


def test_a_dropped_smtp_password_is_gone(credentials):
    credentials.drop_smtp_password("acme")  # nothing stored: nothing happens
    assert credentials.smtp_password("acme") is None
    credentials.store_smtp_password("acme", "p4ssw0rd")
    assert credentials.smtp_password("acme") == "p4ssw0rd"
    credentials.drop_smtp_password("acme")
    assert credentials.smtp_password("acme") is None
    credentials.store_smtp_password("acme", "again")
    assert credentials.smtp_password("acme") == "again"


def test_a_dropped_agency_auth_is_gone(credentials):
    credentials.drop_agency_auth("acme", "partner")
    credentials.store_agency_auth("acme", "partner", {"type": "bearer", "token": "agency-token"})
    assert credentials.agency_auth("acme", "partner") == {"type": "bearer", "token": "agency-token"}
    credentials.drop_agency_auth("acme", "partner")
    with pytest.raises(PermanentError):
        credentials.agency_auth("acme", "partner")
