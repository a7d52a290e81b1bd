"""The seams between the use cases and the outside world: each a Protocol declaring every method
the services call, with domain values in and out. Each has a real side (chalicelib/adapters,
integrations/) and an in-memory side (tests/fakes.py), held to one contract suite
(tests/contract/test_ports*.py). The ports to outside systems are written in vendors.py, those to the
platform (secrets, queues, mail, templates, metrics) in platform.py; both are re-exported here,
so this is the one place to look a port up."""
from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from chalicelib.domain.consents import Decision
from chalicelib.domain.console import IdTokens as IdTokens
from chalicelib.domain.console import Sessions as Sessions
from chalicelib.domain.console import SignInProvider as SignInProvider
from chalicelib.domain.console_users import ConsoleUsers as ConsoleUsers  # e18-admin: the users screen
from chalicelib.domain.deliveries import DeadLetters as DeadLetters  # e20-sources
from chalicelib.domain.deliveries import DeliveryLog as DeliveryLog  # e20-sources
from chalicelib.domain.deliveries import LoggedDelivery
from chalicelib.domain.events import HubEvent
from chalicelib.domain.nurture import Schedule
from chalicelib.domain.oauth import OAuthClient as OAuthClient
from chalicelib.domain.outbox import Notices as Notices
from chalicelib.domain.person import Person
from chalicelib.domain.platform import Credentials as Credentials
from chalicelib.domain.platform import KpiPublisher as KpiPublisher
from chalicelib.domain.platform import LinkKeys as LinkKeys
from chalicelib.domain.platform import Mailer as Mailer
from chalicelib.domain.platform import Once as Once
from chalicelib.domain.platform import Queues as Queues
from chalicelib.domain.platform import SenderIdentities as SenderIdentities
from chalicelib.domain.platform import Templates as Templates
from chalicelib.domain.records import (
    AdminToken,
    AgencyState,
    Answer,
    Batch,
    Document,
    DocumentKind,
    DueMail,
    Held,
    JsonDict,
    LinkGrant,
    Merged,
    PollState,
    PrincipalGrant,
    Profile,
    Recorded,
    Referral,
    SenderClaim,
    TokenInfo,
)
from chalicelib.domain.records import PollPage as PollPage  # integrations' polled sources build it
from chalicelib.domain.referrals import Agency
from chalicelib.domain.vendors import AgencyClient as AgencyClient
from chalicelib.domain.vendors import AgencyClientFactory as AgencyClientFactory
from chalicelib.domain.vendors import Egress as Egress
from chalicelib.domain.vendors import EnrichedSource as EnrichedSource
from chalicelib.domain.vendors import FieldWriter as FieldWriter
from chalicelib.domain.vendors import PolledSource as PolledSource
from chalicelib.domain.vendors import SecretFormat as SecretFormat
from chalicelib.domain.vendors import SourceAdapter as SourceAdapter
from chalicelib.domain.vendors import TokenEndpoint as TokenEndpoint
from chalicelib.domain.vendors import VendorApi as VendorApi
from chalicelib.domain.vendors import VendorApiAccess as VendorApiAccess
from chalicelib.domain.vendors import VendorApis as VendorApis

TagChange = Callable[[tuple[str, ...]], tuple[str, ...]]


# -- the relations database ---------------------------------------------------------------------

