"""Secrets bound to where they go, and destinations held to the egress policy when configured:
a source's api key to its api_base_url, the SMTP password to smtp.host and port, an agency's
auth to its endpoint. A tenant admin points a vendor's API only at the vendor's documented hosts;
the platform operator anywhere the egress policy allows."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import BadRequest, EgressRefused, NotFound
from chalicelib.domain.events import Lookup
from chalicelib.services import Services
from tests import fakevendor
from tests.fakes import Clock, FakeAgencyClients, FakeCredentials, FakeVendorApis, fake_egress
from tests.unit.services.support import AGENCY_TOKEN, ENDPOINT, SETTINGS, agency_clients, build, configure, fake

PRIVATE = {"inside.example.com": ["10.0.0.7"], "metadata.example.com": ["169.254.169.254"], "self.example.com": ["::1"]}


@pytest.fixture
def services(clock: Clock) -> Services:
    return build(clock, egress=fake_egress(PRIVATE))


def credentials(services: Services) -> FakeCredentials:
    return fake(services, "credentials", FakeCredentials)


def vendor_apis(services: Services) -> FakeVendorApis:
    return fake(services, "vendor_apis", FakeVendorApis)


# -- a source's api key and api_base_url --------------------------------------------------------------

def test_a_new_api_base_url_without_a_new_key_drops_the_stored_key(services):
    first = services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret", "platform-key")
    assert first == {"webhook_secret": True, "api_key": True}

    moved = services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret", api_base_url="https://evil.acme-ats.example")

    assert moved == {"webhook_secret": True, "api_key": False}
    stored = credentials(services).source("acme", fakevendor.NAME)
    assert stored.api_key is None and stored.api_base_url == "https://evil.acme-ats.example"
    # the next enrichment builds its client without the key
    services.intake.enrich(Lookup(tenant="acme", source=fakevendor.NAME, resource="application", resource_id="a1",
                                  delivery_id="d1"))
    (_, used), = vendor_apis(services).connections
    assert used.api_key is None and vendor_apis(services).api(fakevendor.NAME).headers == {"Authorization": "Bearer "}


def test_the_key_stays_while_the_address_stays_and_a_new_key_may_come_with_a_new_address(services):
    services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret", "key-1", "https://api.acme-ats.example/v1")
    same = services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret", api_base_url="https://api.acme-ats.example/v1/")
    assert same["api_key"] and credentials(services).source("acme", fakevendor.NAME).api_key == "key-1"
    unchanged = services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret-2")  # no api_base_url: it stays
    assert unchanged["api_key"] and credentials(services).source("acme", fakevendor.NAME).api_key == "key-1"
    both = services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret-2", "key-2", "https://eu.acme-ats.example")
    assert both == {"webhook_secret": True, "api_key": True}
    assert credentials(services).source("acme", fakevendor.NAME).api_key == "key-2"


@pytest.mark.parametrize("url", ["https://attacker.example.com/api", "https://api.acme-ats.example:8443/api",
                                 "http://api.acme-ats.example/api", "https://a.b.acme-ats.example/api"])
def test_a_tenant_admin_may_point_a_vendor_api_only_at_the_vendors_documented_hosts(services, url):
    services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret", "platform-key")
    with pytest.raises(EgressRefused, match="documented API hosts"):
        services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret", api_base_url=url)
    assert credentials(services).source("acme", fakevendor.NAME).api_key == "platform-key"  # nothing changed


def test_documented_hosts_include_a_customers_own_subdomain(services):
    answer = services.intake.connect_source("acme", "smarthr", "smarthr-token-1", "smarthr-key", "https://acme.smarthr.jp/api")
    assert answer == {"webhook_secret": True, "api_key": True}


@pytest.mark.parametrize("url", ["https://attacker.example.com/api", "https://sandbox.vendor.example:8443/v1"])
def test_the_platform_operator_may_set_any_public_url(services, url):
    services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret", "key", url, by_platform=True)
    assert credentials(services).source("acme", fakevendor.NAME).api_base_url == url


@pytest.mark.parametrize("url", ["https://inside.example.com", "https://metadata.example.com", "https://self.example.com",
                                 "https://10.0.0.1", "https://169.254.169.254", "https://[::1]", "https://0x7f000001",
                                 "http://api.example.com"])
def test_not_even_the_platform_operator_may_point_an_api_at_a_private_address(services, url):
    with pytest.raises(EgressRefused):
        services.intake.connect_source("acme", fakevendor.NAME, "vendor-secret", "key", url, by_platform=True)
    assert services.ports.tenants.sources("acme") == []


# -- the SMTP password and smtp.host -------------------------------------------------------------------

def smtp_settings(**smtp):
    return {**SETTINGS, "mail_transport": "smtp", "smtp": {"host": "smtp.example.jp", "port": 587, "username": "hub", **smtp}}


@pytest.mark.parametrize("move", [{"host": "smtp.attacker.example"}, {"port": 2525}])
def test_a_new_smtp_server_without_a_new_password_drops_the_stored_one(services, move):
    services.configuration.put_settings("acme", smtp_settings(password="p4ssw0rd"))

    moved = services.configuration.put_settings("acme", smtp_settings(**move))

    assert moved["smtp"]["password_stored"] is False
    assert credentials(services).smtp_password("acme") is None  # gone, not merely hidden


def test_the_password_stays_while_the_server_stays_and_goes_with_the_smtp_block(services):
    services.configuration.put_settings("acme", smtp_settings(password="p4ssw0rd"))
    assert services.configuration.put_settings("acme", smtp_settings(host="SMTP.example.jp."))["smtp"]["password_stored"]
    assert credentials(services).smtp_password("acme") == "p4ssw0rd"
    services.configuration.put_settings("acme", SETTINGS)  # back to SES: the SMTP password has nowhere to go
    assert credentials(services).smtp_password("acme") is None


@pytest.mark.parametrize("smtp", [{"starttls": False, "password": "p4ssw0rd"}, {"port": 25, "starttls": False, "password": "x"}])
def test_a_password_without_tls_is_refused(services, smtp):
    with pytest.raises(BadRequest, match="TLS"):
        services.configuration.put_settings("acme", smtp_settings(**smtp))
    assert credentials(services).smtp_password("acme") is None


def test_a_kept_password_cannot_lose_its_tls_and_implicit_tls_on_465_counts(services):
    services.configuration.put_settings("acme", smtp_settings(password="p4ssw0rd"))
    with pytest.raises(BadRequest, match="TLS"):
        services.configuration.put_settings("acme", smtp_settings(starttls=False))
    assert credentials(services).smtp_password("acme") == "p4ssw0rd"
    implicit = services.configuration.put_settings("acme", smtp_settings(port=465, starttls=False, password="new-pw"))
    assert implicit["smtp"]["password_stored"] and credentials(services).smtp_password("acme") == "new-pw"


@pytest.mark.parametrize("host", ["inside.example.com", "127.0.0.1", "0x7f000001", "169.254.169.254"])
def test_a_mail_server_on_a_private_address_is_refused(services, host):
    with pytest.raises(EgressRefused):
        services.configuration.put_settings("acme", smtp_settings(host=host, password="p4ssw0rd"))
    assert credentials(services).smtp_password("acme") is None and services.configuration.tenant_settings("acme") is None


# -- an agency's auth and its endpoint ----------------------------------------------------------------

def clients(services: Services) -> FakeAgencyClients:
    return agency_clients(services)


def test_a_new_endpoint_without_new_auth_drops_the_agencys_credentials(services):
    first = configure(services)
    assert first["secrets"] == {"auth": True}
    body = {k: v for k, v in first.items() if k not in ("slug", "auth_type", "secrets", "consent_version")}

    moved = services.agencies.put_agency("acme", "sandbox", {**body, "endpoint": "https://collector.example.com"})

    assert moved["secrets"] == {"auth": False} and moved["auth_type"] == "none"
    assert ("acme", "sandbox") not in credentials(services)._agencies
    assert services.agencies.run_agency_batches("acme")[0]["status"] == "no_credentials"
    assert clients(services).built == []  # nothing was built, so nothing was sent anywhere


def test_an_update_may_leave_auth_out_while_the_endpoint_stays(services):
    first = configure(services)
    body = {k: v for k, v in first.items() if k not in ("slug", "auth_type", "secrets", "consent_version")}
    kept = services.agencies.put_agency("acme", "sandbox", {**body, "name": "Renamed"})
    assert kept["secrets"] == {"auth": True} and kept["auth_type"] == "bearer"
    assert credentials(services).agency_auth("acme", "sandbox") == {"type": "bearer", "token": AGENCY_TOKEN}
    with pytest.raises(BadRequest, match="auth"):  # a new agency still needs its auth
        services.agencies.put_agency("acme", "other", body)


@pytest.mark.parametrize("endpoint", ["http://agency.example.com", "https://inside.example.com", "https://169.254.169.254",
                                      "https://10.0.0.1", "https://[::1]", "https://0x7f000001", "https://2130706433"])
def test_an_agency_endpoint_on_a_private_address_is_refused(services, endpoint):
    with pytest.raises(EgressRefused):
        configure(services, endpoint=endpoint)
    with pytest.raises(NotFound):  # nothing stored
        services.agencies.agency("acme", "sandbox")


def test_an_agency_configured_before_keeps_working(services):
    assert configure(services)["endpoint"] == ENDPOINT
