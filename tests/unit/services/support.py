"""What the service unit tests share: the tenant's source secret, message builders, and the few
steps the Lambda runtime takes between services (the queue consumers), played on the fakes."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from chalicelib.domain.records import Profile
from chalicelib.services import Options, Services, compose
from integrations import registry
from integrations.sources import standard
from tests import fakevendor
from tests.conftest import SETTINGS as SETTINGS  # the mail settings the integration tests use
from tests.fakes import Clock, FakeAgencyClient, FakeAgencyClients, FakeMailer, FakeQueues, FakeSenderIdentities, OutgoingMail, fake_ports

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the tenant's standard-webhooks source (as tests/integration)
PUBLIC_URL = "https://hub.example.test"
ENDPOINT = "https://agency.example.test"  # the partner agency (FakeAgencyClient) the Career Relay tests use
AGENCY_TOKEN = "agency-token-1234"
LEGAL_NAME = "Sandbox Agency K.K. (sandbox)"
F = TypeVar("F")


def build(clock: Clock, **overrides: Any) -> Services:
    """The services on fresh fakes and the given clock; the registry's sources plus the made-up
    vendor with thin webhooks and a polled API (tests/fakevendor.py)."""
    sources = {**registry.SOURCES, fakevendor.NAME: fakevendor}
    enriched = {name: m for name, m in sources.items() if hasattr(m, "fetch")}
    polled = {**registry.POLLED, fakevendor.NAME: fakevendor}
    formats = {name: m for name, m in sources.items() if hasattr(m, "check_secret")}
    fields: dict[str, Any] = {"sources": sources, "enriched": enriched, "polled": polled, "secret_formats": formats}
    return compose(fake_ports(clock=clock, **{**fields, **overrides}), Options(public_url=PUBLIC_URL))


def open_acme(services: Services) -> str:
    """The tenant the tests use: its standard source connected and its mail settings stored."""
    services.intake.connect_source("acme", "standard", SECRET)
    services.configuration.put_settings("acme", SETTINGS)
    return "acme"


def configure(services: Services, slug: str = "sandbox", endpoint: str = ENDPOINT, **extra: Any) -> dict:
    """A partner agency as the agency admin API stores it."""
    body = {"name": "Sandbox Agency", "legal_name": LEGAL_NAME, "country": "JP", "endpoint": endpoint,
            "auth": {"type": "bearer", "token": AGENCY_TOKEN}, "data_items": ["name", "email", "desired_roles"],
            "batch_size": 10, "referrals_per_slot": 10, **extra}
    return services.agencies.put_agency("acme", slug, body)


# -- what the fakes recorded (typed views of the bundle) ---------------------------------------------

def fake(services: Services, port: str, kind: type[F]) -> F:
    """The fake behind one port of the bundle, typed (a test reads what it recorded)."""
    found = getattr(services.ports, port)
    assert isinstance(found, kind), port
    return found


def queues(services: Services) -> FakeQueues:
    return fake(services, "queues", FakeQueues)


def mailer(services: Services) -> FakeMailer:
    return fake(services, "mailer", FakeMailer)


def identities(services: Services) -> FakeSenderIdentities:
    return fake(services, "sender_identities", FakeSenderIdentities)


def agency_clients(services: Services) -> FakeAgencyClients:
    found = services.ports.agency_clients["career_relay"]
    assert isinstance(found, FakeAgencyClients)
    return found


def agency_client(services: Services, endpoint: str = ENDPOINT) -> FakeAgencyClient:
    return agency_clients(services).client(endpoint)


def outbox(services: Services) -> list[OutgoingMail]:
    return mailer(services).outbox


# -- deliveries -------------------------------------------------------------------------------------

def message(kind: str, occurred_at: datetime | str, *, person: str = "c-1", application: str = "app-1",
            name: str | None = "山田 花子", email: str | None = "", locale: str | None = "ja", **data: Any) -> bytes:
    """A standard-webhooks message of our event schema (docs/events.md); email "" means <person>@example.jp."""
    who: dict[str, Any] = {"id": person}
    if name is not None:
        who["name"] = name
    if email is not None:
        who["email"] = email or f"{person}@example.jp"
    if locale is not None:
        who["locale"] = locale
    at = occurred_at if isinstance(occurred_at, str) else occurred_at.isoformat()
    body = {"type": kind, "data": {"person": who, "application_id": application, "occurred_at": at,
                                   "job": {"id": "j1", "title": "バックエンドエンジニア"}, **data}}
    return json.dumps(body, ensure_ascii=False).encode()


def deliver(services: Services, body: bytes, *, msg_id: str | None = None, tenant: str = "acme",
            secret: str = SECRET) -> Any:
    """POST /webhooks/<tenant>/standard as the vendor signs it; the receipt."""
    return services.intake.receive_webhook(tenant, "standard", standard.sign(body, secret, msg_id=msg_id), body)


def drain(services: Services, queue: str = "notices") -> list[str]:
    """Consume the notices queue as its Lambda consumer does (a nurture mail or a notice per
    message) until it is empty; the outcomes, in order."""
    outcomes = []
    while bodies := queues(services).take(queue):
        for body in bodies:
            outcomes.append(handle_notice_message(services, body))
    return outcomes


def handle_notice_message(services: Services, body: Mapping[str, Any]) -> str:
    if "campaign" in body:
        return services.nurture.send_nurture(body["tenant"], body["person_id"], body["campaign"], body["due"])
    return services.correspondence.send_notice(body["tenant"], body["person_id"], body["notice"])


# -- people ---------------------------------------------------------------------------------------------

def profile(services: Services, email: str, tenant: str = "acme") -> Profile:
    [found] = services.people.people_by_email(tenant, email)
    return found


def types(services: Services, email: str, tenant: str = "acme") -> list[str]:
    found = services.people.people_by_email(tenant, email)
    return [entry["type"] for entry in found[0].timeline] if found else []


def person_id(services: Services, email: str, tenant: str = "acme") -> str | None:
    found = services.people.people_by_email(tenant, email)
    return found[0].person.person_id if found else None


def links(mail: OutgoingMail) -> dict[str, str]:
    """The Career Relay and unsubscribe tokens a mail carries."""
    relay = re.search(r"/r/([\w.-]+)", mail.text)
    unsubscribe = re.search(r"/u/([\w.-]+)$", mail.unsubscribe_url)
    assert relay and unsubscribe, mail.text
    return {"relay": relay.group(1), "unsubscribe": unsubscribe.group(1)}


def ago(clock: Clock, **delta: float) -> datetime:
    return clock.now() - timedelta(**delta)