class Relations(Protocol):
    """People and the facts about them: one record per person, found by identity, e-mail or index."""

    def record_once(self, event: HubEvent, *, delivery_id: str, logged: LoggedDelivery | None = None) -> Recorded | None:
        """Apply and store the fact (and plan its notice, and write logged) in one transaction; None when known."""

    def mark_delivery(self, tenant: str, source: str, delivery_id: str) -> bool:
        """Remember a delivery id for the dedupe window; False when it was already remembered."""

    def unmark_delivery(self, tenant: str, source: str, delivery_id: str) -> None: ...

    def spend_lookup(self, tenant: str, source: str, window: str, limit: int) -> bool:
        """Count one vendor look-up of the tenant's source in this window; False when limit were already."""

    def profile(self, tenant: str, person_id: str) -> Profile | None: ...

    def profiles(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Profile]:
        """Several people with their timelines, by id; the gone are left out."""

    def people(self, tenant: str, person_ids: Sequence[str]) -> list[Person]:
        """The profiles of these people (no timelines), in the order asked, skipping the gone."""

    def find_by_email(self, tenant: str, email: str) -> list[Profile]: ...

    def search(self, tenant: str, kind: str, value: str, *, limit: int, after: str | None = None) -> tuple[list[str], str | None]:
        """A page of ids of the people holding a search term (names: a prefix); the next page's start or None."""

    def set_tags(self, tenant: str, person_id: str, change: TagChange) -> Person | None:
        """Apply change to the person's tags (index follows); None when there is no such person."""

    def held(self, tenant: str, person_id: str) -> Held | None: ...

    def erase(self, tenant: str, person_id: str) -> bool:
        """Erase a person (profile, timeline, links, index; tombstones keep replays out; counters
        stay); the agencies that have their data are told. False when there is no such person."""

    def record_contact_event(self, tenant: str, person_id: str, entry: JsonDict, counters: Mapping[str, int]) -> None:
        """A timeline entry made by the hub itself (link opened, ...), with its counters; once."""

    def record_decision(self, tenant: str, person_id: str, choices: Mapping[str, bool], *, at: datetime,
                        version: str, score: int | None, token_ref: str | None,
                        agencies: Mapping[str, str], link_channel: str | None = None) -> Decision:
        """Store consent choices (consents.decide; agencies: slug -> the consent version the page
        told). Each agency of decision.queue gets its referral queued under that version: a new one,
        or one queued or held under another version queued again (once); a withdrawal stops queued
        and held ones and marks sent ones for a withdrawal notice."""

    def opt_out(self, tenant: str, person_id: str, *, at: datetime) -> None:
        """Record an opt-out of all mail (the suppression list is what stops the mail)."""

    def merge(self, tenant: str, person_id: str, other: str) -> Merged:
        """Make other (same tenant) part of person_id (domain/merging.py): timeline, notices, links
        and schedules move, identity and e-mail pointers lead to the survivor, counters count one
        person, and other's id resolves to the survivor from then on. Asked again, the same answer,
        nothing changed twice. NotFound: either is unknown (or of another tenant); Conflict: either
        was erased or merged into someone else, or other has referrals (agencies know its id)."""

    def merged_into(self, tenant: str, person_id: str) -> str | None:
        """The person a merged-away id now resolves to (following later merges), else None."""


class Tenants(Protocol):
    """Tenants, their connected sources and the sources' poll cursors."""

    def add_tenant(self, tenant: str) -> None: ...

    def tenants(self) -> list[str]: ...

    def add_source(self, tenant: str, source: str) -> None:
        """Record that the tenant (created when new) takes deliveries from source."""

    def sources(self, tenant: str) -> list[str]: ...

    def poll_state(self, tenant: str, source: str) -> PollState: ...

    def save_poll_state(self, tenant: str, source: str, cursor: str | None, version: int | None) -> int | None:
        """Store the cursor if nobody else advanced it; the new version, or None on a lost race."""


class Counters(Protocol):
    """Counters kept on write, and the KPI snapshots of each day."""

    def totals(self, tenant: str) -> dict[str, int]: ...

    def days(self, tenant: str, first: str, last: str) -> dict[str, dict[str, int]]:
        """The day counters from first to last (YYYY-MM-DD), by day: reads grow with days, not people."""

    def snapshots(self, tenant: str, first: str, last: str) -> dict[str, JsonDict]: ...

    def save_snapshot(self, tenant: str, day: str, document: JsonDict) -> bool:
        """Store the day's snapshot once; False when that day has one."""


class SenderDomains(Protocol):
    """Sender domains and the tenant holding each: one claim per domain, never shared."""

    def claim(self, domain: str, tenant: str) -> bool:
        """Hold the domain for tenant (a conditional write); True when tenant holds it, now or from
        before, False when another tenant does."""

    def release(self, domain: str, tenant: str) -> None:
        """Let go of the tenant's claim (the mail service refused the domain); another's stays."""

    def get(self, domain: str) -> SenderClaim | None: ...

    def save(self, claim: SenderClaim) -> bool:
        """Store the status read (status, DKIM tokens, checked at) while claim.tenant holds the domain."""


