"""Connections to vendor APIs (chalicelib/services/connections.py) on the fakes: OAuth tokens
refreshed once per refresh token however many pollers ask, client-credentials tokens, Merge's
account token as a field of its own, and the credential fields an admin may send."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.errors import BadRequest, CredentialsRefused, EgressRefused
from chalicelib.domain.records import SourceCredentials
from chalicelib.services import Services
from chalicelib.services.connections import Connections
from integrations import registry
from integrations.sources import freee_hr, merge, smartrecruiters
from tests.fakes import Clock, FakeCredentials, FakeTokenEndpoint, FakeVendorApis

ROTATED = {"access_token": "a1", "token_type": "bearer", "expires_in": 21600, "refresh_token": "r2"}


class StaleContainer:
    """Another container's view of the same secret: its cache still holds what it read before the
    refresh (source), and, with `stale_reads`, so do its first reads past the cache (a read made
    just before the other container stored): the race two pollers run."""

    def __init__(self, shared: FakeCredentials, cached: SourceCredentials, stale_reads: int = 0) -> None:
        self._shared, self._cached, self._stale_reads = shared, cached, stale_reads

    def source(self, tenant: str, source: str, *, fresh: bool = False) -> SourceCredentials:
        return self._cached

    def oauth_tokens(self, tenant, source):
        if self._stale_reads:
            self._stale_reads -= 1
            return self._cached.oauth
        return self._shared.oauth_tokens(tenant, source)

    def store_oauth(self, tenant, source, tokens):
        self._shared.store_oauth(tenant, source, tokens)


def connect_freee(services: Services, **oauth) -> None:
    services.intake.connect_source("acme", "freee_hr", oauth={"client_id": "cid", "client_secret": "cs",
                                                                "refresh_token": "r1", **oauth})


def other_container(services: Services, credentials) -> Connections:
    p = services.ports
    return Connections(credentials=credentials, vendor_apis=p.vendor_apis, oauth_clients=p.oauth,
                       token_endpoint=p.token_endpoint, once=p.once, config=p.config, clock=p.clock)


def endpoint(services: Services) -> FakeTokenEndpoint:
    found = services.ports.token_endpoint
    assert isinstance(found, FakeTokenEndpoint)
    return found


@pytest.mark.parametrize("stale_reads", [0, 1])
def test_two_pollers_refresh_a_rotating_refresh_token_once_and_both_use_the_new_access_token(services, stale_reads):
    connect_freee(services, access_token="a0", expires_in=300)  # 5 minutes left: due
    credentials = services.ports.credentials
    assert isinstance(credentials, FakeCredentials)
    cached_elsewhere = credentials.source("acme", "freee_hr")
    endpoint(services).answer(ROTATED)

    first = services.intake._connections.api("acme", "freee_hr", freee_hr)
    second = other_container(services, StaleContainer(credentials, cached_elsewhere, stale_reads)).api(
        "acme", "freee_hr", freee_hr)

    assert [form["refresh_token"] for _, _, form in endpoint(services).calls] == ["r1"]  # r1 spent once
    assert first.headers == second.headers == {"Authorization": "Bearer a1"}  # type: ignore[attr-defined]
    stored = credentials.oauth_tokens("acme", "freee_hr")
    assert stored is not None and (stored.refresh_token, stored.access_token) == ("r2", "a1")


def test_the_rotated_refresh_token_is_stored_before_the_new_access_token_is_used(services):
    connect_freee(services)
    credentials = services.ports.credentials
    assert isinstance(credentials, FakeCredentials)
    order: list[str] = []
    store = credentials.store_oauth
    credentials.store_oauth = lambda *a: (order.append("stored"), store(*a))[1]  # type: ignore[method-assign]
    vendor_apis = services.ports.vendor_apis
    assert isinstance(vendor_apis, FakeVendorApis)
    endpoint(services).answer(ROTATED)
    build = vendor_apis.__call__
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeVendorApis, "__call__", lambda self, s, c: (order.append("used"), build(s, c))[1])
        services.intake._connections.api("acme", "freee_hr", freee_hr)
    assert order == ["stored", "used"]


def test_an_invalid_grant_marks_the_source_failing_with_a_reason_and_keeps_the_stored_token(services, clock: Clock):
    connect_freee(services)
    endpoint(services).answer(CredentialsRefused("freee_hr's token endpoint refused the grant (401 invalid_grant)"))
    with pytest.raises(CredentialsRefused):
        services.intake._connections.api("acme", "freee_hr", freee_hr)
    status = services.intake._connections.status("acme", "freee_hr")
    assert (status["status"], status["reason"]) == ("failing", "refresh_refused") and status["since"]
    assert services.ports.credentials.oauth_tokens("acme", "freee_hr").refresh_token == "r1"  # type: ignore[union-attr]


def test_smartrecruiters_client_credentials_get_a_bearer_token_and_no_refresh_token(services):
    services.intake.connect_source("acme", "smartrecruiters", webhook_secret="whsec-long-enough",
                                   oauth={"client_id": "cid", "client_secret": "cs"})
    endpoint(services).answer({"access_token": "t1", "expires_in": 1800, "token_type": "Bearer"})
    api = services.intake._connections.api("acme", "smartrecruiters", smartrecruiters)
    assert api.headers == {"Authorization": "Bearer t1"}  # type: ignore[attr-defined]
    (vendor, url, form), = endpoint(services).calls
    assert (url, form["grant_type"]) == (smartrecruiters.OAUTH.token_url, "client_credentials")
    assert "refresh_token" not in form


def test_merge_takes_its_account_token_as_a_field_of_its_own_bound_to_the_api_address(services):
    answer = services.intake.connect_source("acme", "merge", webhook_secret="whsec-long-enough", api_key="k",
                                            account_token="acct")
    assert answer == {"webhook_secret": True, "api_key": True, "account_token": True}
    api = services.intake._connections.api("acme", "merge", merge)
    assert api.headers == {"Authorization": "Bearer k", "X-Account-Token": "acct"}  # type: ignore[attr-defined]
    moved = services.intake.connect_source("acme", "merge", webhook_secret="whsec-long-enough",
                                           api_base_url="https://api-eu.merge.dev/api")
    assert moved == {"webhook_secret": True, "api_key": False, "account_token": False}


@pytest.mark.parametrize(("source", "fields", "error", "needle"), [
    ("greenhouse", {"account_token": "x"}, BadRequest, "no account_token"),
    ("greenhouse", {"oauth": {"client_id": "a", "client_secret": "b"}}, BadRequest, "no oauth"),
    ("freee_hr", {"oauth": {"client_id": "a", "client_secret": "b"}}, BadRequest, "refresh_token is required"),
    ("freee_hr", {"oauth": {"client_id": "a", "client_secret": "b", "refresh_token": "r", "x": 1}}, BadRequest, "unknown"),
    ("freee_hr", {"oauth": "cid:secret"}, BadRequest, "object"),
    ("freee_hr", {"oauth": {"client_id": 1, "client_secret": "b", "refresh_token": "r"}}, BadRequest, "client_id"),
    ("freee_hr", {"oauth": {"client_id": "a", "client_secret": "b", "refresh_token": "r",
                            "token_url": "https://evil.example.com/token"}}, EgressRefused, "documented token hosts"),
])
def test_bad_credential_fields_are_refused(services, source, fields, error, needle):
    extra = {"webhook_secret": "whsec-long-enough"} if source in registry.SOURCES else {}
    with pytest.raises(error, match=needle):
        services.intake.connect_source("acme", source, **extra, **fields)


def test_a_tenant_admin_may_point_token_url_at_the_vendors_token_host(services):
    connect_freee(services, token_url="https://accounts.secure.freee.co.jp/public_api/token")
    stored = services.ports.credentials.oauth_tokens("acme", "freee_hr")
    assert stored is not None and replace(stored).token_url == "https://accounts.secure.freee.co.jp/public_api/token"
