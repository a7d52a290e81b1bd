"""In-memory implementations of every port in chalicelib/domain/ports.py, for service unit tests.

Stores are `InMemory*` and share one `Memory` (one write of the hub often touches what several
stores read: a recorded fact plans a notice and moves counters, a sent notice moves the person's
last contact, a claim checks the person's relay consent). Outside systems are `Fake*`: they record
what they were asked and can be told to fail. Every store keeps the rules of the domain modules
(people.apply, notices.plan, kpis.route, consents.decide, nurture, referrals.slots_for), so the fakes
and the DynamoDB adapters answer alike: tests/contract/ holds both to one suite.

`fake_ports()` builds a complete `Ports` bundle on one Memory and one controllable `Clock`.
No AWS here: nothing imports boto3, pynamodb or moto.
"""
from __future__ import annotations

import builtins
import functools
import hashlib
import hmac
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from chalicelib.adapters import templates as template_module
from chalicelib.domain import consents, counters, kpis, merging, notices, nurture, ports, principals, referrals, senders
from chalicelib.domain.consents import Decision
from chalicelib.domain.console import ConsoleSession, Identity, PendingSignIn
from chalicelib.domain.console_users import ConsoleUser
from chalicelib.domain.delivery import new_link_token
from chalicelib.domain.errors import Conflict, NotFound, PermanentError, RetryableError, Unauthorized, UnknownTenant
from chalicelib.domain.events import HubEvent, iso, utc
from chalicelib.domain.kpis import FUNNEL, RATES
from chalicelib.domain.mail import RenderedMail, Template
from chalicelib.domain.nurture import Schedule
from chalicelib.domain.outbox import Claim
from chalicelib.domain.people import TERMS_FORM, apply, email_key, new_person_id, normalise_email, search_terms, stored_terms, track_of
from chalicelib.domain.person import Person
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
    MailedNotice,
    Merged,
    NoticeRef,
    NoticeView,
    OAuthTokens,
    PollState,
    PrincipalGrant,
    Profile,
    Recorded,
    Referral,
    ReferralResult,
    SenderClaim,
    SenderIdentity,
    SentMail,
    SourceCredentials,
    TokenInfo,
)
from chalicelib.domain.referrals import Agency
from chalicelib.domain.tenants import TenantSettings
from chalicelib.domain.tenants import zone_of as tenant_zone
from chalicelib.domain.vendors import FieldTarget, OpenApplication, OpenPage
from chalicelib.services.ports import Ports
from chalicelib.wiring import auth_headers
from integrations.egress import EgressPolicy

DEDUPE_WINDOW = timedelta(days=35)        # as the DynamoDB store keeps delivery ids
ROTATION_GRACE = timedelta(hours=24)      # a replaced webhook secret still verifies this long
START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

P = ParamSpec("P")
R = TypeVar("R")


class Clock:
    """A clock tests move by hand: `now()` (or call it), `advance(...)`, `set(...)`."""

    def __init__(self, start: datetime = START) -> None:
        self._now = utc(start)

    def now(self) -> datetime:
        return self._now

    def __call__(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **units: float) -> datetime:
        """Move on by a timedelta or by timedelta's keywords (`advance(minutes=5)`); the new now."""
        self._now += (delta or timedelta()) + timedelta(**units)
        return self._now

    def set(self, moment: datetime) -> datetime:
        self._now = utc(moment)
        return self._now


class FakeSleep:
    """Sleep port: records every wait asked for (`waits`) and, given a clock, moves it on by the wait
    instead of waiting, so the time a retry spends is visible to everything reading the clock."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self._clock is not None:
            self._clock.advance(seconds=seconds)


# -- the shared state ------------------------------------------------------------------------------

@dataclass
class StoredNotice:
    kind: str
    status: str              # pending | sent | cancelled | suppressed | failed
    track: str
    fact_at: str
    due_at: str
    source: str
    job_title: str | None
    locale: str | None = None
    decided_at: str | None = None
    message_id: str | None = None
    template_version: int | None = None
    waiting: str | None = None  # why it waits for its sender; not due while set
    reason: str | None = None  # why a failed notice was not sent
    attempts: int = 0          # failed sends so far
    claimed_until: str | None = None  # a worker mails it until then (Notices.claim)
    mailed: MailedNotice | None = None  # mailed, the record failed (Notices.mailed)


@dataclass
class StoredReferral:
    tenant: str
    person_id: str
    agency: str
    referral_id: str
    status: str              # queued | sending | accepted | declined | failed | withdrawn | reconsent_needed
    queued_at: str
    consent_at: str
    consent_version: str     # the agency's consent version consented to
    batch_id: str | None = None
    idempotency_key: str | None = None
    agency_ref: str | None = None
    decided_at: str | None = None
    withdrawn_at: str | None = None
    provision: str | None = None
    listed: tuple[str, str] | None = None  # ("queue" | "withdraw", sort key) while it waits for a run
    text_version: str | None = None  # the page text seen (None: stored before, consent_version is it)

    def record(self) -> Referral:
        return Referral(tenant=self.tenant, person_id=self.person_id, agency=self.agency, referral_id=self.referral_id,
                        status=self.status, consent_at=self.consent_at, consent_version=self.consent_version,
                        batch_id=self.batch_id, provision=self.provision,
                        text_version=self.text_version or self.consent_version)


@dataclass
class StoredBatch:
    tenant: str
    agency: str
    batch_id: str
    idempotency_key: str
    created_at: str
    status: str = "sending"
    members: list[str] = field(default_factory=list)
    attempts: int = 0
    last_error: str | None = None

    def record(self) -> Batch:
        return Batch(tenant=self.tenant, agency=self.agency, batch_id=self.batch_id, idempotency_key=self.idempotency_key,
                     status=self.status, members=list(self.members), attempts=self.attempts)


@dataclass
class StoredToken:
    tenant: str
    person_id: str
    purpose: str
    valid_until: str
    csrf: str
    notice: str | None
    created_at: str
    opened_at: str | None = None
    channel: str = "hub_notice"


@dataclass
class StoredAgencyState:
    consecutive_failures: int = 0
    paused_until: str | None = None
    lease_until: str | None = None


@dataclass
class Memory:
    """Everything the in-memory stores hold, keyed as the domain names it (tenant first)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    # people and their facts
    people: dict[tuple[str, str], Person] = field(default_factory=dict)
    timelines: dict[tuple[str, str], dict[str, JsonDict]] = field(default_factory=dict)  # sort key -> entry
    identities: dict[tuple[str, str], str] = field(default_factory=dict)   # (tenant, "source:id") -> person
    emails: dict[tuple[str, str], str] = field(default_factory=dict)       # (tenant, address) -> person
    tombstones: dict[tuple[str, str], str] = field(default_factory=dict)   # (tenant, identity or address) -> erased at
    markers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (tenant, id) -> into/merged_at or erased_at
    deliveries: dict[tuple[str, str, str], str] = field(default_factory=dict)
    delivery_log: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # e20-sources: InMemoryDeliveryLog
    lookup_budgets: dict[tuple[str, str, str], int] = field(default_factory=dict)
    index: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)  # (tenant, kind, value) -> sort keys
    notices: dict[tuple[str, str, str], StoredNotice] = field(default_factory=dict)
    # counters: tenant -> "TOTAL" | "DAY#<date>" -> name -> value
    counters: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], JsonDict] = field(default_factory=dict)
    # tenants
    tenants: dict[str, str] = field(default_factory=dict)
    sources: dict[str, set[str]] = field(default_factory=dict)
    cursors: dict[tuple[str, str], tuple[str | None, int]] = field(default_factory=dict)
    sender_claims: dict[str, SenderClaim] = field(default_factory=dict)  # domain -> the tenant's claim
    # configuration, links, suppressions, audit, admin tokens
    config: dict[tuple[str, str, tuple[str, ...]], Document] = field(default_factory=dict)
    tokens: dict[tuple[str, str], StoredToken] = field(default_factory=dict)  # (tenant, digest of the secret)
    suppressions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    audit: dict[str, list[tuple[str, JsonDict]]] = field(default_factory=dict)
    admin_tokens: dict[tuple[str, str], tuple[str, AdminToken]] = field(default_factory=dict)  # (tenant, id) -> (digest, token)
    grants: dict[tuple[str, str], PrincipalGrant] = field(default_factory=dict)  # (tenant, grant id)
    # Career Relay
    referrals: dict[tuple[str, str, str], StoredReferral] = field(default_factory=dict)  # (tenant, person, agency)
    batches: dict[tuple[str, str, str], StoredBatch] = field(default_factory=dict)
    provisions: dict[tuple[str, str], dict[str, JsonDict]] = field(default_factory=dict)  # (tenant, person) -> key -> record
    ledgers: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    ledger_entries: dict[tuple[str, str], dict[str, JsonDict]] = field(default_factory=dict)
    agency_states: dict[tuple[str, str], StoredAgencyState] = field(default_factory=dict)
    # -- e20-programs: the n-th accepted referral of each agency (the ledger explains slots by them)
    accepted: dict[tuple[str, str], dict[int, JsonDict]] = field(default_factory=dict)
    # nurture
    schedules: dict[tuple[str, str, str], Schedule] = field(default_factory=dict)  # (tenant, person, campaign)

    # -- writes several stores share ----------------------------------------------------------------

    def count(self, tenant: str, at: str, deltas: Mapping[str, int]) -> None:
        """ADD deltas to the tenant's TOTAL and day counters, on the local days of the tenant's time
        zone (a dated membership on the local day of its own moment)."""
        items = self.counters.setdefault(tenant, {})
        settings = self.config.get((tenant, "settings", ()))
        routed = kpis.route(deltas, at, tenant_zone(settings.data if settings else None))
        for item, values in [("TOTAL", routed.total), *((f"DAY#{on}", v) for on, v in routed.days.items())]:
            if not values:
                continue
            bucket = items.setdefault(item, {})
            for name, value in values.items():
                bucket[name] = bucket.get(name, 0) + value

    def save_person(self, before: Person | None, after: Person) -> Person:
        """Store the person (version + 1, as an optimistic lock would) and move their search terms."""
        key = (after.tenant, after.person_id)
        stored = self.people.get(key)
        if (stored.version if stored else None) != (before.version if before else None):
            raise AssertionError("the person changed since it was read")  # cannot happen under the lock
        saved = replace(after, version=(stored.version or 0) + 1 if stored else 1, terms_form=TERMS_FORM)
        self.people[key] = saved
        was = stored_terms(stored) if stored is not None else set()
        for kind, value in search_terms(saved) - was:
            self._index(saved, kind, value).add(_index_sort_key(saved.person_id, kind, value))
        for kind, value in was - search_terms(saved):
            self._index(saved, kind, value).discard(_index_sort_key(saved.person_id, kind, value))
        return saved

    def drop_terms(self, person: Person) -> None:
        for kind, value in stored_terms(person):
            self._index(person, kind, value).discard(_index_sort_key(person.person_id, kind, value))

    def _index(self, person: Person, kind: str, value: str) -> set[str]:
        return self.index.setdefault(_index_partition(person.tenant, kind, value), set())

    def timeline(self, tenant: str, person_id: str) -> dict[str, JsonDict]:
        return self.timelines.setdefault((tenant, person_id), {})

    def add_entry(self, tenant: str, person_id: str, sort_key: str, entry: JsonDict) -> bool:
        """Add a timeline entry under its key; False when one is there already."""
        timeline = self.timeline(tenant, person_id)
        if sort_key in timeline:
            return False
        timeline[sort_key] = dict(entry)
        return True

    def ledger(self, tenant: str, agency: str) -> dict[str, int]:
        return self.ledgers.setdefault((tenant, agency), dict.fromkeys(counters.LEDGER_FIELDS, 0))


def _locked(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], R]:
    """Run a store method under the shared lock: each call is one transaction (services use threads)."""

    def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._m.lock:
            return method(self, *args, **kwargs)

    functools.update_wrapper(run, method)
    return run