class Config(Protocol):
    """A tenant's documents: settings, templates, agencies, segments, campaigns, consent texts.

    A document is named by its kind and its name within the kind: () for the settings, (slug,) for
    an agency, a segment or a campaign, (kind, locale) for a template, (version,) for a consent text."""

    def get(self, tenant: str, kind: DocumentKind, name: Sequence[str] = ()) -> Document | None: ...

    def list(self, tenant: str, kind: DocumentKind) -> list[Document]: ...

    # -- issue 18, the admin API's lists --
    def page(self, tenant: str, kind: DocumentKind, *, limit: int,
             after: str | None = None) -> tuple[builtins.list[tuple[str, Document]], str | None]:
        """One page of the documents of a kind named by one slug (agency, segment, campaign), in name
        order, each with its name; and the name the next page starts after (None at the end)."""

    def put(self, tenant: str, kind: DocumentKind, name: Sequence[str], data: JsonDict, *,
            expected_version: int | None = None) -> int:
        """Store a document; the new version. Conflict when expected_version is not the stored one."""

    def put_once(self, tenant: str, kind: DocumentKind, name: Sequence[str], data: JsonDict) -> None:
        """Store a document that never changes (a consent text by its version)."""


class Tokens(Protocol):
    """Link tokens, stored hashed, bound to one person and tenant."""

    def issue(self, tenant: str, person_id: str, purpose: str, valid_until: datetime, notice: str | None = None,
              channel: str = "hub_notice") -> str:
        """A new token; channel: how the link reaches the person (delivery.CHANNELS), kept with it."""

    def keep(self, tenant: str, person_id: str, links: Sequence[LinkGrant]) -> None:
        """Keep new tokens the caller made (delivery.new_link_token), hashed, in one write."""

    def register(self, tenant: str, token: str, person_id: str, purpose: str, valid_until: datetime, *,
                 channel: str) -> bool:
        """Keep a token the caller made ("<tenant>.<secret>"), hashed; False (nothing written) when known."""

    def resolve(self, token: str) -> TokenInfo | None:
        """The binding of a live token; None for unknown and expired alike."""

    def mark_opened(self, token: str) -> bool:
        """Record the first opening; False when it was opened before."""


class Suppressions(Protocol):
    """Addresses never to mail (opted out, bounced, complained, erased)."""

    def reasons(self, tenant: str, email: str) -> list[str]: ...

    def add(self, tenant: str, email: str, reason: str) -> None: ...


class Audit(Protocol):
    def record(self, tenant: str, *, who: str, action: str, target: str | None) -> None: ...

    def entries(self, tenant: str, *, limit: int, before: str | None, who: str | None = None,
                action: str | None = None) -> tuple[list[JsonDict], str | None]:
        """A page of entries, newest first, and where the next page starts. With `who` or `action`, only
        the entries of that actor or action, found among a bounded number of entries read (a page may
        then hold fewer than `limit` entries and still have a next one)."""


class AdminTokens(Protocol):
    """Who besides the platform may act for a tenant: its admin tokens and, in AWS, the IAM
    principals granted to it."""

    def issue(self, tenant: str, *, by: str, valid_until: datetime) -> tuple[str, str]:
        """A new tenant-scoped token: (its id, the token, shown once)."""

    def find(self, token: str) -> AdminToken | None:
        """The stored token this one is, expired or not; None for anything else (a wrong secret too)."""

    def tokens(self, tenant: str) -> list[AdminToken]:
        """The tenant's stored tokens, oldest first."""

    def mark_used(self, tenant: str, token_id: str, at: datetime) -> None:
        """Record the token's last use (nothing when it is gone)."""

    def revoke(self, tenant: str, token_id: str) -> bool: ...

    def grant(self, tenant: str, principal: str, *, by: str) -> PrincipalGrant:
        """Let an IAM principal (canonical ARN) act for the tenant; granting again changes nothing."""

    def grants(self, tenant: str) -> list[PrincipalGrant]:
        """The principals granted to the tenant, by grant id."""

    def granted(self, tenant: str, principal: str) -> bool: ...

    def has_grants(self, principal: str) -> bool:
        """Whether the principal may act for any tenant at all."""

    def revoke_grant(self, tenant: str, grant_id: str) -> bool: ...


