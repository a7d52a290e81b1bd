"""The seams between the use cases and the outside world: each a Protocol declaring every method
the services call, with domain values in and out. Each has a real side (chalicelib/adapters,
integrations/) and an in-memory side (tests/fakes.py), held to one contract suite
(tests/contract/test_ports*.py). The ports to outside systems are written in vendors.py and
re-exported here, so this is the one place to look a port up."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.consents import Decision
from chalicelib.domain.events import HubEvent
from chalicelib.domain.mail import RenderedMail, Template
from chalicelib.domain.nurture import Schedule
from chalicelib.domain.person import Person
from chalicelib.domain.records import (
    AgencyState,
    Answer,
    Batch,
    Document,
    DocumentKind,
    DueMail,
    Held,
    JsonDict,
    NoticeRef,
    NoticeView,
    PollState,
    Profile,
    Recorded,
    Referral,
    SentMail,
    SourceCredentials,
    TokenInfo,
)
from chalicelib.domain.records import PollPage as PollPage  # integrations' polled sources build it
from chalicelib.domain.referrals import Agency
from chalicelib.domain.tenants import TenantSettings
from chalicelib.domain.vendors import AgencyClient as AgencyClient
from chalicelib.domain.vendors import AgencyClientFactory as AgencyClientFactory
from chalicelib.domain.vendors import EnrichedSource as EnrichedSource
from chalicelib.domain.vendors import PolledSource as PolledSource
from chalicelib.domain.vendors import SecretFormat as SecretFormat
from chalicelib.domain.vendors import SourceAdapter as SourceAdapter
from chalicelib.domain.vendors import VendorApi as VendorApi
from chalicelib.domain.vendors import VendorApiAccess as VendorApiAccess
from chalicelib.domain.vendors import VendorApis as VendorApis

TagChange = Callable[[tuple[str, ...]], tuple[str, ...]]


# -- AWS and mail -----------------------------------------------------------------------------

class Credentials(Protocol):
    def source(self, tenant: str, source: str, *, fresh: bool = False) -> SourceCredentials:
        """The tenant's credentials for source; raises UnknownTenant when not connected."""

    def store_source(self, tenant: str, source: str, webhook_secret: str | None, api_key: str | None,
                     api_base_url: str | None = None) -> None:
        """Store (or rotate) the credentials; the replaced webhook secret stays valid for a while."""

    def smtp_password(self, tenant: str) -> str | None: ...

    def store_smtp_password(self, tenant: str, password: str) -> None: ...

    def agency_auth(self, tenant: str, agency: str) -> dict[str, str]: ...

    def store_agency_auth(self, tenant: str, agency: str, auth: Mapping[str, str]) -> None: ...


class Queues(Protocol):
    def send(self, queue: str, body: Mapping[str, Any], delay_s: int = 0) -> None:
        """Put a message on a named queue (adapters/resources.QUEUES); RetryableError when it cannot."""


class Mailer(Protocol):
    def send(self, tenant: str, settings: TenantSettings, *, to: str, subject: str, text: str, html: str,
             unsubscribe_url: str, reference: str) -> str:
        """Send one mail (SES or the tenant's SMTP); the message id. RetryableError / PermanentError."""


class Once(Protocol):
    def run(self, tenant: str, key: str, action: Callable[[], JsonDict]) -> JsonDict:
        """Do action once per key and keep its result; a repeat gets the kept result."""


class Templates(Protocol):
    """Mail templates: shipped defaults, checks and rendering (adapters/templates.py)."""

    @property
    def KINDS(self) -> tuple[str, ...]: ...  # noqa: N802 - a module constant

    @property
    def LOCALES(self) -> tuple[str, ...]: ...  # noqa: N802 - a module constant

    @property
    def SAMPLE(self) -> Mapping[str, str]: ...  # noqa: N802 - a module constant

    def check_kind(self, kind: str, locale: str) -> None: ...

    def default(self, kind: str, locale: str) -> Template: ...

    def check(self, template: Template) -> None:
        """BadRequest naming the part and line of a syntax error, an unknown variable, a template
        other than the hub's partials, or a failure or limit hit on sample data."""

    def render(self, template: Template, context: Mapping[str, str | None], locale: str) -> RenderedMail:
        """The mail, rendered within CPU, memory, loop and output limits; TemplateError when the
        template fails or runs over one."""


class KpiPublisher(Protocol):
    def __call__(self, tenant: str, kpis: JsonDict) -> int:
        """Publish a tenant's KPIs as metrics; how many values."""


# -- the relations database ---------------------------------------------------------------------