def _index_partition(tenant: str, kind: str, value: str) -> tuple[str, str, str]:
    return (tenant, "name", "") if kind == "name" else (tenant, kind, value)  # names: one sorted run per tenant


def _index_sort_key(person_id: str, kind: str, value: str) -> str:
    return f"{value}#{person_id}" if kind == "name" else person_id


def _page(keys: Iterable[str], *, limit: int, after: str | None, reverse: bool = False) -> tuple[list[str], str | None]:
    """One page of sorted keys after a position, and where the next starts (None at the end)."""
    ordered = sorted(keys, reverse=reverse)
    if after is not None:
        ordered = [k for k in ordered if (k < after if reverse else k > after)]
    page = ordered[:limit]
    return page, (page[-1] if len(ordered) > limit else None)


def timeline_key(event: HubEvent) -> str:
    return f"TL#{iso(event.occurred_at)}#{event.fact_key()[:32]}"


def notice_id(track: str) -> str:
    """The id of a track's notice in the person's record (one notice per track)."""
    return "NOTICE#" + hashlib.sha256(track.encode()).hexdigest()[:24]


def referral_id(tenant: str, person_id: str, agency: str) -> str:
    """Stable per person and agency: the agency sees one id however often consent is given."""
    return "r_" + hashlib.sha256(f"{tenant}\x1f{person_id}\x1f{agency}".encode()).hexdigest()[:24]


def _relay_consented(person: Person | None) -> bool:
    return person is not None and bool((person.consents.get("relay") or {}).get("given"))


# -- the relations database ----------------------------------------------------------------------

class InMemoryRelations:
    """Relations port: people, their timelines, identities, tombstones, the search index."""

    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None, notice_delay: timedelta = timedelta(minutes=5)) -> None:
        self._m = memory
        self._clock = clock or Clock()
        self._notice_delay = notice_delay

    @_locked
    def record_once(self, event: HubEvent, *, delivery_id: str, logged: Any = None) -> Recorded | None:
        m, tenant, ref = self._m, event.tenant, event.person
        delivery = (tenant, ref.source, delivery_id)
        if delivery in m.deliveries:
            return None
        email = normalise_email(ref.email)
        identity = f"{ref.source}:{ref.vendor_person_id}"
        erased_at = max((at for at in (m.tombstones.get((tenant, identity)),
                                       m.tombstones.get((tenant, email)) if email else None) if at), default=None)
        if erased_at and iso(event.occurred_at) <= erased_at:
            return None  # a fact about someone erased since (a replay, an old export): it stays out
        by_identity = m.identities.get((tenant, identity))
        by_email = m.emails.get((tenant, email)) if email else None
        guess = new_person_id(tenant, ref.source, ref.vendor_person_id)
        if erased_at and by_identity is None and by_email is None:  # back after erasure: a new person
            guess = new_person_id(tenant, ref.source, f"{ref.vendor_person_id}\x1e{erased_at}")
        person_id = by_identity or by_email or guess
        if (by_identity or by_email) and (tenant, person_id) not in m.people:  # an id merged away since
            person_id = self._into(tenant, person_id) or person_id
        fact = timeline_key(event)
        if fact in m.timeline(tenant, person_id):
            return None
        before = m.people.get((tenant, person_id)) or Person(tenant=tenant, person_id=person_id)
        now = self._clock()
        outcome = apply(before, event, now=now)
        track = track_of(event)
        notice = notice_id(track)
        existing = m.notices.get((tenant, person_id, notice))
        planned = notices.plan(event, now=now, delay=self._notice_delay, track=track,
                               existing=existing.status if existing else None)
        m.deliveries[delivery] = iso(now + DEDUPE_WINDOW)
        m.add_entry(tenant, person_id, fact, outcome.entry)
        m.save_person(before, outcome.person)
        if by_identity is None:
            m.identities[(tenant, identity)] = person_id
        if email and by_email is None:
            m.emails[(tenant, email)] = person_id
        if planned:
            m.notices[(tenant, person_id, notice)] = StoredNotice(
                kind=planned.kind, status="pending", track=planned.track, fact_at=iso(event.occurred_at),
                due_at=iso(planned.due_at), source=event.source, job_title=event.job_title)
        m.count(tenant, iso(event.occurred_at), outcome.counters)
        if logged is not None:  # e20-sources: the delivery's log entry, with the fact
            m.delivery_log.setdefault((tenant, logged.source), {})[f"{iso(logged.delivery.at)}#{logged.entry}"] = logged.delivery
        return Recorded(person_id=person_id,
                        notice=NoticeRef(tenant, person_id, notice, utc(iso(planned.due_at))) if planned else None)

    @_locked
    def mark_delivery(self, tenant: str, source: str, delivery_id: str) -> bool:
        key = (tenant, source, delivery_id)
        if key in self._m.deliveries:
            return False
        self._m.deliveries[key] = iso(self._clock() + DEDUPE_WINDOW)
        return True

    @_locked
    def spend_lookup(self, tenant: str, source: str, window: str, limit: int) -> bool:
        spent = self._m.lookup_budgets.get((tenant, source, window), 0)
        if spent >= limit:
            return False
        self._m.lookup_budgets[(tenant, source, window)] = spent + 1
        return True

    @_locked
    def unmark_delivery(self, tenant: str, source: str, delivery_id: str) -> None:
        self._m.deliveries.pop((tenant, source, delivery_id), None)

    @_locked
    def profile(self, tenant: str, person_id: str) -> Profile | None:
        person = self._m.people.get((tenant, person_id))
        if person is None:
            return None
        return Profile(person, [dict(entry) for _, entry in sorted(self._m.timeline(tenant, person_id).items())])

    @_locked
    def profiles(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Profile]:
        found = {person_id: self.profile(tenant, person_id) for person_id in person_ids}
        return {person_id: profile for person_id, profile in found.items() if profile is not None}

    @_locked
    def people(self, tenant: str, person_ids: Sequence[str]) -> list[Person]:
        return [self._m.people[(tenant, pid)] for pid in person_ids if (tenant, pid) in self._m.people]

    @_locked
    def find_by_email(self, tenant: str, email: str) -> list[Profile]:
        person_id = self._m.emails.get((tenant, email))
        found = self.profile(tenant, person_id) if person_id else None
        return [found] if found else []

    @_locked
    def search(self, tenant: str, kind: str, value: str, *, limit: int,
               after: str | None = None) -> tuple[list[str], str | None]:
        keys = self._m.index.get(_index_partition(tenant, kind, value), set())
        if kind == "name":
            keys = {key for key in keys if key.startswith(value)}
        page, following = _page(keys, limit=limit, after=after)
        return [key.rsplit("#", 1)[-1] for key in page], following

    @_locked
    def set_tags(self, tenant: str, person_id: str, change: ports.TagChange) -> Person | None:
        before = self._m.people.get((tenant, person_id))
        if before is None:
            return None
        after = replace(before, tags=tuple(change(before.tags)))
        if after.tags == before.tags:
            return before
        return self._m.save_person(before, after)

    @_locked
    def held(self, tenant: str, person_id: str) -> Held | None:
        m = self._m
        person = m.people.get((tenant, person_id))
        if person is None:
            return None
        held_notices = [{"kind": n.kind, "status": n.status, "due_at": n.due_at, "decided_at": n.decided_at,
                         "source": n.source, "job_title": n.job_title, **({"waiting": n.waiting} if n.waiting else {}),
                         **({"attempts": n.attempts} if n.attempts else {}), **({"reason": n.reason} if n.reason else {})}
                        for (t, pid, _), n in sorted(m.notices.items()) if (t, pid) == (tenant, person_id)]
        held_referrals = [{"agency": r.agency, "referral_id": r.referral_id, "status": r.status, "queued_at": r.queued_at,
                           "decided_at": r.decided_at, "withdrawn_at": r.withdrawn_at, "consent_at": r.consent_at,
                           "consent_version": r.consent_version, "text_version": r.text_version or r.consent_version}
                          for (t, pid, _), r in sorted(m.referrals.items()) if (t, pid) == (tenant, person_id)]
        links = [{"purpose": t.purpose, "created_at": t.created_at, "valid_until": t.valid_until, "opened_at": t.opened_at,
                  "channel": t.channel}
                 for _, t in sorted(m.tokens.items()) if (t.tenant, t.person_id) == (tenant, person_id)]
        timeline = [dict(entry) for _, entry in sorted(m.timeline(tenant, person_id).items())]
        return Held(person=person, timeline=timeline, notices=held_notices, referrals=held_referrals, links=links)

    @_locked
    def erase(self, tenant: str, person_id: str) -> bool:
        m = self._m
        person = m.people.pop((tenant, person_id), None)
        if person is None:
            return False
        now = iso(self._clock())
        for identity in [*person.identities, *([person.email] if person.email else [])]:
            m.tombstones[(tenant, identity)] = now
        m.markers[(tenant, person_id)] = {"erased_at": now}
        m.drop_terms(person)
        for identity in person.identities:
            m.identities.pop((tenant, identity), None)
        if person.email:
            m.emails.pop((tenant, person.email), None)
        gone = replace(person, milestones={**person.milestones, "erased_at": now})
        m.count(tenant, now, {counters.PEOPLE_ERASED: 1, **kpis.deltas(person, gone)})
        # the rest of their record: timeline, notices, schedules, links; referrals nothing left the hub for
        m.timelines.pop((tenant, person_id), None)
        for store in (m.notices, m.schedules):
            for key in [key for key in store if key[:2] == (tenant, person_id)]:
                del store[key]
        for digest in [digest for digest, token in m.tokens.items() if (token.tenant, token.person_id) == (tenant, person_id)]:
            del m.tokens[digest]
        for at, referral in list(m.referrals.items()):
            if at[:2] != (tenant, person_id):
                continue
            if referral.status in ("queued", "withdrawn") or (referral.status == referrals.HELD and not referral.batch_id):
                del m.referrals[at]
            elif not referral.withdrawn_at and referral.listed is None:  # the agency has the data: tell it
                referral.listed = ("withdraw", f"{now}#{person_id}")
        return True

    def _into(self, tenant: str, person_id: str) -> str | None:
        into = None
        for _ in range(5):
            into = self._m.markers.get((tenant, into or person_id), {}).get("into") or into
            if into is None or "into" not in self._m.markers.get((tenant, into), {}):
                break
        return into

    @_locked
    def merged_into(self, tenant: str, person_id: str) -> str | None:
        return self._into(tenant, person_id)

    @_locked
    def merge(self, tenant: str, person_id: str, other: str) -> Merged:
        m = self._m
        mark, other_mark = m.markers.get((tenant, person_id), {}), m.markers.get((tenant, other), {})
        if other_mark.get("into") == person_id:
            return Merged(person_id=person_id, merged=other, merged_at=other_mark["merged_at"])
        if "erased_at" in mark or "erased_at" in other_mark:
            raise Conflict("an erased person cannot be merged")
        if "into" in mark or "into" in other_mark:
            raise Conflict("this person was merged into another already")
        survivor, gone = m.people.get((tenant, person_id)), m.people.get((tenant, other))
        if survivor is None or gone is None:
            raise NotFound("no such person")
        if any(key[:2] == (tenant, other) for key in m.referrals):
            raise Conflict("the other person has referrals (agencies know them by id): merge the other way round")
        now = iso(self._clock())
        merged = merging.merge(survivor, gone)
        for identity in gone.identities:
            m.identities[(tenant, identity)] = person_id
        for (t, address), pid in list(m.emails.items()):
            if (t, pid) == (tenant, other):
                m.emails[(t, address)] = person_id
        m.drop_terms(gone)
        del m.people[(tenant, other)]
        timeline = m.timeline(tenant, person_id)
        for sort_key, entry in m.timelines.pop((tenant, other), {}).items():
            timeline.setdefault(sort_key, entry)
        for key in [key for key in m.notices if key[:2] == (tenant, other)]:
            m.notices.setdefault((tenant, person_id, key[2]), m.notices.pop(key))
        for key in [key for key in m.schedules if key[:2] == (tenant, other)]:
            m.schedules.setdefault((tenant, person_id, key[2]), m.schedules.pop(key))
        for token in m.tokens.values():
            if (token.tenant, token.person_id) == (tenant, other):
                token.person_id = person_id
        m.save_person(survivor, merged)
        m.markers[(tenant, other)] = {"into": person_id, "merged_at": now}
        m.count(tenant, now[:10], merging.counter_deltas(survivor, gone, merged))
        return Merged(person_id=person_id, merged=other, merged_at=now)

    @_locked
    def record_contact_event(self, tenant: str, person_id: str, entry: JsonDict, counters: Mapping[str, int]) -> None:
        key = hashlib.sha256(repr(sorted(entry.items())).encode()).hexdigest()[:16]
        if self._m.add_entry(tenant, person_id, f"TL#{entry['occurred_at']}#{key}", entry):
            self._m.count(tenant, str(entry["occurred_at"]), counters)

    @_locked
    def record_decision(self, tenant: str, person_id: str, choices: Mapping[str, bool], *, at: datetime,
                        version: str, score: int | None, token_ref: str | None, agencies: Mapping[str, str],
                        link_channel: str | None = None) -> Decision:
        m = self._m
        before = m.people.get((tenant, person_id))
        if before is None:
            raise RetryableError("the person is gone")
        decision = consents.decide(before, dict(choices), at=at, version=version, agencies=agencies, score=score,
                                   token_ref=token_ref, link_channel=link_channel)
        if not decision.entries:
            return decision
        when = iso(at)
        m.save_person(before, decision.person)
        for index, entry in enumerate(decision.entries):
            m.timeline(tenant, person_id)[f"TL#{when}#c{index}{entry.get('consent', '')}"] = dict(entry)
        for agency in agencies:
            key = (tenant, person_id, agency)
            referral = m.referrals.get(key)
            status = referral.status if referral is not None else None
            if agency in decision.queue and (referral is None or status == "withdrawn"):
                m.referrals[key] = StoredReferral(
                    tenant=tenant, person_id=person_id, agency=agency, referral_id=referral_id(tenant, person_id, agency),
                    status="queued", queued_at=when, consent_at=when, consent_version=agencies[agency],
                    text_version=version, listed=("queue", f"{when}#{person_id}"))
            elif referral is not None and agency in decision.queue and status in ("queued", referrals.HELD):
                referral.status, referral.consent_at, referral.consent_version = "queued", when, agencies[agency]
                referral.text_version, referral.listed = version, ("queue", f"{when}#{person_id}")
            elif decision.relay_withdrawn and referral is not None and (
                    status == "queued" or (status == referrals.HELD and not referral.batch_id)):
                referral.status, referral.decided_at, referral.listed = "withdrawn", when, None
            elif decision.relay_withdrawn and referral is not None and status in (
                    "sending", "accepted", "declined", "failed", referrals.HELD):
                referral.listed = ("withdraw", f"{when}#{person_id}")  # the agency has (or may have) the data
        m.count(tenant, when, decision.counters)
        return decision

    @_locked
    def opt_out(self, tenant: str, person_id: str, *, at: datetime) -> None:
        m = self._m
        person = m.people.get((tenant, person_id))
        if person is None or (person.consents.get("mail") or {}).get("opted_out"):
            return
        when = iso(at)
        updated = replace(person, consents={**person.consents, "mail": {"opted_out": True, "at": when}})
        m.save_person(person, updated)
        m.timeline(tenant, person_id)[f"TL#{when}#optout"] = {
            "type": "consent_withdrawn", "consent": "mail", "occurred_at": when, "channel": "unsubscribe_link"}
        m.count(tenant, when, {counters.PEOPLE_OPTED_OUT: 1, **kpis.deltas(person, updated)})


