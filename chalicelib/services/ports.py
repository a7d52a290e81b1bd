"""What the use cases are built from: every port, and the few settings that shape them.

chalicelib/wiring.py fills it with the real adapters; tests/fakes.py with in-memory ones. Either
way `chalicelib.services.compose` turns it into the services."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalicelib.domain import ports


def utc_now() -> datetime:
    return datetime.now(UTC)


def no_wait(seconds: float) -> None:
    """Tests do not wait between retries; wiring passes time.sleep."""


@dataclass(frozen=True)
class Ports:
    # outside systems
    sources: Mapping[str, ports.SourceAdapter]
    enriched: Mapping[str, ports.EnrichedSource]
    polled: Mapping[str, ports.PolledSource]
    secret_formats: Mapping[str, ports.SecretFormat]
    vendor_apis: ports.VendorApis
    agency_clients: Mapping[str, ports.AgencyClientFactory]
    egress: ports.Egress  # the outbound-call policy, checked when a destination is configured
    credentials: ports.Credentials
    link_keys: ports.LinkKeys  # the application links' MAC key (a platform secret, never in the table)
    queues: ports.Queues
    mailer: ports.Mailer
    sender_identities: ports.SenderIdentities
    once: ports.Once
    templates: ports.Templates
    kpi_publisher: ports.KpiPublisher
    # the relations database
    relations: ports.Relations
    notices: ports.Notices
    tenants: ports.Tenants
    counters: ports.Counters
    config: ports.Config
    tokens: ports.Tokens
    suppressions: ports.Suppressions
    audit: ports.Audit
    admin_tokens: ports.AdminTokens
    referrals: ports.Referrals
    nurture: ports.NurtureSchedules
    sender_domains: ports.SenderDomains
    # the HR console: sessions, ID token verification, where ID tokens come from
    sessions: ports.Sessions
    id_tokens: ports.IdTokens
    sign_in: ports.SignInProvider
    # OAuth and the credential fields of sources that take more than an api key
    oauth: Mapping[str, ports.OAuthClient] = field(default_factory=dict)
    account_tokens: frozenset[str] = frozenset()
    token_endpoint: ports.TokenEndpoint | None = None
    # e18-admin: the console's users (the pool's admin API); None where the hub has no pool
    console_users: ports.ConsoleUsers | None = None
    # the ats_field delivery: ATS whose fields the hub writes, sources that take the link in the answer
    field_writers: Mapping[str, ports.FieldWriter] = field(default_factory=dict)
    answered_links: frozenset[str] = frozenset()
    # e20-sources: the delivery log, the dead-letter queues, the vendors' test deliveries
    delivery_log: ports.DeliveryLog | None = None
    dead_letters: ports.DeadLetters | None = None
    test_events: Mapping[str, bytes] = field(default_factory=dict)
    # time
    clock: ports.Clock = field(default=utc_now)
    sleep: ports.Sleep = field(default=no_wait)


@dataclass(frozen=True)
class Options:
    public_url: str = "http://127.0.0.1:8000"  # where the Career Relay and opt-out links point
    agency_timeout_s: float = 15.0             # read timeout of one agency call
    agency_parallelism: int = 4                # agencies served side by side in one run