class Referrals(Protocol):
    """Career Relay referrals, batches, provision records, the slot ledger and each agency's circuit.
    Every move is a conditional write: whatever runs twice, each happens once."""

    def queued(self, tenant: str, agency: str, limit: int) -> list[Referral]: ...

    def open_batches(self, tenant: str, agency: str) -> list[Batch]: ...

    def pending_withdrawals(self, tenant: str, agency: str) -> list[Referral]: ...

    def withdrawal_sent(self, referral: Referral) -> None: ...

    def new_batch(self, tenant: str, agency: str) -> Batch: ...

    def claim(self, tenant: str, queued: Sequence[Referral], batch: Batch, agency: Agency,
              provisions: Mapping[str, JsonDict]) -> list[str]:
        """Before any data leaves, in one transaction per group: consent still stands, each referral
        is still queued under agency.consent_version, provision records written, referrals moved
        queued -> sending and listed on the batch (appended to batch.members too), a ledger entry
        names the consent version sent under; the ids claimed. A referral that fails alone is
        withdrawn (consent gone) or held (consented under another version)."""

    def hold(self, tenant: str, referral: Referral) -> bool:
        """Hold a referral consented under another version of its agency (queued or sending, as
        read, and still under that version) as reconsent_needed: out of the queue, never sent until
        a new consent queues it again, counted in the ledger (referrals_held). False when it moved."""

    def members(self, tenant: str, batch: Batch) -> list[Referral]: ...

    def fail(self, tenant: str, referral: Referral, error: str) -> None: ...

    def settle(self, tenant: str, agency: Agency, answers: Sequence[Answer]) -> list[str | None]:
        """Record answers exactly once (the ledger credits a slot each time the accepted count
        crosses the agency's rule); per answer its outcome, or None when recorded before."""

    def batch_attempted(self, batch: Batch, error: str | None, *, park: bool = False) -> None:
        """Count an attempt (batch.attempts too) and keep its error; park: out of the open batches."""

    def close_batch(self, batch: Batch, status: str = "done") -> None: ...

    def state(self, tenant: str, agency: str) -> AgencyState: ...

    def save_state(self, tenant: str, agency: str, failures: int, paused_until: str | None) -> None: ...

    def acquire(self, tenant: str, agency: str, seconds: int) -> bool:
        """Take the agency's run lease (it lapses if a run dies); False while another run holds it."""

    def release(self, tenant: str, agency: str) -> None: ...

    def ledger_counts(self, tenant: str, agency: str) -> dict[str, int]: ...

    def ledger_entries(self, tenant: str, agency: str) -> list[JsonDict]: ...

    def use_slot(self, tenant: str, agency: str, *, note: str | None, by: str) -> JsonDict | None:
        """Record one slot used; None when the balance is 0."""
    def accepted_referrals(self, tenant: str, agency: str, first: int, last: int) -> list[JsonDict]: ...  # e20: n-th accepted
    def recent_batches(self, tenant: str, agency: str, limit: int) -> list[JsonDict]: ...  # e20: newest first

    def provisions(self, tenant: str, person_id: str) -> list[JsonDict]: ...


class NurtureSchedules(Protocol):
    """Each person's place in each campaign, and the sparse index of due ones."""

    def schedules(self, tenant: str, campaign: str, person_ids: Sequence[str]) -> dict[str, Schedule]: ...

    def schedule(self, tenant: str, person_id: str, campaign: str) -> Schedule | None: ...

    def plan(self, tenant: str, person_id: str, schedule: Schedule, *, expected: Schedule | None,
             counters: Mapping[str, int] | None = None) -> bool:
        """Store a schedule if it is still as read; False when someone else moved it first."""

    def due(self, tenant: str, before: datetime) -> list[DueMail]: ...

    def claim(self, tenant: str, person_id: str, campaign: str, due: str, key: str, *, now: datetime,
              interval_days: int) -> tuple[str, str | None]:
        """Take the person's nurture interval for one mail: claimed / interval (until) / stale."""

    def sent(self, tenant: str, person_id: str, due: str, after: Schedule, *, sent_at: str, entry: JsonDict,
             counters: Mapping[str, int]) -> bool:
        """Record a sent nurture mail once (schedule, timeline, last contact, counters)."""


Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