class InMemoryNotices:
    """Notices port: the notices record_once planned, until sent, cancelled or suppressed."""

    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def view(self, tenant: str, person_id: str, notice: str) -> NoticeView | None:
        person = self._m.people.get((tenant, person_id))
        stored = self._m.notices.get((tenant, person_id, notice))
        if person is None or stored is None:
            return None
        return NoticeView(kind=stored.kind, status=stored.status, track=stored.track, fact_at=stored.fact_at,
                          source=stored.source, job_title=stored.job_title, person=person, waiting=stored.waiting,
                          mailed=stored.mailed)

    @_locked
    def claim(self, tenant: str, person_id: str, notice: str, *, email: str, until: datetime,
              links: Sequence[LinkGrant]) -> Claim:
        stored = self._m.notices.get((tenant, person_id, notice))
        now = iso(self._clock())
        if stored is None or stored.status != "pending":
            return "decided"
        if stored.claimed_until is not None and stored.claimed_until >= now:
            return "busy"
        if self._m.suppressions.get((tenant, email_key(email))):
            return "suppressed"
        stored.claimed_until = iso(until)
        InMemoryTokens(self._m, clock=self._clock).keep(tenant, person_id, links)
        return "claimed"

    @_locked
    def mailed(self, tenant: str, person_id: str, notice: str, *, kind: str, mail: SentMail, entry: JsonDict) -> bool:
        stored = self._m.notices.get((tenant, person_id, notice))
        if stored is None or stored.status != "pending":
            return False
        stored.mailed = MailedNotice(kind=kind, mail=mail, entry=entry)
        return True

    @_locked
    def decide(self, tenant: str, person_id: str, notice: str, status: str, reason: str | None = None) -> bool:
        stored = self._m.notices.get((tenant, person_id, notice))
        if stored is None or stored.status != "pending":
            return False
        now = iso(self._clock())
        stored.status, stored.decided_at, stored.waiting = status, now, None
        if reason:
            stored.reason = reason
        self._m.count(tenant, now, {counters.notices(status): 1})
        return True

    @_locked
    def sent(self, tenant: str, person_id: str, notice: str, *, kind: str, mail: SentMail, entry: JsonDict) -> bool:
        m = self._m
        person = m.people.get((tenant, person_id))
        stored = m.notices.get((tenant, person_id, notice))
        if person is None or stored is None or stored.status != "pending":
            return False
        stored.status, stored.decided_at, stored.message_id, stored.waiting = "sent", mail.sent_at, mail.message_id, None
        stored.claimed_until = stored.mailed = None
        stored.template_version, stored.locale = mail.template_version, mail.locale
        m.add_entry(tenant, person_id, f"TL#{mail.sent_at}#{notice[-16:]}", entry)
        contacted = replace(person, last_contact_at=max(person.last_contact_at or "", mail.sent_at))
        m.save_person(person, contacted)
        m.count(tenant, mail.sent_at, {**notices.sent_counters(kind), **kpis.deltas(person, contacted)})
        return True

    @_locked
    def due(self, before: datetime, per_tenant: int = 100) -> list[NoticeRef]:
        waiting = sorted((f"{n.due_at}#{tenant}#{pid}#{notice}", NoticeRef(tenant, pid, notice, utc(n.due_at)))
                         for (tenant, pid, notice), n in self._m.notices.items() if n.status == "pending" and not n.waiting)
        by_tenant: dict[str, list[NoticeRef]] = {}
        for key, ref in waiting:
            if key < iso(before):
                by_tenant.setdefault(ref.tenant, []).append(ref)
        return notices.in_turns([refs[:per_tenant] for _, refs in sorted(by_tenant.items())])

    @_locked
    def postpone(self, tenant: str, person_id: str, notice: str, due_at: datetime) -> bool:
        stored = self._m.notices.get((tenant, person_id, notice))
        if stored is None or stored.status != "pending" or stored.waiting:
            return False
        stored.due_at = iso(due_at)
        return True

    @_locked
    def attempted(self, tenant: str, person_id: str, notice: str, reason: str) -> int:
        stored = self._m.notices.get((tenant, person_id, notice))
        if stored is None or stored.status != "pending":
            return 0
        stored.attempts, stored.reason, stored.claimed_until = stored.attempts + 1, reason, None
        return stored.attempts

    @_locked
    def requeue(self, tenant: str, person_id: str) -> int:
        failed = [n for (t, pid, _), n in self._m.notices.items() if (t, pid) == (tenant, person_id) and n.status == "failed"]
        for stored in failed:
            stored.status, stored.due_at, stored.attempts = "pending", iso(self._clock()), 0
            stored.reason = stored.decided_at = None
        return len(failed)

    @_locked
    def wait(self, tenant: str, person_id: str, notice: str, reason: str) -> bool:
        stored = self._m.notices.get((tenant, person_id, notice))
        if stored is None or stored.status != "pending":
            return False
        stored.waiting = reason
        return True

    @_locked
    def waiting_tenants(self) -> list[str]:
        return sorted({tenant for (tenant, _, _), n in self._m.notices.items() if n.status == "pending" and n.waiting})

    @_locked
    def waiting(self, tenant: str, limit: int = 1000) -> list[NoticeRef]:
        found = sorted((n.due_at, pid, notice) for (t, pid, notice), n in self._m.notices.items()
                       if t == tenant and n.status == "pending" and n.waiting)
        return [NoticeRef(tenant, pid, notice, utc(due)) for due, pid, notice in found[:limit]]

    @_locked
    def resume(self, tenant: str, limit: int = 500) -> list[NoticeRef]:
        resumed = self.waiting(tenant, limit)
        for ref in resumed:
            self._m.notices[(tenant, ref.person_id, ref.notice)].waiting = None
        return resumed


class InMemoryTenants:
    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def add_tenant(self, tenant: str) -> None:
        self._m.tenants.setdefault(tenant, iso(self._clock()))

    @_locked
    def tenants(self) -> list[str]:
        return sorted(self._m.tenants)

    @_locked
    def add_source(self, tenant: str, source: str) -> None:
        self.add_tenant(tenant)
        self._m.sources.setdefault(tenant, set()).add(source)

    @_locked
    def sources(self, tenant: str) -> list[str]:
        return sorted(self._m.sources.get(tenant, ()))

    @_locked
    def poll_state(self, tenant: str, source: str) -> PollState:
        found = self._m.cursors.get((tenant, source))
        return PollState(cursor=found[0], version=found[1]) if found else PollState(cursor=None, version=None)

    @_locked
    def save_poll_state(self, tenant: str, source: str, cursor: str | None, version: int | None) -> int | None:
        found = self._m.cursors.get((tenant, source))
        if (found[1] if found else None) != version:
            return None  # another run advanced it since it was read
        new = (version or 0) + 1
        self._m.cursors[(tenant, source)] = (cursor, new)
        return new


class InMemorySenderDomains:
    """SenderDomains port: one claim per domain; the first tenant to claim it holds it."""

    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def claim(self, domain: str, tenant: str) -> bool:
        held = self._m.sender_claims.setdefault(domain, SenderClaim(domain, tenant, claimed_at=iso(self._clock())))
        return held.tenant == tenant

    @_locked
    def release(self, domain: str, tenant: str) -> None:
        held = self._m.sender_claims.get(domain)
        if held is not None and held.tenant == tenant:
            del self._m.sender_claims[domain]

    @_locked
    def get(self, domain: str) -> SenderClaim | None:
        return self._m.sender_claims.get(domain)

    @_locked
    def save(self, claim: SenderClaim) -> bool:
        held = self._m.sender_claims.get(claim.domain)
        if held is None or held.tenant != claim.tenant:
            return False
        self._m.sender_claims[claim.domain] = replace(held, status=claim.status, dkim_tokens=claim.dkim_tokens,
                                                      checked_at=claim.checked_at)
        return True


class InMemoryCounters:
    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def totals(self, tenant: str) -> dict[str, int]:
        return dict(self._m.counters.get(tenant, {}).get("TOTAL", {}))

    @_locked
    def days(self, tenant: str, first: str, last: str) -> dict[str, dict[str, int]]:
        return {item[4:]: dict(values) for item, values in sorted(self._m.counters.get(tenant, {}).items())
                if item.startswith("DAY#") and f"DAY#{first}" <= item <= f"DAY#{last}"}

    @_locked
    def snapshots(self, tenant: str, first: str, last: str) -> dict[str, JsonDict]:
        return {day: dict(document) for (t, day), document in sorted(self._m.snapshots.items())
                if t == tenant and first <= day <= last}

    @_locked
    def save_snapshot(self, tenant: str, day: str, document: JsonDict) -> bool:
        if (tenant, day) in self._m.snapshots:
            return False
        self._m.snapshots[(tenant, day)] = dict(document)
        return True