class Relations(Protocol):
    """People and the facts about them: one record per person, found by identity, e-mail or index."""

    def record_once(self, event: HubEvent, *, delivery_id: str) -> Recorded | None:
        """Apply and store the fact (and plan its notice) in one transaction; None when known."""

    def mark_delivery(self, tenant: str, source: str, delivery_id: str) -> bool:
        """Remember a delivery id for the dedupe window; False when it was already remembered."""

    def unmark_delivery(self, tenant: str, source: str, delivery_id: str) -> None: ...

    def profile(self, tenant: str, person_id: str) -> Profile | None: ...

    def profiles(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Profile]:
        """Several people with their timelines, by id; the gone are left out."""

    def people(self, tenant: str, person_ids: Sequence[str]) -> list[Person]:
        """The profiles of these people (no timelines), in the order asked, skipping the gone."""

    def find_by_email(self, tenant: str, email: str) -> list[Profile]: ...

    def search(self, tenant: str, kind: str, value: str, *, limit: int,
               after: str | None = None) -> tuple[list[str], str | None]:
        """One page of the ids of the people holding a search term (names: a prefix), and where the
        next page starts (None at the end)."""

    def set_tags(self, tenant: str, person_id: str, change: TagChange) -> Person | None:
        """Apply change to the person's tags (index follows); None when there is no such person."""

    def held(self, tenant: str, person_id: str) -> Held | None: ...

    def erase(self, tenant: str, person_id: str) -> bool:
        """Erase a person (profile, timeline, links, index; tombstones keep replays out; counters
        stay); the agencies that have their data are told. False when there is no such person."""

    def record_contact_event(self, tenant: str, person_id: str, entry: JsonDict, counters: Mapping[str, int]) -> None:
        """A timeline entry made by the hub itself (link opened, ...), with its counters; once."""

    def record_decision(self, tenant: str, person_id: str, choices: Mapping[str, bool], *, at: datetime,
                        version: str, score: int | None, token_ref: str | None, agencies: Sequence[str]) -> Decision:
        """Store consent choices; a new relay consent queues a referral per agency, a withdrawal
        stops queued ones and marks sent ones for a withdrawal notice."""

    def opt_out(self, tenant: str, person_id: str, *, at: datetime) -> None:
        """Record an opt-out of all mail (the suppression list is what stops the mail)."""


class Notices(Protocol):
    """Planned notices: pending until sent, cancelled or suppressed."""

    def view(self, tenant: str, person_id: str, notice: str) -> NoticeView | None: ...

    def decide(self, tenant: str, person_id: str, notice: str, status: str, reason: str | None = None) -> bool:
        """Close a pending notice without sending (cancelled, suppressed, or failed for a reason such
        as template_error, kept on the notice); False if decided already."""

    def sent(self, tenant: str, person_id: str, notice: str, *, kind: str, mail: SentMail, entry: JsonDict) -> bool:
        """Record a sent notice: status, timeline entry, counters, last contact; False if decided already."""

    def due(self, before: datetime, limit: int = 500) -> list[NoticeRef]:
        """Pending notices due before the moment, oldest first (only pending ones are read)."""


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


class Config(Protocol):
    """A tenant's documents: settings, templates, agencies, segments, campaigns, consent texts.

    A document is named by its kind and its name within the kind: () for the settings, (slug,) for
    an agency, a segment or a campaign, (kind, locale) for a template, (version,) for a consent text."""

    def get(self, tenant: str, kind: DocumentKind, name: Sequence[str] = ()) -> Document | None: ...

    def list(self, tenant: str, kind: DocumentKind) -> list[Document]: ...

    def put(self, tenant: str, kind: DocumentKind, name: Sequence[str], data: JsonDict, *,
            expected_version: int | None = None) -> int:
        """Store a document; the new version. Conflict when expected_version is not the stored one."""

    def put_once(self, tenant: str, kind: DocumentKind, name: Sequence[str], data: JsonDict) -> None:
        """Store a document that never changes (a consent text by its version)."""


class Tokens(Protocol):
    """Link tokens, stored hashed, bound to one person and tenant."""

    def issue(self, tenant: str, person_id: str, purpose: str, valid_until: datetime, notice: str | None = None) -> str: ...

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

    def entries(self, tenant: str, *, limit: int, before: str | None) -> tuple[list[JsonDict], str | None]:
        """A page of entries, newest first, and where the next page starts."""


class AdminTokens(Protocol):
    def issue(self, tenant: str, *, by: str) -> tuple[str, str]:
        """A new tenant-scoped token: (its id, the token, shown once)."""

    def tenant_of(self, token: str) -> tuple[str, str] | None:
        """(tenant, token id) of a live token; None for anything else."""

    def revoke(self, tenant: str, token_id: str) -> bool: ...


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
        """Before any data leaves: consent still stands, provision records written, referrals moved
        queued -> sending and listed on the batch (appended to batch.members too); the ids claimed."""

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