class InMemoryConfig:
    """Config port: a tenant's documents by kind and name, versioned from 1."""

    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def get(self, tenant: str, kind: DocumentKind, name: Sequence[str] = ()) -> Document | None:
        return self._m.config.get((tenant, kind, tuple(name)))

    @_locked
    def list(self, tenant: str, kind: DocumentKind) -> list[Document]:
        return [document for (t, k, _), document in sorted(self._m.config.items(), key=lambda item: item[0])
                if (t, k) == (tenant, kind)]

    # -- issue 18, the admin API's lists --
    @_locked
    def page(self, tenant: str, kind: DocumentKind, *, limit: int,
             after: str | None = None) -> tuple[builtins.list[tuple[str, Document]], str | None]:
        named = sorted((name[0], document) for (t, k, name), document in self._m.config.items()
                       if (t, k) == (tenant, kind) and len(name) == 1 and (after is None or name[0] > after))
        return named[:limit], (named[limit - 1][0] if len(named) > limit else None)

    @_locked
    def put(self, tenant: str, kind: DocumentKind, name: Sequence[str], data: JsonDict, *,
            expected_version: int | None = None) -> int:
        key = (tenant, kind, tuple(name))
        current = self._m.config.get(key)
        if current is not None and expected_version is not None and expected_version != current.version:
            raise Conflict(f"{kind} {'/'.join(name)} changed since version {expected_version} (now {current.version})")
        version = current.version + 1 if current else 1
        self._m.config[key] = Document(data=dict(data), version=version)
        return version

    @_locked
    def put_once(self, tenant: str, kind: DocumentKind, name: Sequence[str], data: JsonDict) -> None:
        self._m.config.setdefault((tenant, kind, tuple(name)), Document(data=dict(data), version=1))


def _token_key(token: str) -> tuple[str, str] | None:
    """(tenant, digest of the secret part) of a well-formed link token "<tenant>.<secret>"."""
    if not isinstance(token, str) or len(token) > 120 or "." not in token:
        return None
    tenant, secret = token.split(".", 1)
    if not tenant or not secret:
        return None
    return tenant, hashlib.sha256(secret.encode()).hexdigest()


class InMemoryTokens:
    """Tokens port: "<tenant>.<random>", kept by the digest of the random part."""

    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def issue(self, tenant: str, person_id: str, purpose: str, valid_until: datetime, notice: str | None = None,
              channel: str = "hub_notice") -> str:
        token = new_link_token(tenant)
        self.keep(tenant, person_id, [LinkGrant(token, purpose, valid_until, notice=notice, channel=channel)])
        return token

    @_locked
    def keep(self, tenant: str, person_id: str, links: Sequence[LinkGrant]) -> None:
        for link in links:
            key = _token_key(link.token)
            if key is None or key[0] != tenant:
                raise ValueError("not a link token of this tenant")
            self._m.tokens[key] = StoredToken(tenant=tenant, person_id=person_id, purpose=link.purpose,
                                              valid_until=iso(link.valid_until), csrf=secrets.token_urlsafe(16),
                                              notice=link.notice, created_at=iso(self._clock()), channel=link.channel)

    @_locked
    def register(self, tenant: str, token: str, person_id: str, purpose: str, valid_until: datetime, *,
                 channel: str) -> bool:
        key = _token_key(token)
        if key is None or key[0] != tenant:
            raise ValueError("not a link token of this tenant")
        if key in self._m.tokens:
            return False  # known: nothing written, its csrf and first opening stay
        self._m.tokens[key] = StoredToken(tenant=tenant, person_id=person_id, purpose=purpose, valid_until=iso(valid_until),
                                          csrf=secrets.token_urlsafe(16), notice=None, created_at=iso(self._clock()),
                                          channel=channel)
        return True

    @_locked
    def resolve(self, token: str) -> TokenInfo | None:
        key = _token_key(token)
        stored = self._m.tokens.get(key) if key else None
        if stored is None or stored.valid_until <= iso(self._clock()):
            return None
        return TokenInfo(tenant=stored.tenant, person_id=stored.person_id, purpose=stored.purpose,
                         valid_until=stored.valid_until, csrf=stored.csrf, notice=stored.notice, opened_at=stored.opened_at,
                         channel=stored.channel)

    @_locked
    def mark_opened(self, token: str) -> bool:
        key = _token_key(token)
        stored = self._m.tokens.get(key) if key else None
        if stored is None or stored.opened_at is not None:
            return False
        stored.opened_at = iso(self._clock())
        return True


class InMemorySuppressions:
    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def reasons(self, tenant: str, email: str) -> list[str]:
        return list(self._m.suppressions.get((tenant, email_key(email)), ()))

    @_locked
    def add(self, tenant: str, email: str, reason: str) -> None:
        reasons = self._m.suppressions.setdefault((tenant, email_key(email)), [])
        if reason not in reasons:
            reasons.append(reason)


class InMemoryAudit:
    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def record(self, tenant: str, *, who: str, action: str, target: str | None) -> None:
        at = iso(self._clock())
        self._m.audit.setdefault(tenant, []).append(
            (f"{at}#{secrets.token_hex(4)}", {"at": at, "who": who, "action": action, "target": target}))

    @_locked
    def entries(self, tenant: str, *, limit: int, before: str | None, who: str | None = None,
                action: str | None = None) -> tuple[list[JsonDict], str | None]:
        stored = {key: entry for key, entry in self._m.audit.get(tenant, [])
                  if (who is None or entry["who"] == who) and (action is None or entry["action"] == action)}  # e18-admin: filters
        page, following = _page(stored, limit=limit, after=before, reverse=True)
        return [dict(stored[key]) for key in page], following


class InMemoryAdminTokens:
    """AdminTokens port: "<tenant>.<id>.<secret>", kept as a digest of the whole token."""

    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def issue(self, tenant: str, *, by: str, valid_until: datetime) -> tuple[str, str]:
        token_id = secrets.token_hex(8)
        token = f"{tenant}.{token_id}.{secrets.token_urlsafe(32)}"
        self._m.admin_tokens[(tenant, token_id)] = (hashlib.sha256(token.encode()).hexdigest(), AdminToken(
            tenant=tenant, id=token_id, created_at=iso(self._clock()), created_by=by, valid_until=iso(valid_until)))
        return token_id, token

    @_locked
    def find(self, token: str) -> AdminToken | None:
        parts = token.split(".") if isinstance(token, str) and len(token) < 200 else []
        if len(parts) != 3 or not all(parts):
            return None
        tenant, token_id, _ = parts
        stored = self._m.admin_tokens.get((tenant, token_id))
        given = hashlib.sha256(token.encode()).hexdigest()
        return stored[1] if stored is not None and hmac.compare_digest(given, stored[0]) else None

    @_locked
    def tokens(self, tenant: str) -> list[AdminToken]:
        return sorted((t for (owner, _), (_, t) in self._m.admin_tokens.items() if owner == tenant),
                      key=lambda t: (t.created_at, t.id))

    @_locked
    def mark_used(self, tenant: str, token_id: str, at: datetime) -> None:
        stored = self._m.admin_tokens.get((tenant, token_id))
        if stored is not None:
            self._m.admin_tokens[(tenant, token_id)] = (stored[0], replace(stored[1], last_used_at=iso(at)))

    @_locked
    def revoke(self, tenant: str, token_id: str) -> bool:
        return self._m.admin_tokens.pop((tenant, token_id), None) is not None

    @_locked
    def grant(self, tenant: str, principal: str, *, by: str) -> PrincipalGrant:
        key = (tenant, principals.grant_id(principal))
        found = self._m.grants.get(key)
        if found is None or found.principal != principal:
            found = self._m.grants[key] = PrincipalGrant(tenant=tenant, id=key[1], principal=principal,
                                                         granted_at=iso(self._clock()), granted_by=by)
        return found

    @_locked
    def grants(self, tenant: str) -> list[PrincipalGrant]:
        return sorted((g for (owner, _), g in self._m.grants.items() if owner == tenant), key=lambda g: g.id)

    @_locked
    def granted(self, tenant: str, principal: str) -> bool:
        found = self._m.grants.get((tenant, principals.grant_id(principal)))
        return found is not None and found.principal == principal

    @_locked
    def has_grants(self, principal: str) -> bool:
        return any(g.principal == principal for g in self._m.grants.values())

    @_locked
    def revoke_grant(self, tenant: str, grant_id: str) -> bool:
        return self._m.grants.pop((tenant, grant_id), None) is not None


class InMemoryReferrals:
    """Referrals port: referrals, batches, provision records, the slot ledger, each agency's circuit."""

    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    def _listed(self, tenant: str, agency: str, which: str) -> list[StoredReferral]:
        found = [r for (t, _, a), r in self._m.referrals.items()
                 if (t, a) == (tenant, agency) and r.listed is not None and r.listed[0] == which]
        return sorted(found, key=lambda r: r.listed or ("", ""))

    @_locked
    def queued(self, tenant: str, agency: str, limit: int) -> list[Referral]:
        return [r.record() for r in self._listed(tenant, agency, "queue")[:limit]]

    @_locked
    def open_batches(self, tenant: str, agency: str) -> list[Batch]:
        found = [b for (t, a, _), b in self._m.batches.items() if (t, a) == (tenant, agency) and b.status == "sending"]
        return [b.record() for b in sorted(found, key=lambda b: (b.created_at, b.batch_id))][:50]

    @_locked
    def pending_withdrawals(self, tenant: str, agency: str) -> list[Referral]:
        return [r.record() for r in self._listed(tenant, agency, "withdraw")[:100]]

    @_locked
    def withdrawal_sent(self, referral: Referral) -> None:
        stored = self._m.referrals.get((referral.tenant, referral.person_id, referral.agency))
        if stored is not None:
            stored.withdrawn_at, stored.listed = iso(self._clock()), None

    @_locked
    def new_batch(self, tenant: str, agency: str) -> Batch:
        batch_id = "b_" + secrets.token_hex(16)
        stored = StoredBatch(tenant=tenant, agency=agency, batch_id=batch_id, idempotency_key=batch_id,
                             created_at=iso(self._clock()))
        self._m.batches[(tenant, agency, batch_id)] = stored
        return stored.record()

    @_locked
    def claim(self, tenant: str, queued: Sequence[Referral], batch: Batch, agency: Agency,
              provisions: Mapping[str, JsonDict]) -> list[str]:
        m = self._m
        now = iso(self._clock())
        stored_batch = m.batches.get((tenant, batch.agency, batch.batch_id))
        claimed: list[str] = []
        version = agency.consent_version
        for referral in queued:
            key = (tenant, referral.person_id, agency.slug)
            stored = m.referrals.get(key)
            person = m.people.get((tenant, referral.person_id))
            if stored is None or stored.status != "queued" or stored_batch is None or stored_batch.status != "sending":
                continue
            if not _relay_consented(person):  # consent withdrawn (or the person erased) since it was queued
                stored.status, stored.decided_at, stored.listed = "withdrawn", now, None
                continue
            if stored.consent_version != version:  # consented under another version of the agency: held
                self._hold(tenant, stored, now)
                continue
            provision = f"{now}#{agency.slug}#{batch.batch_id}"
            record = {k: v for k, v in provisions[referral.person_id].items() if k != "expires_at"}
            m.provisions.setdefault((tenant, referral.person_id), {})[provision] = {
                "person_id": referral.person_id, "agency": agency.slug, "batch_id": batch.batch_id,
                "idempotency_key": batch.idempotency_key, "referral_id": stored.referral_id, "provided_at": now,
                "agency_answer": None, **record}
            stored.status, stored.batch_id, stored.idempotency_key = "sending", batch.batch_id, batch.idempotency_key
            stored.provision, stored.listed = provision, None
            m.timeline(tenant, referral.person_id)[f"TL#{now}#ref{agency.slug}"] = {
                "type": "referred", "agency": agency.slug, "occurred_at": now, "referral_id": stored.referral_id,
                "consent_version": version}
            stored_batch.members.append(referral.person_id)
            claimed.append(referral.person_id)
        if claimed:
            m.ledger(tenant, agency.slug)[counters.LEDGER_SENT] += len(claimed)
            m.ledger_entries.setdefault((tenant, agency.slug), {})[f"LE#{now}#sent{batch.batch_id}#{claimed[0]}"] = {
                "type": "referrals_sent", "at": now, "batch_id": batch.batch_id, "referrals": len(claimed),
                "consent_version": version}
            m.count(tenant, now, {counters.REFERRALS_SENT: len(claimed),
                                       counters.referrals_sent_to(agency.slug): len(claimed)})
        batch.members = list(batch.members) + claimed
        return claimed

    @_locked
    def hold(self, tenant: str, referral: Referral) -> bool:
        stored = self._m.referrals.get((tenant, referral.person_id, referral.agency))
        if stored is None or (stored.status, stored.consent_version) != (referral.status, referral.consent_version):
            return False
        self._hold(tenant, stored, iso(self._clock()))
        return True

    def _hold(self, tenant: str, stored: StoredReferral, now: str) -> None:
        if stored.status == "sending":
            for record in self._m.provisions.get((tenant, stored.person_id), {}).values():
                if (record["batch_id"], record["agency"]) == (stored.batch_id, stored.agency):
                    record["agency_answer"] = f"held: {referrals.HELD}"
        stored.status, stored.decided_at, stored.listed = referrals.HELD, now, None
        self._m.ledger(tenant, stored.agency)[counters.LEDGER_HELD] += 1

    @_locked
    def members(self, tenant: str, batch: Batch) -> list[Referral]:
        found = (self._m.referrals.get((tenant, person_id, batch.agency)) for person_id in batch.members)
        return [stored.record() for stored in found if stored is not None]

    @_locked
    def fail(self, tenant: str, referral: Referral, error: str) -> None:
        stored = self._m.referrals.get((tenant, referral.person_id, referral.agency))
        if stored is None or stored.status != "sending":
            return
        stored.status, stored.decided_at = "failed", iso(self._clock())
        for record in self._m.provisions.get((tenant, referral.person_id), {}).values():
            if (record["batch_id"], record["agency"]) == (stored.batch_id, stored.agency):
                record["agency_answer"] = f"failed: {error}"

    @_locked
    def settle(self, tenant: str, agency: Agency, answers: Sequence[Answer]) -> list[str | None]:
        m = self._m
        now = iso(self._clock())
        ledger = m.ledger(tenant, agency.slug)
        outcomes: list[str | None] = []
        for answer in answers:
            referral = answer.referral
            stored = m.referrals.get((tenant, referral.person_id, agency.slug))
            if stored is None or stored.status != "sending":
                outcomes.append(None)  # recorded before
                continue
            outcome = "accepted" if answer.status in ("accepted", "duplicate") else "declined"
            stored.status, stored.agency_ref, stored.decided_at = outcome, answer.agency_ref, now
            m.timeline(tenant, referral.person_id)[f"TL#{now}#res{agency.slug}"] = {
                "type": f"referral_{outcome}", "agency": agency.slug, "occurred_at": now,
                "referral_id": stored.referral_id, "agency_answer": answer.status}
            if stored.provision:
                provision = m.provisions.get((tenant, referral.person_id), {}).get(stored.provision)
                if provision is not None:
                    provision["agency_answer"] = answer.status
            ledger[counters.ledger(outcome)] += 1
            deltas = {counters.referrals(outcome): 1}
            if outcome == "accepted":
                running = ledger[counters.LEDGER_ACCEPTED]
                m.accepted.setdefault((tenant, agency.slug), {})[running] = {  # e20-programs
                    "type": "referral_accepted", "n": running, "at": now, "referral_id": stored.referral_id,
                    "person_id": referral.person_id, "batch_id": stored.batch_id}
                if referrals.slots_for(running, agency.referrals_per_slot) > referrals.slots_for(running - 1, agency.referrals_per_slot):
                    ledger[counters.LEDGER_SLOTS_EARNED] += 1
                    deltas[counters.SLOTS_EARNED] = 1
                    m.ledger_entries.setdefault((tenant, agency.slug), {})[f"LE#{now}#earn{running}"] = {
                        "type": "slot_earned", "at": now, "accepted_total": running,
                        "rule": f"{agency.referrals_per_slot} accepted referrals = 1 slot"}
            m.count(tenant, now, deltas)
            outcomes.append(outcome)
        return outcomes

    @_locked
    def batch_attempted(self, batch: Batch, error: str | None, *, park: bool = False) -> None:
        stored = self._m.batches.get((batch.tenant, batch.agency, batch.batch_id))
        if stored is not None:
            stored.attempts += 1
            stored.last_error = error
            if park:
                stored.status = "parked"
        batch.attempts = (batch.attempts or 0) + 1

    @_locked
    def close_batch(self, batch: Batch, status: str = "done") -> None:
        stored = self._m.batches.get((batch.tenant, batch.agency, batch.batch_id))
        if stored is not None:
            stored.status = status

    @_locked
    def state(self, tenant: str, agency: str) -> AgencyState:
        stored = self._m.agency_states.get((tenant, agency), StoredAgencyState())
        return AgencyState(consecutive_failures=stored.consecutive_failures, paused_until=stored.paused_until)

    @_locked
    def save_state(self, tenant: str, agency: str, failures: int, paused_until: str | None) -> None:
        stored = self._m.agency_states.setdefault((tenant, agency), StoredAgencyState())
        stored.consecutive_failures, stored.paused_until = failures, paused_until

    @_locked
    def acquire(self, tenant: str, agency: str, seconds: int) -> bool:
        stored = self._m.agency_states.setdefault((tenant, agency), StoredAgencyState())
        now = self._clock()
        if stored.lease_until is not None and stored.lease_until >= iso(now):
            return False
        stored.lease_until = iso(now + timedelta(seconds=seconds))
        return True

    @_locked
    def release(self, tenant: str, agency: str) -> None:
        stored = self._m.agency_states.get((tenant, agency))
        if stored is not None:
            stored.lease_until = None

    @_locked
    def ledger_counts(self, tenant: str, agency: str) -> dict[str, int]:
        return dict(self._m.ledger(tenant, agency))

    @_locked
    def ledger_entries(self, tenant: str, agency: str) -> list[JsonDict]:
        return [dict(entry) for _, entry in sorted(self._m.ledger_entries.get((tenant, agency), {}).items())]

    @_locked
    def use_slot(self, tenant: str, agency: str, *, note: str | None, by: str) -> JsonDict | None:
        ledger = self._m.ledger(tenant, agency)
        balance = ledger[counters.LEDGER_SLOTS_EARNED] - ledger[counters.LEDGER_SLOTS_USED]
        if balance <= 0:
            return None
        now = iso(self._clock())
        entry = {"type": "slot_used", "at": now, "note": note, "by": by, "balance_after": balance - 1}
        ledger[counters.LEDGER_SLOTS_USED] += 1
        self._m.ledger_entries.setdefault((tenant, agency), {})[f"LE#{now}#use{ledger[counters.LEDGER_SLOTS_USED]}"] = entry
        self._m.count(tenant, now, {counters.SLOTS_USED: 1})
        return dict(entry)

    # -- e20-programs: the ledger explained and the recent batches
    @_locked
    def accepted_referrals(self, tenant: str, agency: str, first: int, last: int) -> list[JsonDict]:
        found = self._m.accepted.get((tenant, agency), {})
        return [dict(found[n]) for n in sorted(found) if first <= n <= last]

    @_locked
    def recent_batches(self, tenant: str, agency: str, limit: int) -> list[JsonDict]:
        found = sorted((b for (t, a, _), b in self._m.batches.items() if (t, a) == (tenant, agency)),
                       key=lambda b: b.created_at, reverse=True)
        return [{"batch_id": b.batch_id, "created_at": b.created_at, "status": b.status, "members": len(b.members),
                 "attempts": b.attempts, "last_error": b.last_error} for b in found[:limit]]
    # -- end e20-programs

    @_locked
    def provisions(self, tenant: str, person_id: str) -> list[JsonDict]:
        fields = ("person_id", "agency", "recipient", "data_items", "consent", "provided_at", "batch_id", "idempotency_key",
                  "referral_id", "agency_answer", "keep_until")
        return [{name: record.get(name) for name in fields}
                for _, record in sorted(self._m.provisions.get((tenant, person_id), {}).items())]


class InMemoryNurture:
    """NurtureSchedules port: each person's place in each campaign; due ones are those with next_due."""

    def __init__(self, memory: Memory, *, clock: ports.Clock | None = None) -> None:
        self._m = memory
        self._clock = clock or Clock()

    @_locked
    def schedules(self, tenant: str, campaign: str, person_ids: Sequence[str]) -> dict[str, Schedule]:
        found = {pid: self._m.schedules.get((tenant, pid, campaign)) for pid in person_ids}
        return {pid: schedule for pid, schedule in found.items() if schedule is not None}

    @_locked
    def schedule(self, tenant: str, person_id: str, campaign: str) -> Schedule | None:
        return self._m.schedules.get((tenant, person_id, campaign))

    def _as_read(self, tenant: str, person_id: str, campaign: str, expected: Schedule | None) -> bool:
        """The schedule is still as it was read: absent, or with that due date."""
        current = self._m.schedules.get((tenant, person_id, campaign))
        if expected is None:
            return current is None
        return current is not None and current.next_due == expected.next_due

    @_locked
    def plan(self, tenant: str, person_id: str, schedule: Schedule, *, expected: Schedule | None,
             counters: Mapping[str, int] | None = None) -> bool:
        if not self._as_read(tenant, person_id, schedule.campaign, expected):
            return False
        self._m.schedules[(tenant, person_id, schedule.campaign)] = schedule
        if counters:
            self._m.count(tenant, iso(self._clock()), counters)
        return True

    @_locked
    def due(self, tenant: str, before: datetime) -> list[DueMail]:
        waiting = sorted((f"{s.next_due}#{campaign}#{pid}", DueMail(pid, campaign, s.next_due))
                         for (t, pid, campaign), s in self._m.schedules.items() if t == tenant and s.next_due)
        return [mail for key, mail in waiting if key < iso(before)]

    @_locked
    def claim(self, tenant: str, person_id: str, campaign: str, due: str, key: str, *, now: datetime,
              interval_days: int) -> tuple[str, str | None]:
        person = self._m.people.get((tenant, person_id))
        if person is None:
            return "stale", None
        until = nurture.interval_clear(person, key, now, interval_days)
        if until is not None:
            return "interval", until
        if person.milestones.get("nurture_claim") == key:
            return "claimed", None  # this very mail, claimed by an earlier attempt
        current = self._m.schedules.get((tenant, person_id, campaign))
        if current is None or current.next_due != due:
            return "stale", None
        self._m.save_person(person, nurture.claimed(person, key, now))
        return "claimed", None

    @_locked
    def sent(self, tenant: str, person_id: str, due: str, after: Schedule, *, sent_at: str, entry: JsonDict,
             counters: Mapping[str, int]) -> bool:
        m = self._m
        person = m.people.get((tenant, person_id))
        current = m.schedules.get((tenant, person_id, after.campaign))
        if person is None or current is None or current.next_due != due:
            return False
        entry_key = f"TL#{sent_at}#n{hashlib.sha256(f'{after.campaign}:{due}'.encode()).hexdigest()[:16]}"
        if not m.add_entry(tenant, person_id, entry_key, entry):
            return False
        m.schedules[(tenant, person_id, after.campaign)] = after
        contacted = replace(person, last_contact_at=max(person.last_contact_at or "", sent_at))
        m.save_person(person, contacted)
        m.count(tenant, sent_at, {**counters, **kpis.deltas(person, contacted)})
        return True


# -- outside systems --------------------------------------------------------------------------------

@dataclass
class _SourceSecret:
    webhook_secret: str | None
    api_key: str | None
    api_base_url: str | None
    previous: str | None = None
    previous_valid_until: datetime | None = None
    account_token: str | None = None
    oauth: OAuthTokens | None = None


class FakeCredentials:
    """Credentials port. Like the real one, a container keeps every answer, found or not, for
    CACHE_SECONDS, and `fresh=True` reads again only when its copy is RECHECK_SECONDS old: one
    read per tenant and source per minute at most (`reads` counts them). Whether the previous
    webhook secret is still in its grace is judged at each read, as the real one does.
    `rotated_elsewhere()` changes a secret behind this cache, as another container's rotation does."""

    CACHE_SECONDS = 60    # as chalicelib/adapters/secrets.py
    RECHECK_SECONDS = 60

    def __init__(self, *, clock: ports.Clock | None = None) -> None:
        self._clock = clock or Clock()
        self._sources: dict[tuple[str, str], _SourceSecret] = {}
        self._cache: dict[tuple[str, str], tuple[_SourceSecret | None, datetime]] = {}
        self._smtp: dict[str, str] = {}
        self._agencies: dict[tuple[str, str], dict[str, str]] = {}
        self.reads: dict[tuple[str, str], int] = {}

    def source(self, tenant: str, source: str, *, fresh: bool = False) -> SourceCredentials:
        key = (tenant, source)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is None or now - cached[1] >= timedelta(seconds=self.RECHECK_SECONDS if fresh else self.CACHE_SECONDS):
            self.reads[key] = self.reads.get(key, 0) + 1
            found_now = self._sources.get(key)
            cached = self._cache[key] = (replace(found_now) if found_now is not None else None, now)
        stored = cached[0]
        if stored is None or not (stored.webhook_secret or stored.api_key or stored.oauth):
            raise UnknownTenant("this tenant has not connected this source")
        found = [stored.webhook_secret] if stored.webhook_secret else []
        if stored.previous and stored.previous_valid_until and stored.previous_valid_until > now:
            found.append(stored.previous)
        return SourceCredentials(webhook_secrets=tuple(found), api_key=stored.api_key, api_base_url=stored.api_base_url,
                                 account_token=stored.account_token, oauth=stored.oauth)

    def oauth_tokens(self, tenant: str, source: str) -> OAuthTokens | None:
        stored = self._sources.get((tenant, source))
        return stored.oauth if stored is not None else None

    def store_oauth(self, tenant: str, source: str, tokens: OAuthTokens) -> None:
        stored = self._sources.get((tenant, source)) or _SourceSecret(None, None, None)
        self._sources[(tenant, source)] = replace(stored, oauth=tokens)
        self._cache[(tenant, source)] = (replace(self._sources[(tenant, source)]), self._clock())

    def store_source(self, tenant: str, source: str, webhook_secret: str | None, api_key: str | None,
                     api_base_url: str | None = None, *, revoke_previous: bool = False,
                     drop_api_key: bool = False, account_token: str | None = None,
                     oauth: OAuthTokens | None = None) -> None:
        self.rotated_elsewhere(tenant, source, webhook_secret, api_key, api_base_url, revoke_previous=revoke_previous,
                               drop_api_key=drop_api_key, account_token=account_token, oauth=oauth)
        self._cache[(tenant, source)] = (replace(self._sources[(tenant, source)]), self._clock())  # kept as written

    def rotated_elsewhere(self, tenant: str, source: str, webhook_secret: str | None, api_key: str | None = None,
                          api_base_url: str | None = None, *, revoke_previous: bool = False,
                          drop_api_key: bool = False, account_token: str | None = None,
                          oauth: OAuthTokens | None = None) -> None:
        """Store credentials without touching this container's cache."""
        current = self._sources.get((tenant, source))
        kept = current if current and not drop_api_key else None
        stored = _SourceSecret(
            webhook_secret=webhook_secret,
            api_key=api_key if api_key is not None else (kept.api_key if kept else None),
            api_base_url=api_base_url if api_base_url is not None else (current.api_base_url if current else None),
            account_token=account_token if account_token is not None else (kept.account_token if kept else None),
            oauth=oauth if oauth is not None else (kept.oauth if kept else None))
        if webhook_secret and current and current.webhook_secret and current.webhook_secret != webhook_secret \
                and not revoke_previous:
            stored.previous, stored.previous_valid_until = current.webhook_secret, self._clock() + ROTATION_GRACE
        self._sources[(tenant, source)] = stored

    def smtp_password(self, tenant: str) -> str | None:
        return self._smtp.get(tenant)

    def store_smtp_password(self, tenant: str, password: str) -> None:
        self._smtp[tenant] = password

    def drop_smtp_password(self, tenant: str) -> None:
        self._smtp.pop(tenant, None)

    def agency_auth(self, tenant: str, agency: str) -> dict[str, str]:
        found = self._agencies.get((tenant, agency))
        if not found:
            raise PermanentError("the agency has no stored credentials")
        return dict(found)

    def store_agency_auth(self, tenant: str, agency: str, auth: Mapping[str, str]) -> None:
        self._agencies[(tenant, agency)] = dict(auth)

    def drop_agency_auth(self, tenant: str, agency: str) -> None:
        self._agencies.pop((tenant, agency), None)


class FakeSenderIdentities:
    """SenderIdentities port, as SES: `register` records the identity with its tags (tenant) and DKIM
    tokens; a new identity is verified at once (as moto) unless `hold(domain)` was called first.
    `verify`, `hold` and `fail` set a domain's status; `foreign(domain)` makes it an identity made
    outside the hub (register answers Conflict); `unavailable(times)` makes calls raise RetryableError.
    `lookups` counts the status reads (the cache keeps them rare)."""

    def __init__(self) -> None:
        self.identities: dict[str, tuple[str, str]] = {}  # domain -> (tenant tag, status)
        self._held: set[str] = set()
        self._foreign: set[str] = set()
        self._faults = 0
        self.lookups = 0

    def tokens(self, domain: str) -> tuple[str, ...]:
        digest = hashlib.sha256(domain.encode()).hexdigest()
        return tuple(digest[i * 16:(i + 1) * 16] for i in range(3))

    def register(self, tenant: str, domain: str) -> SenderIdentity:
        self._fault()
        if domain in self._foreign or (domain in self.identities and self.identities[domain][0] != tenant):
            raise Conflict(senders.REFUSED)
        if domain not in self.identities:
            self.identities[domain] = (tenant, senders.PENDING if domain in self._held else senders.VERIFIED)
        return self._identity(domain)

    def lookup(self, domain: str) -> SenderIdentity:
        self._fault()
        self.lookups += 1
        return self._identity(domain) if domain in self.identities else SenderIdentity(domain, senders.FAILED)

    def hold(self, domain: str) -> None:
        self._held.add(domain)
        self._set(domain, senders.PENDING)

    def verify(self, domain: str) -> None:
        self._held.discard(domain)
        self._set(domain, senders.VERIFIED)

    def fail(self, domain: str) -> None:
        self._set(domain, senders.FAILED)

    def foreign(self, domain: str) -> None:
        self._foreign.add(domain)

    def unavailable(self, times: int = 1) -> None:
        self._faults += times

    def _set(self, domain: str, status: str) -> None:
        if domain in self.identities:
            self.identities[domain] = (self.identities[domain][0], status)

    def _fault(self) -> None:
        if self._faults:
            self._faults -= 1
            raise RetryableError("SES did not answer")

    def _identity(self, domain: str) -> SenderIdentity:
        return SenderIdentity(domain, self.identities[domain][1], self.tokens(domain))


@dataclass(frozen=True)
class QueuedMessage:
    body: JsonDict
    delay_s: int


class FakeQueues:
    """Queues port: what was sent, per queue, in order. `fail(queue)` makes the next send raise."""

    def __init__(self) -> None:
        self.sent: dict[str, list[QueuedMessage]] = {}
        self._faults: dict[str, deque[Exception]] = {}

    def send(self, queue: str, body: Mapping[str, Any], delay_s: int = 0) -> None:
        faults = self._faults.get(queue)
        if faults:
            raise faults.popleft()
        self.sent.setdefault(queue, []).append(QueuedMessage(dict(body), delay_s))

    def fail(self, queue: str, error: Exception | None = None, *, times: int = 1) -> None:
        self._faults.setdefault(queue, deque()).extend(
            [error or RetryableError(f"the {queue} queue did not take the message")] * times)

    def bodies(self, queue: str) -> list[JsonDict]:
        return [message.body for message in self.sent.get(queue, [])]

    def take(self, queue: str) -> list[JsonDict]:
        """The bodies waiting on a queue, removed (as a consumer receives them)."""
        return [message.body for message in self.sent.pop(queue, [])]


@dataclass(frozen=True)
class OutgoingMail:
    tenant: str
    sender: str
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    reference: str
    message_id: str


class FakeMailer:
    """Mailer port: an outbox. `fail(error)` makes the next sends raise (RetryableError, PermanentError)."""

    def __init__(self) -> None:
        self.outbox: list[OutgoingMail] = []
        self._faults: deque[Exception] = deque()

    def send(self, tenant: str, settings: TenantSettings, *, to: str, subject: str, text: str, html: str,
             unsubscribe_url: str, reference: str) -> str:
        if self._faults:
            raise self._faults.popleft()
        message_id = f"fake-{len(self.outbox) + 1:06d}"
        self.outbox.append(OutgoingMail(tenant=tenant, sender=settings.sender_email, to=to, subject=subject, text=text,
                                        html=html, unsubscribe_url=unsubscribe_url, reference=reference,
                                        message_id=message_id))
        return message_id

    def fail(self, error: Exception | None = None, *, times: int = 1) -> None:
        self._faults.extend([error or RetryableError("the mail service did not answer")] * times)


class FakeLinkKeys:
    """LinkKeys port: one platform key; `rotate()` replaces it (as a new secret value would)."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_urlsafe(48).encode()
        self.reads = 0

    def link_key(self) -> bytes:
        self.reads += 1
        return self.key

    def rotate(self) -> bytes:
        self.key = secrets.token_urlsafe(48).encode()
        return self.key


@dataclass(frozen=True)
class FieldWrite:
    target: FieldTarget
    value: str


class FakeFieldWriter:
    """FieldWriter port (an ATS whose field the hub writes), as greenhouse by default: `written`
    records each write; `fail(error)` makes the next writes raise (a 429's RetryableError with
    retry_after_s, FieldRefused, CredentialsRefused); `gone` answers False (a 404); `pages` are the
    backfill's pages in order (the cursor is the next page's index), `reads` the cursors asked for."""

    FIELD_REQUIRES: tuple[str, ...] = ("field", "on_behalf_of")
    API_HOSTS: tuple[str, ...] = ("harvest.greenhouse.io",)

    def __init__(self, name: str = "greenhouse", pages: Sequence[Sequence[OpenApplication]] = ()) -> None:
        self.NAME = name
        self.API_BASE_URL = "https://harvest.greenhouse.io"
        self.written: list[FieldWrite] = []
        self.pages = [list(page) for page in pages]
        self.reads: list[str | None] = []
        self.gone = False
        self._faults: deque[Exception] = deque()

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Fake {api_key}"}

    def fail(self, error: Exception, *, times: int = 1) -> None:
        self._faults.extend([error] * times)

    def write_field(self, api: ports.VendorApi, target: FieldTarget, value: str) -> bool:
        if self._faults:
            raise self._faults.popleft()
        if self.gone:
            return False
        self.written.append(FieldWrite(target, value))
        return True

    def open_applications(self, api: ports.VendorApi, cursor: str | None, *, tenant: str) -> OpenPage:
        self.reads.append(cursor)
        index = int(cursor or "0")
        page = self.pages[index] if index < len(self.pages) else []
        return OpenPage(applications=page, cursor=str(index + 1) if index + 1 < len(self.pages) else None)


class FakeOnce:
    """Once port: a kept result per (tenant, key); a repeat gets it. A failed action keeps nothing."""

    def __init__(self) -> None:
        self.results: dict[tuple[str, str], JsonDict] = {}
        self.runs = 0  # actions actually run

    def run(self, tenant: str, key: str, action: Callable[[], JsonDict]) -> JsonDict:
        if (tenant, key) not in self.results:
            self.runs += 1
            self.results[(tenant, key)] = action()
        return self.results[(tenant, key)]


class FakeKpiPublisher:
    """KpiPublisher port: what was published, per call; counts the values as the real one does."""

    def __init__(self) -> None:
        self.published: list[tuple[str, JsonDict]] = []

    def __call__(self, tenant: str, kpis: JsonDict) -> int:
        self.published.append((tenant, kpis))
        values = [kpis.get("relations_retained"), kpis.get("brand_perception"), *(kpis.get(name) for name in RATES),
                  *((kpis.get("career_relay") or {}).get(name) for name in FUNNEL)]
        return sum(1 for value in values if value is not None)


VendorAnswer = Any  # a scripted vendor answer: a JSON value, an Exception to raise, or a function of the call


class FakeVendorApi:
    """VendorApi port: answers scripted per (method, path), in order; the last one repeats. An
    unscripted path answers None (a 404). Records every call. An answer that is a function is
    called with the call's keyword arguments (a dict) when its turn comes and answers with what it
    returns (or raises): a test can make something happen while the vendor is being asked."""

    def __init__(self, base_url: str = "", headers: Mapping[str, str] | None = None) -> None:
        self.base_url = base_url
        self.headers = dict(headers or {})
        self.last_headers: Mapping[str, str] = {}
        self.calls: list[tuple[str, str, JsonDict]] = []
        self._script: dict[tuple[str, str], deque[VendorAnswer]] = {}
        self._headers: dict[tuple[str, str], Mapping[str, str]] = {}

    def script(self, method: str, path: str, *answers: VendorAnswer, headers: Mapping[str, str] | None = None) -> FakeVendorApi:
        self._script.setdefault((method.upper(), path), deque()).extend(answers)
        if headers is not None:
            self._headers[(method.upper(), path)] = dict(headers)
        return self

    def _answer(self, method: str, path: str, kwargs: JsonDict) -> Any:
        self.calls.append((method, path, kwargs))
        self.last_headers = self._headers.get((method, path), {})
        answers = self._script.get((method, path))
        if not answers:
            return None
        answer = answers.popleft() if len(answers) > 1 else answers[0]
        if callable(answer):
            answer = answer(dict(kwargs))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._answer("GET", path, kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._answer("POST", path, kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self._answer("PATCH", path, kwargs)


class FakeVendorApis:
    """VendorApis port: one FakeVendorApi per source (script it with `api(name)`), built on demand."""

    def __init__(self) -> None:
        self.apis: dict[str, FakeVendorApi] = {}
        self.connections: list[tuple[str, SourceCredentials]] = []

    def api(self, source: str) -> FakeVendorApi:
        return self.apis.setdefault(source, FakeVendorApi())

    def __call__(self, source: ports.VendorApiAccess, credentials: SourceCredentials) -> FakeVendorApi:
        self.connections.append((source.NAME, credentials))
        api = self.api(source.NAME)
        api.base_url = credentials.api_base_url or source.API_BASE_URL
        api.headers = auth_headers(source, credentials)
        return api


class FakeTokenEndpoint:
    """TokenEndpoint port: answers (or raises) what is scripted with `answer(...)`, in order; the last
    one repeats. `calls` lists (vendor, url, form)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self._script: list[Any] = []

    def answer(self, *answers: Any) -> None:
        self._script = list(answers)

    def __call__(self, vendor: str, url: str, form: Mapping[str, str]) -> Any:
        self.calls.append((vendor, url, dict(form)))
        if not self._script:
            raise RetryableError("nothing scripted")
        step = self._script.pop(0) if len(self._script) > 1 else self._script[0]
        if isinstance(step, Exception):
            raise step
        return step


class FakeResolver:
    """The egress policy's resolver without DNS: every name resolves to one public address unless
    `names` says otherwise (host -> addresses, [] for a name that does not resolve); `asked` lists
    the names looked up."""

    PUBLIC = "93.184.215.14"

    def __init__(self, names: Mapping[str, Sequence[str]] | None = None) -> None:
        self.names: dict[str, list[str]] = {host: list(found) for host, found in (names or {}).items()}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.names.get(host, [self.PUBLIC])


def fake_egress(names: Mapping[str, Sequence[str]] | None = None, *, allow_loopback: bool = False) -> EgressPolicy:
    """The real egress policy (a non-local stage unless allow_loopback) on a FakeResolver."""
    return EgressPolicy(allow_loopback=allow_loopback, resolve=FakeResolver(names))


AgencyScript = str | Sequence[ReferralResult] | Exception | Callable[[Sequence[Mapping[str, Any]]], Sequence[ReferralResult]]


@dataclass(frozen=True)
class SentBatch:
    batch_id: str
    idempotency_key: str
    referrer: Mapping[str, str]
    referrals: Sequence[Mapping[str, Any]]


class FakeAgencyClient:
    """AgencyClient port for one agency endpoint. Each send takes the next scripted answer (the last
    repeats): a status for every referral ("accepted", "declined", "duplicate"), a list of results,
    an error to raise, or a function of the referrals sent. Unscripted: every referral accepted.
    Like the real client, it hands back only results for referrals of this send (an agency that
    replays its first answer to a repeated Idempotency-Key may name others)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.sent: list[SentBatch] = []
        self.withdrawals: list[tuple[str, str]] = []
        self._script: deque[AgencyScript] = deque()
        self._withdraw_faults: deque[Exception] = deque()

    def script(self, *answers: AgencyScript) -> FakeAgencyClient:
        self._script.extend(answers)
        return self

    def fail_withdrawals(self, error: Exception, *, times: int = 1) -> None:
        self._withdraw_faults.extend([error] * times)

    def send(self, batch_id: str, idempotency_key: str, referrer: Mapping[str, str],
             referrals: Sequence[Mapping[str, Any]]) -> Sequence[ReferralResult]:
        self.sent.append(SentBatch(batch_id, idempotency_key, dict(referrer), [dict(r) for r in referrals]))
        answer: AgencyScript = "accepted"
        if self._script:
            answer = self._script.popleft() if len(self._script) > 1 else self._script[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, str):
            return [ReferralResult(str(r["referral_id"]), answer, f"ref-{r['referral_id']}") for r in referrals]
        results = answer(referrals) if callable(answer) else answer
        sent = {str(r["referral_id"]) for r in referrals}
        # as integrations/agencies/career_relay.read_results: results for referrals of this send only
        return [result for result in results if result.referral_id in sent]

    def withdraw(self, referral_id: str, withdrawn_at: str) -> None:
        if self._withdraw_faults:
            raise self._withdraw_faults.popleft()
        self.withdrawals.append((referral_id, withdrawn_at))


class FakeAgencyClients:
    """AgencyClientFactory port: one FakeAgencyClient per endpoint (script it with `client(endpoint)`
    before or after the service builds it); records the auth and timeout of every build."""

    def __init__(self) -> None:
        self.clients: dict[str, FakeAgencyClient] = {}
        self.built: list[tuple[str, dict[str, str], tuple[float, float]]] = []

    def client(self, endpoint: str) -> FakeAgencyClient:
        return self.clients.setdefault(endpoint.rstrip("/"), FakeAgencyClient(endpoint.rstrip("/")))

    def __call__(self, endpoint: str, auth: Mapping[str, str], *, timeout: tuple[float, float]) -> FakeAgencyClient:
        self.built.append((endpoint, dict(auth), timeout))
        return self.client(endpoint)


class Templates:
    """The Templates port over the real chalicelib.adapters.templates module (pure Jinja2)."""

    KINDS: tuple[str, ...] = template_module.KINDS
    LOCALES: tuple[str, ...] = template_module.LOCALES
    SAMPLE: Mapping[str, str] = template_module.SAMPLE
    VARIABLES: Mapping[str, str] = template_module.VARIABLES

    def check_kind(self, kind: str, locale: str) -> None:
        template_module.check_kind(kind, locale)

    def default(self, kind: str, locale: str) -> Template:
        return template_module.default(kind, locale)

    def check(self, template: Template) -> None:
        template_module.check(template)

    def render(self, template: Template, context: Mapping[str, str | None], locale: str) -> RenderedMail:
        return template_module.render(template, cast("dict[str, str]", dict(context)), locale)


# -- the bundle ------------------------------------------------------------------------------------

# -- the HR console: sessions, ID tokens, sign-in ----------------------------------------------------

class InMemorySessions:
    """The Sessions port in memory: stored by hashes, as the DynamoDB store does."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        self.sessions: dict[str, ConsoleSession] = {}
        self.sign_ins: dict[str, PendingSignIn] = {}

    def put(self, session: ConsoleSession) -> None:
        self.sessions[session.id_hash] = session

    def get(self, id_hash: str) -> ConsoleSession | None:
        return self.sessions.get(id_hash)

    def touch(self, id_hash: str, at: datetime) -> None:
        found = self.sessions.get(id_hash)
        if found is not None:
            self.sessions[id_hash] = replace(found, last_seen_at=at)

    def delete(self, id_hash: str) -> None:
        self.sessions.pop(id_hash, None)

    def begin(self, pending: PendingSignIn) -> None:
        self.sign_ins[pending.state_hash] = pending

    def take(self, state_hash: str, now: datetime) -> PendingSignIn | None:
        found = self.sign_ins.pop(state_hash, None)
        return found if found is not None and now < found.expires_at else None


class FakeIdTokens:
    """The IdTokens port: tokens it issued verify to their identity; anything else is refused."""

    def __init__(self) -> None:
        self.issued: dict[str, Identity] = {}

    def issue(self, subject: str, *groups: str, username: str | None = None) -> str:
        token = f"idtoken-{len(self.issued)}-{subject}"
        self.issued[token] = Identity(subject=subject, username=username or subject, groups=tuple(groups))
        return token

    def verify(self, id_token: str) -> Identity:
        if id_token not in self.issued:
            raise Unauthorized("the sign-in could not be verified; sign in again")
        return self.issued[id_token]


class FakeSignIn:
    """The SignInProvider port: codes and passwords tests register, each giving an ID token."""

    def __init__(self, login_url: str | None = "https://login.example.test") -> None:
        self.login_url = login_url
        self.codes: dict[tuple[str, str], str] = {}       # (code, verifier) -> ID token
        self.passwords: dict[tuple[str, str], str] = {}   # (username, password) -> ID token
        self.authorized: list[tuple[str, str]] = []       # (state, code challenge) sent to the login

    def authorize_url(self, state: str, code_challenge: str) -> str | None:
        if self.login_url is None:
            return None
        self.authorized.append((state, code_challenge))
        return f"{self.login_url}/oauth2/authorize?state={state}"

    def exchange_code(self, code: str, code_verifier: str) -> str:
        if (code, code_verifier) not in self.codes:
            raise Unauthorized("the sign-in could not be verified; sign in again")
        return self.codes[(code, code_verifier)]

    def password_sign_in(self, username: str, password: str) -> str:
        if (username, password) not in self.passwords:
            raise Unauthorized("the sign-in could not be verified; sign in again")
        return self.passwords[(username, password)]


@dataclass(frozen=True)
class Stores:
    """Every store port and the clock they read (tests/contract builds one for each side)."""

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
    clock: Clock


def in_memory_stores(memory: Memory | None = None, *, clock: Clock | None = None,
                     notice_delay: timedelta = timedelta(minutes=5)) -> Stores:
    """The in-memory stores on one Memory (a new one unless given) and one Clock."""
    memory = memory if memory is not None else Memory()
    clock = clock or Clock()
    return Stores(relations=InMemoryRelations(memory, clock=clock, notice_delay=notice_delay),
                  notices=InMemoryNotices(memory, clock=clock), tenants=InMemoryTenants(memory, clock=clock),
                  counters=InMemoryCounters(memory, clock=clock), config=InMemoryConfig(memory, clock=clock),
                  tokens=InMemoryTokens(memory, clock=clock), suppressions=InMemorySuppressions(memory, clock=clock),
                  audit=InMemoryAudit(memory, clock=clock), admin_tokens=InMemoryAdminTokens(memory, clock=clock),
                  referrals=InMemoryReferrals(memory, clock=clock), nurture=InMemoryNurture(memory, clock=clock),
                  sender_domains=InMemorySenderDomains(memory, clock=clock), clock=clock)


def _sources() -> tuple[dict[str, ports.SourceAdapter], dict[str, ports.EnrichedSource], dict[str, ports.PolledSource],
                        dict[str, ports.SecretFormat]]:
    from integrations import registry

    sources = cast("dict[str, ports.SourceAdapter]", dict(registry.SOURCES))
    enriched = cast("dict[str, ports.EnrichedSource]", {n: m for n, m in registry.SOURCES.items() if hasattr(m, "fetch")})
    polled = cast("dict[str, ports.PolledSource]", dict(registry.POLLED))
    formats = cast("dict[str, ports.SecretFormat]", {n: m for n, m in registry.SOURCES.items() if hasattr(m, "check_secret")})
    return sources, enriched, polled, formats


# -- e18-admin: the console's users (the ConsoleUsers port; tests/contract/test_ports_console_users.py) --

class InMemoryConsoleUsers:
    """The pool's admin API in memory: users by username, their groups, enabled or not."""

    def __init__(self, groups: Iterable[str] = ()) -> None:
        self.groups: set[str] = set(groups)  # groups that exist (adding to another one fails, as in Cognito)
        self.users: dict[str, ConsoleUser] = {}
        self.invited: list[str] = []  # e-mails a new user was created for (Cognito would mail them)

    def seed(self, username: str, *groups: str, email: str | None = None, subject: str | None = None) -> ConsoleUser:
        self.groups.update(groups)
        user = ConsoleUser(username=username, subject=subject or f"sub-{username}", email=email, enabled=True,
                           status="CONFIRMED", groups=tuple(sorted(groups)))
        self.users[username.lower()] = user
        return user

    def in_groups(self, groups: tuple[str, ...]) -> list[ConsoleUser]:
        return [u for u in self.users.values() if set(u.groups) & set(groups)]

    def user(self, username: str) -> ConsoleUser | None:
        return self.users.get(username.lower())

    def create(self, email: str) -> ConsoleUser:
        same = [u for u in self.users.values() if (u.email or "").lower() == email.lower()]
        if same:
            return same[0]
        username = "hr-" + secrets.token_hex(8)
        user = ConsoleUser(username=username, subject=str(uuid.uuid4()), email=email, enabled=True,
                           status="FORCE_CHANGE_PASSWORD", groups=())
        self.users[username] = user
        self.invited.append(email)
        return user

    def _change(self, username: str, **changes: Any) -> None:
        found = self.users.get(username.lower())
        if found is None:
            raise LookupError("UserNotFoundException")
        self.users[username.lower()] = replace(found, **changes)

    def add_to_group(self, username: str, group: str) -> None:
        if group not in self.groups:
            raise LookupError("ResourceNotFoundException")
        held = self.users[username.lower()].groups if username.lower() in self.users else ()
        self._change(username, groups=tuple(sorted(set(held) | {group})))

    def remove_from_group(self, username: str, group: str) -> None:
        held = self.users[username.lower()].groups if username.lower() in self.users else ()
        self._change(username, groups=tuple(g for g in held if g != group))

    def set_enabled(self, username: str, enabled: bool) -> None:
        self._change(username, enabled=enabled)


# -- e20-sources: the delivery log and the dead-letter queues ---------------------------------------

class InMemoryDeliveryLog:
    """DeliveryLog port: entries per (tenant, source), newest first; the 14 days judged on read. On a
    Memory, it also holds the entries InMemoryRelations.record_once wrote with a fact."""

    def __init__(self, *, clock: Callable[[], datetime], memory: Memory | None = None) -> None:
        self._clock = clock
        self.logged: dict[tuple[str, str], dict[str, Any]] = memory.delivery_log if memory is not None else {}

    def record(self, tenant: str, source: str, delivery: Any, *, entry: str | None = None) -> bool:
        from chalicelib.domain.events import iso

        entries = self.logged.setdefault((tenant, source), {})
        entries[f"{iso(delivery.at)}#{entry or f'{len(entries):08d}'}"] = delivery
        return True

    def _live(self, tenant: str, source: str) -> list[tuple[str, Any]]:
        from chalicelib.domain.deliveries import KEEP

        now = self._clock()
        return sorted((e for e in self.logged.get((tenant, source), {}).items() if e[1].at > now - KEEP),
                      key=lambda e: e[0], reverse=True)

    def entries(self, tenant: str, source: str, *, limit: int, before: str | None) -> tuple[list[Any], str | None]:
        live = [e for e in self._live(tenant, source) if before is None or e[0] < before]
        page = live[:limit]
        return [d for _, d in page], (page[-1][0] if len(live) > limit else None)

    def last(self, tenant: str, source: str) -> Any:
        return next((d for _, d in self._live(tenant, source) if not d.test), None)


class FakeDeadLetters:
    """DeadLetters port over a FakeQueues: `park(queue, body)` puts a message in a queue's DLQ."""

    def __init__(self, queues: FakeQueues, *, clock: Callable[[], datetime]) -> None:
        self._queues, self._clock = queues, clock
        self.parked: dict[str, list[Any]] = {}

    def park(self, queue: str, body: Mapping[str, Any]) -> str:
        from chalicelib.domain.deliveries import DeadLetter

        message_id = str(uuid.uuid4())
        self.parked.setdefault(queue, []).append(DeadLetter(message_id, queue, dict(body), self._clock(), 5))
        return message_id

    def peek(self, queue: str, *, max_messages: int) -> Sequence[Any]:
        return list(self.parked.get(queue, []))[:max_messages]

    def redrive(self, queue: str, message_id: str, tenant: str) -> bool:
        for letter in self.parked.get(queue, []):
            if letter.message_id == message_id and letter.body.get("tenant") == tenant:
                self._queues.send(queue, letter.body)
                self.parked[queue].remove(letter)
                return True
        return False


def fake_ports(*, clock: Clock | None = None, memory: Memory | None = None, notice_delay: timedelta = timedelta(0),
               **overrides: Any) -> Ports:
    """A complete Ports bundle: the in-memory stores on one Memory, the fakes of outside systems, the
    real sources (integrations.registry) and templates, and one Clock (`ports.clock`, advance it);
    `ports.sleep` is a FakeSleep on that clock (no real waits; `ports.sleep.waits` lists them).
    Any Ports field can be overridden by keyword (e.g. `mailer=...`)."""
    from integrations import registry

    clock = clock or Clock()
    memory = memory if memory is not None else Memory()
    stores = in_memory_stores(memory, clock=clock, notice_delay=notice_delay)
    sources, enriched, polled, formats = _sources()
    agency_clients: dict[str, ports.AgencyClientFactory] = {"career_relay": FakeAgencyClients()}
    fields: dict[str, Any] = {
        "sources": sources, "enriched": enriched, "polled": polled, "secret_formats": formats,
        "vendor_apis": FakeVendorApis(), "agency_clients": agency_clients, "egress": fake_egress(),
        "credentials": FakeCredentials(clock=clock), "link_keys": FakeLinkKeys(),
        "queues": FakeQueues(), "mailer": FakeMailer(), "once": FakeOnce(), "templates": Templates(),
        "sender_identities": FakeSenderIdentities(), "sender_domains": stores.sender_domains,
        "kpi_publisher": FakeKpiPublisher(),
        "relations": stores.relations, "notices": stores.notices, "tenants": stores.tenants, "counters": stores.counters,
        "config": stores.config, "tokens": stores.tokens, "suppressions": stores.suppressions, "audit": stores.audit,
        "admin_tokens": stores.admin_tokens, "referrals": stores.referrals, "nurture": stores.nurture,
        "clock": clock, "sleep": FakeSleep(clock),
        "oauth": registry.OAUTH, "account_tokens": registry.ACCOUNT_TOKENS, "token_endpoint": FakeTokenEndpoint(),
        "sessions": InMemorySessions(clock=clock), "id_tokens": FakeIdTokens(), "sign_in": FakeSignIn(),
        "console_users": InMemoryConsoleUsers(),  # e18-admin
    }
    # e20-sources: the delivery log, the dead-letter queues (over the same fake queues), test deliveries
    from integrations.test_events import TEST_EVENTS

    fields.update(delivery_log=InMemoryDeliveryLog(clock=clock, memory=memory), test_events=TEST_EVENTS,
                  dead_letters=FakeDeadLetters(overrides.get("queues", fields["queues"]), clock=clock))
    unknown = set(overrides) - set(Ports.__dataclass_fields__)
    if unknown:
        raise TypeError(f"Ports has no field {', '.join(sorted(unknown))}")
    return Ports(**{**fields, **overrides})


if TYPE_CHECKING:  # every fake is checked against its port by mypy (tests/contract/test_fake_types.py)
    def _conforms(memory: Memory, clock: Clock) -> None:
        _relations: ports.Relations = InMemoryRelations(memory, clock=clock)
        _notices: ports.Notices = InMemoryNotices(memory, clock=clock)
        _tenants: ports.Tenants = InMemoryTenants(memory, clock=clock)
        _counters: ports.Counters = InMemoryCounters(memory, clock=clock)
        _config: ports.Config = InMemoryConfig(memory, clock=clock)
        _tokens: ports.Tokens = InMemoryTokens(memory, clock=clock)
        _suppressions: ports.Suppressions = InMemorySuppressions(memory, clock=clock)
        _audit: ports.Audit = InMemoryAudit(memory, clock=clock)
        _admin_tokens: ports.AdminTokens = InMemoryAdminTokens(memory, clock=clock)
        _referrals: ports.Referrals = InMemoryReferrals(memory, clock=clock)
        _nurture: ports.NurtureSchedules = InMemoryNurture(memory, clock=clock)
        _sessions: ports.Sessions = InMemorySessions(clock=clock)
        _id_tokens: ports.IdTokens = FakeIdTokens()
        _sign_in: ports.SignInProvider = FakeSignIn()
        _console_users: ports.ConsoleUsers = InMemoryConsoleUsers()  # e18-admin
        _sender_domains: ports.SenderDomains = InMemorySenderDomains(memory, clock=clock)
        _sender_identities: ports.SenderIdentities = FakeSenderIdentities()
        _credentials: ports.Credentials = FakeCredentials(clock=clock)
        _queues: ports.Queues = FakeQueues()
        _mailer: ports.Mailer = FakeMailer()
        _once: ports.Once = FakeOnce()
        _link_keys: ports.LinkKeys = FakeLinkKeys()
        _field_writer: ports.FieldWriter = FakeFieldWriter()
        _kpi_publisher: ports.KpiPublisher = FakeKpiPublisher()
        _vendor_api: ports.VendorApi = FakeVendorApi()
        _vendor_apis: ports.VendorApis = FakeVendorApis()
        _token_endpoint: ports.TokenEndpoint = FakeTokenEndpoint()
        _agency_client: ports.AgencyClient = FakeAgencyClient("https://agency.example")
        _agency_clients: ports.AgencyClientFactory = FakeAgencyClients()
        _egress: ports.Egress = fake_egress()
        _templates: ports.Templates = Templates()
        _clock: ports.Clock = clock
        _sleep: ports.Sleep = FakeSleep(clock)
        # e20-sources
        from chalicelib.domain import deliveries
        _delivery_log: deliveries.DeliveryLog = InMemoryDeliveryLog(clock=clock)
        _dead_letters: deliveries.DeadLetters = FakeDeadLetters(FakeQueues(), clock=clock)
