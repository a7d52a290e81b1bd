"""The relations database on DynamoDB, through PynamoDB: one table, tenant in every key.

Items (pk / sk):
  person profile   T#<tenant>#P#<person_id>   / PROFILE
  timeline entry   T#<tenant>#P#<person_id>   / TL#<occurred_at>#<fact key>
  identity         T#<tenant>#ID#<source>#<vendor id> / ID        -> person_id
  e-mail identity  T#<tenant>#EM#<sha256 of address>  / EM        -> person_id
  delivery         T#<tenant>#DL#<source>#<delivery id> / DL      (TTL: dedupe window)
  counters         T#<tenant>#CTR / TOTAL and DAY#<yyyy-mm-dd>    (ADD on write)
  tenant           TENANTS / <tenant>;  source link  T#<tenant>#CONF / SOURCE#<source>
  search index     T#<tenant>#IX#<kind>#<value> / <person_id>; names T#<tenant>#IX#name / <name>#<person_id>
  tombstone        T#<tenant>#TOMB#<sha256 of identity> / TOMB      (an erased identity: replays stay out)
  audit entry      T#<tenant>#AUDIT / <at>#<random>

A new fact costs one batch read and one transaction; a duplicate, the batch read alone.
"""
from __future__ import annotations

import hashlib
import random
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from pynamodb.attributes import (
    DiscriminatorAttribute, JSONAttribute, ListAttribute, NumberAttribute, TTLAttribute,
    UnicodeAttribute, VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.domain.errors import RetryableError
from chalicelib.domain.events import HubEvent, iso, utc
from chalicelib.domain import consents, kpis, notices, referrals
from chalicelib.domain.people import apply, email_key, new_person_id, normalise_email, search_terms, track_of
from chalicelib.domain.person import Person, Track
from chalicelib.domain.ports import NoticeRef, NoticeView, PollState, Profile, Recorded

DEDUPE_WINDOW = timedelta(days=35)  # vendors retry for up to 3 days; we promise at least 14
_ATTEMPTS = 8
_RACE = object()


def _backoff(attempt: int) -> None:
    """Full jitter, capped: contending writers spread out instead of colliding again."""
    time.sleep(random.uniform(0, min(0.4, 0.01 * 2 ** attempt)))
_RACE_CODES = ("TransactionCanceledException", "TransactionConflictException")


def _raced(error: TransactWriteError, store: str = "the relations store") -> bool:
    """True when a transaction lost a race (a condition failed, or another write was in flight):
    the caller reads again or gives way. Any other failure is raised as retryable."""
    if error.cause_response_code in _RACE_CODES:
        return True
    raise RetryableError(f"{store} did not take the write") from error


OUTBOX = "OUTBOX"  # gsi1 partition of notices waiting to go out (sparse: removed once decided)


class Gsi1(GlobalSecondaryIndex):
    """Sparse index of due work: only items that wait for something carry gsi1pk."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class HubItem(Model):
    """Every item of the hub's table; `kind` tells them apart."""

    class Meta:
        table_name = "relations-hub-local"  # set from Settings by configure()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    expires_at = TTLAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()


class PersonItem(HubItem, discriminator="person"):
    name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    contact_at = UnicodeAttribute(default="")
    tracks = JSONAttribute(default=dict)
    extra_roles = ListAttribute(of=UnicodeAttribute, default=list)
    roles = ListAttribute(of=UnicodeAttribute, default=list)  # derived; stored for reading and indexing
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    consents = JSONAttribute(default=dict)
    identities = ListAttribute(of=UnicodeAttribute, default=list)
    created_at = UnicodeAttribute(default="")
    updated_at = UnicodeAttribute(default="")
    last_contact_at = UnicodeAttribute(null=True)
    milestones = JSONAttribute(default=dict)
    relay_consent_at = UnicodeAttribute(null=True)  # set while relay consent stands: batches check it in their transaction
    version = VersionAttribute()


class TimelineItem(HubItem, discriminator="timeline"):
    entry = JSONAttribute()


class IdentityItem(HubItem, discriminator="identity"):
    person_id = UnicodeAttribute()


class DeliveryItem(HubItem, discriminator="delivery"):
    received_at = UnicodeAttribute()


class IndexItem(HubItem, discriminator="index"):
    """One search term of one person (role, tag, source, name): people are found by Query, not Scan."""

    person_id = UnicodeAttribute()


class TombstoneItem(HubItem, discriminator="tombstone"):
    """An identity (source id or e-mail, by digest) whose person was erased, and when."""

    erased_at = UnicodeAttribute()


class TokenRefItem(HubItem, discriminator="token_ref"):
    """A link token's place in its person's partition, so erasure finds every token."""


class AuditItem(HubItem, discriminator="audit"):
    """Who did what to which record, when; never the data itself."""

    at = UnicodeAttribute()
    who = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute(null=True)


class AdminTokenItem(HubItem, discriminator="admin_token"):
    """A tenant-scoped admin token, stored by the hash of the whole token only."""

    digest = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()


class TenantItem(HubItem, discriminator="tenant"):
    created_at = UnicodeAttribute()


class SourceLinkItem(HubItem, discriminator="source_link"):
    updated_at = UnicodeAttribute()


class PollCursorItem(HubItem, discriminator="poll_cursor"):
    cursor = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


class NoticeItem(HubItem, discriminator="notice"):
    """One notice per application (or employment) track; gsi1 lists it while it waits."""

    notice_kind = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | sent | cancelled | suppressed
    track = UnicodeAttribute()
    fact_at = UnicodeAttribute()
    due_at = UnicodeAttribute()
    source = UnicodeAttribute()
    job_title = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    template_version = NumberAttribute(null=True)


class ConfigItem(HubItem, discriminator="config"):
    """A tenant's settings or one of its templates (JSON), versioned."""

    data = JSONAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


class TokenItem(HubItem, discriminator="token"):
    """A link token, stored by the hash of its secret part only."""

    person_id = UnicodeAttribute()
    purpose = UnicodeAttribute()
    valid_until = UnicodeAttribute()
    csrf = UnicodeAttribute()
    notice = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    opened_at = UnicodeAttribute(null=True)


class SuppressionItem(HubItem, discriminator="suppression"):
    """An address never to mail again (opted out, bounced, complained, erased), by its digest."""

    reasons = ListAttribute(of=UnicodeAttribute, default=list)
    updated_at = UnicodeAttribute()


class ReferralItem(HubItem, discriminator="referral"):
    """A consented person for one agency. queued -> sending -> accepted | declined | failed;
    withdrawn when consent is withdrawn first. gsi1 lists it while it waits for a batch."""

    agency = UnicodeAttribute()
    referral_id = UnicodeAttribute()
    status = UnicodeAttribute()
    queued_at = UnicodeAttribute()
    consent_at = UnicodeAttribute()
    consent_version = UnicodeAttribute()
    batch_id = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    agency_ref = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    withdrawn_at = UnicodeAttribute(null=True)  # the agency was told of a withdrawal after sending
    provision_sk = UnicodeAttribute(null=True)  # where its provision record is (answered with the outcome)
    attempts = NumberAttribute(default=0)


class BatchItem(HubItem, discriminator="batch"):
    """One batch to one agency: its members and Idempotency-Key; gsi1 lists it while it is open."""

    agency = UnicodeAttribute()
    status = UnicodeAttribute()  # sending | done | parked
    members = ListAttribute(of=UnicodeAttribute, default=list)  # person ids
    idempotency_key = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    last_error = UnicodeAttribute(null=True)


class ProvisionItem(HubItem, discriminator="provision"):
    """The record of a provision to a third party (APPI Art. 29): kept past erasure until keep_until."""

    person_id = UnicodeAttribute()
    agency = UnicodeAttribute()
    recipient = JSONAttribute()       # legal name, country
    data_items = ListAttribute(of=UnicodeAttribute)
    consent = JSONAttribute()         # given_at, text_version, channel
    provided_at = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    idempotency_key = UnicodeAttribute()
    referral_id = UnicodeAttribute()
    agency_answer = UnicodeAttribute(null=True)
    keep_until = UnicodeAttribute()
    person_name = UnicodeAttribute(null=True)  # minimal: resolves the record to the person after erasure


class LedgerEntryItem(HubItem, discriminator="ledger_entry"):
    entry = JSONAttribute()


class AgencyStateItem(HubItem, discriminator="agency_state"):
    consecutive_failures = NumberAttribute(default=0)
    paused_until = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)  # one batch run per agency at a time
    updated_at = UnicodeAttribute()


MODELS = (HubItem, BatchItem, ProvisionItem, LedgerEntryItem, AgencyStateItem, ReferralItem, NoticeItem, ConfigItem, TokenItem, SuppressionItem, PersonItem, TimelineItem, IdentityItem, IndexItem, TombstoneItem, TokenRefItem, AuditItem, AdminTokenItem, DeliveryItem, TenantItem, SourceLinkItem, PollCursorItem)


def configure(table_name: str) -> None:
    """Point every model at the table (and drop cached connections, e.g. to another endpoint)."""
    for model in MODELS:
        model.Meta.table_name = table_name
        model._connection = None


# -- keys -------------------------------------------------------------------------------------

def person_pk(tenant: str, person_id: str) -> str:
    return f"T#{tenant}#P#{person_id}"


def _short(value: str) -> str:
    # keys stay well under DynamoDB's limits whatever a vendor sends as an id
    return value if len(value) <= 200 else hashlib.sha256(value.encode()).hexdigest()


def identity_key(tenant: str, source: str, vendor_id: str) -> tuple[str, str]:
    return f"T#{tenant}#ID#{source}#{_short(vendor_id)}", "ID"


def email_identity_key(tenant: str, email: str) -> tuple[str, str]:
    return f"T#{tenant}#EM#{email_key(email)}", "EM"


def delivery_key(tenant: str, source: str, delivery_id: str) -> tuple[str, str]:
    return f"T#{tenant}#DL#{source}#{_short(delivery_id)}", "DL"


def timeline_sk(event: HubEvent) -> str:
    return f"TL#{iso(event.occurred_at)}#{event.fact_key()[:32]}"


def notice_sk(track: str) -> str:
    return "NOTICE#" + hashlib.sha256(track.encode()).hexdigest()[:24]


def _notice_item(key: tuple[str, str], tenant: str, person_id: str, planned, event: HubEvent) -> "NoticeItem":
    due = iso(planned.due_at)
    return NoticeItem(*key, notice_kind=planned.kind, status="pending", track=planned.track, fact_at=iso(event.occurred_at),
                      due_at=due, source=event.source, job_title=event.job_title,
                      gsi1pk=OUTBOX, gsi1sk=f"{due}#{tenant}#{person_id}#{key[1]}")


def referral_id(tenant: str, person_id: str, agency: str) -> str:
    """Stable per person and agency: the agency sees one id however often consent is given."""
    return "r_" + hashlib.sha256(f"{tenant}\x1f{person_id}\x1f{agency}".encode()).hexdigest()[:24]


def _referral(key: tuple[str, str], tenant: str, person_id: str, agency: str, when: str, version: str) -> "ReferralItem":
    return ReferralItem(*key, agency=agency, referral_id=referral_id(tenant, person_id, agency), status="queued",
                        queued_at=when, consent_at=when, consent_version=version,
                        gsi1pk=f"REFQ#{tenant}#{agency}", gsi1sk=f"{when}#{person_id}")


def index_key(tenant: str, person_id: str, kind: str, value: str) -> tuple[str, str]:
    if kind == "name":  # one partition per tenant, sorted by name: prefix search is a key condition
        return f"T#{tenant}#IX#name", f"{value}#{person_id}"
    return f"T#{tenant}#IX#{kind}#{_short(value)}", person_id


def tombstone_key(tenant: str, identity: str) -> tuple[str, str]:
    """identity: "<source>:<vendor id>" or a normalised e-mail address; only its digest is kept."""
    return f"T#{tenant}#TOMB#{hashlib.sha256(identity.encode()).hexdigest()}", "TOMB"


def counters_pk(tenant: str) -> str:
    return f"T#{tenant}#CTR"


# -- conversions ------------------------------------------------------------------------------

def _to_person(item: PersonItem, tenant: str, person_id: str) -> Person:
    return Person(
        tenant=tenant, person_id=person_id, name=item.name, email=item.email, phone=item.phone,
        locale=item.locale, contact_at=item.contact_at or "",
        tracks={k: Track(**v) for k, v in (item.tracks or {}).items()},
        milestones=dict(item.milestones or {}),
        extra_roles=tuple(item.extra_roles or ()), tags=tuple(item.tags or ()),
        consents=dict(item.consents or {}), identities=tuple(item.identities or ()),
        created_at=item.created_at or "", last_contact_at=item.last_contact_at, version=item.version,
    )


def _to_item(person: Person, *, updated_at: str) -> PersonItem:
    item = PersonItem(
        person_pk(person.tenant, person.person_id), "PROFILE",
        name=person.name, email=person.email, phone=person.phone, locale=person.locale,
        contact_at=person.contact_at,
        tracks={k: {name: value for name, value in (("status", t.status), ("at", t.at), ("stage", t.stage), ("reason", t.reason))
                    if value is not None} for k, t in person.tracks.items()},
        milestones=person.milestones,
        extra_roles=list(person.extra_roles), roles=list(person.roles), tags=list(person.tags),
        consents=person.consents, identities=list(person.identities), created_at=person.created_at,
        last_contact_at=person.last_contact_at,
        relay_consent_at=(person.consents.get("relay") or {}).get("at") if (person.consents.get("relay") or {}).get("given") else None,
    )
    if person.version is not None:
        item.version = person.version
    item.updated_at = updated_at
    return item


def _pointers(person: Person) -> list[HubItem]:
    """The items outside a person's partition that lead to them: identities and search terms."""
    found: list[HubItem] = [IndexItem(*index_key(person.tenant, person.person_id, kind, value))
                            for kind, value in sorted(search_terms(person))]
    for identity in person.identities:
        source, _, vid = identity.partition(":")
        found.append(IdentityItem(*identity_key(person.tenant, source, vid)))
    if person.email:
        found.append(IdentityItem(*email_identity_key(person.tenant, person.email)))
    return found


class _Transaction(TransactWrite):
    """PynamoDB's TransactWrite, plus ADD updates of counters whose names are data, not attributes."""

    def save_person(self, before: Person | None, after: Person, *, updated_at: str) -> None:
        """The profile (PynamoDB adds its version condition) and the search index items that changed."""
        self.save(_to_item(after, updated_at=updated_at))
        was = search_terms(before) if before is not None and before.version is not None else set()
        now = search_terms(after)
        for kind, value in sorted(now - was):
            self.save(IndexItem(*index_key(after.tenant, after.person_id, kind, value), person_id=after.person_id))
        for kind, value in sorted(was - now):
            self.delete(IndexItem(*index_key(after.tenant, after.person_id, kind, value)))

    def add_counters(self, pk: str, sk: str, deltas: dict[str, int]) -> None:
        if not deltas:
            return
        names = {f"#c{i}": name for i, name in enumerate(sorted(deltas))}
        self._update_items.append({
            "TableName": HubItem.Meta.table_name,
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": "ADD " + ", ".join(f"{alias} :v{alias[2:]}" for alias in names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":v{alias[2:]}": {"N": str(deltas[name])} for alias, name in names.items()},
        })


    def count(self, tenant: str, day: str, deltas: dict[str, int]) -> None:
        """ADD counter deltas to the tenant's TOTAL and day items. A key "name@YYYY-MM-DD|cut" counts on
        its own day (a KPI membership dated by the ending it is about); a plain key on `day`."""
        for item, values in kpis.route(deltas, day).items():
            self.add_counters(counters_pk(tenant), item, values)

    def add_ledger(self, pk: str, deltas: dict[str, int], *, expected_accepted: int) -> None:
        """ADD to an agency's ledger, only if the accepted count is still what the caller read."""
        self.add_counters(pk, "LEDGER", deltas)
        item = self._update_items[-1]
        item["ConditionExpression"] = "attribute_not_exists(referrals_accepted) OR referrals_accepted = :expected" \
            if expected_accepted == 0 else "referrals_accepted = :expected"
        item["ExpressionAttributeValues"][":expected"] = {"N": str(expected_accepted)}

    def use_slot(self, pk: str, *, expected_used: int) -> None:
        self._update_items.append({
            "TableName": HubItem.Meta.table_name, "Key": {"pk": {"S": pk}, "sk": {"S": "LEDGER"}},
            "UpdateExpression": "ADD slots_used :one",
            "ConditionExpression": ("attribute_not_exists(slots_used) OR slots_used = :used" if expected_used == 0
                                    else "slots_used = :used") + " AND slots_earned > :used",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":used": {"N": str(expected_used)}},
        })


class DynamoRelations:
    """Relations port on DynamoDB."""

    def __init__(self, clock=lambda: datetime.now(timezone.utc), notice_delay: timedelta = timedelta(minutes=5)) -> None:
        self._clock = clock
        self._notice_delay = notice_delay

    # -- intake -------------------------------------------------------------------------------

    def record_once(self, event: HubEvent, *, delivery_id: str) -> Recorded | None:
        for attempt in range(_ATTEMPTS):
            outcome = self._try_record(event, delivery_id)
            if outcome is not _RACE:
                return outcome
            _backoff(attempt)  # another writer touched the same person or counters: read again shortly
        raise RetryableError("the relations store is busy; try again")

    def _person_keys(self, tenant: str, person_id: str, event: HubEvent) -> list[tuple[str, str]]:
        pk = person_pk(tenant, person_id)
        return [(pk, "PROFILE"), (pk, timeline_sk(event)), (pk, notice_sk(track_of(event)))]

    def _try_record(self, event: HubEvent, delivery_id: str) -> Recorded | None | object:
        """Recorded: stored; None: already known; _RACE: lost a race, read again."""
        tenant, ref = event.tenant, event.person
        email = normalise_email(ref.email)
        guess = first_guess = new_person_id(tenant, ref.source, ref.vendor_person_id)
        delivery, identity_at = delivery_key(tenant, ref.source, delivery_id), identity_key(tenant, ref.source, ref.vendor_person_id)
        email_at = email_identity_key(tenant, email) if email else None
        tombs = [tombstone_key(tenant, f"{ref.source}:{ref.vendor_person_id}"), *([tombstone_key(tenant, email)] if email else [])]
        found = self._batch_get([delivery, identity_at, *self._person_keys(tenant, guess, event), *tombs,
                                 *([email_at] if email_at else [])])
        if delivery in found:
            return None
        erased_at = max((found[key].erased_at for key in tombs if key in found), default=None)
        if erased_at and iso(event.occurred_at) <= erased_at:
            return None  # a fact about someone erased since (a replay, an old export): it stays out
        identity, by_email = found.get(identity_at), found.get(email_at) if email_at else None
        if erased_at and identity is None and by_email is None:  # back after erasure: a new person
            guess = new_person_id(tenant, ref.source, f"{ref.vendor_person_id}\x1e{erased_at}")
        person_id = identity.person_id if identity else by_email.person_id if by_email else guess
        person_keys = self._person_keys(tenant, person_id, event)
        if person_id != first_guess:  # known under another id (same e-mail), merged earlier, or back after erasure
            found.update(self._batch_get(person_keys))
        profile, fact, notice = (found.get(key) for key in person_keys)
        if fact is not None:
            return None

        before = _to_person(profile, tenant, person_id) if profile else Person(tenant=tenant, person_id=person_id)
        now = self._clock()
        outcome = apply(before, event, now=now)
        planned = notices.plan(event, now=now, delay=self._notice_delay, track=track_of(event),
                               existing=notice.status if notice else None)
        try:
            with _Transaction(connection=HubItem._get_connection().connection) as tx:
                tx.save(DeliveryItem(*delivery, received_at=iso(now), expires_at=now + DEDUPE_WINDOW),
                        condition=DeliveryItem.pk.does_not_exist())
                tx.save(TimelineItem(*person_keys[1], entry=outcome.entry), condition=TimelineItem.pk.does_not_exist())
                tx.save_person(before, outcome.person, updated_at=iso(now))
                if identity is None:
                    tx.save(IdentityItem(*identity_at, person_id=person_id), condition=IdentityItem.pk.does_not_exist())
                if email_at and by_email is None:
                    tx.save(IdentityItem(*email_at, person_id=person_id), condition=IdentityItem.pk.does_not_exist())
                if planned:
                    tx.save(_notice_item(person_keys[2], tenant, person_id, planned, event),
                            condition=NoticeItem.pk.does_not_exist() | NoticeItem.status.is_in("pending", "cancelled"))
                tx.count(tenant, iso(event.occurred_at)[:10], outcome.counters)
        except TransactWriteError as error:
            if _raced(error):
                return _RACE
        notice_ref = NoticeRef(tenant, person_id, person_keys[2][1], planned.due_at) if planned else None
        return Recorded(person_id=person_id, notice=notice_ref)

    def _batch_get(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        unique = list(dict.fromkeys(keys))
        return {(item.pk, item.sk): item for item in HubItem.batch_get(unique, consistent_read=True)}

    # -- reading ------------------------------------------------------------------------------

    def profile(self, tenant: str, person_id: str) -> Profile | None:
        person, timeline = None, []
        for item in HubItem.query(person_pk(tenant, person_id), consistent_read=True):
            if isinstance(item, PersonItem):
                person = _to_person(item, tenant, person_id)
            elif isinstance(item, TimelineItem):
                timeline.append(item.entry)
        return Profile(person, timeline) if person else None

    def find_by_email(self, tenant: str, email: str) -> list[Profile]:
        try:
            link = IdentityItem.get(*email_identity_key(tenant, email))
        except IdentityItem.DoesNotExist:
            return []
        found = self.profile(tenant, link.person_id)
        return [found] if found else []

    def search(self, tenant: str, kind: str, value: str, *, limit: int, after: str | None = None) -> tuple[list[str], str | None]:
        """One page of the people holding a search term (for names: a prefix), in key order; the
        position to continue from, or None at the end. Reads the index items of that page only."""
        pk, _ = index_key(tenant, "", kind, value)
        condition = IndexItem.sk.startswith(f"{value}") if kind == "name" else None
        start = {"pk": {"S": pk}, "sk": {"S": after}} if after else None
        page = IndexItem.query(pk, condition, limit=limit, last_evaluated_key=start, page_size=limit)
        ids = [item.person_id for item in page]
        more = page.last_evaluated_key is not None and len(ids) == limit
        return ids, (page.last_evaluated_key["sk"]["S"] if more else None)

    def people(self, tenant: str, person_ids: list[str]) -> list[Person]:
        """The profiles of these people (no timelines), in the order asked, skipping the gone."""
        keys = [(person_pk(tenant, pid), "PROFILE") for pid in person_ids]
        found = self._batch_get(keys) if keys else {}
        return [_to_person(found[key], tenant, pid) for key, pid in zip(keys, person_ids) if key in found]

    def set_tags(self, tenant: str, person_id: str, change) -> Person | None:
        """Apply change(tags) -> tags to the person (index items follow); None when there is no such person."""
        pk = person_pk(tenant, person_id)
        for attempt in range(_ATTEMPTS):
            try:
                before = _to_person(PersonItem.get(pk, "PROFILE", consistent_read=True), tenant, person_id)
            except PersonItem.DoesNotExist:
                return None
            after = replace(before, tags=tuple(change(before.tags)))
            if after.tags == before.tags:
                return before
            try:
                with _Transaction(connection=HubItem._get_connection().connection) as tx:
                    tx.save_person(before, after, updated_at=iso(self._clock()))
            except TransactWriteError as error:
                if _raced(error):
                    _backoff(attempt)
                    continue
            return replace(after, version=(before.version or 0) + 1)
        raise RetryableError("the relations store is busy; try again")

    def held(self, tenant: str, person_id: str) -> dict | None:
        """Everything in the person's partition, as plain documents (a disclosure request)."""
        items = list(HubItem.query(person_pk(tenant, person_id), consistent_read=True))
        profile = next((item for item in items if isinstance(item, PersonItem)), None)
        if profile is None:
            return None
        held = {"person": _to_person(profile, tenant, person_id), "timeline": [], "notices": [], "referrals": [], "links": []}
        for item in items:
            if isinstance(item, TimelineItem):
                held["timeline"].append(item.entry)
            elif isinstance(item, NoticeItem):
                held["notices"].append({"kind": item.notice_kind, "status": item.status, "due_at": item.due_at,
                                        "decided_at": item.decided_at, "source": item.source, "job_title": item.job_title})
            elif isinstance(item, ReferralItem):
                held["referrals"].append({"agency": item.agency, "referral_id": item.referral_id, "status": item.status,
                                          "queued_at": item.queued_at, "decided_at": item.decided_at,
                                          "withdrawn_at": item.withdrawn_at})
        for token in self._tokens_of(items):
            held["links"].append({"purpose": token.purpose, "created_at": token.created_at,
                                  "valid_until": token.valid_until, "opened_at": token.opened_at})
        return held

    def _tokens_of(self, items: list) -> list["TokenItem"]:
        refs = [(item.sk[len("TOKREF#"):], "TOK") for item in items if isinstance(item, TokenRefItem)]
        tenant_pk = items[0].pk.split("#P#", 1)[0] if items else ""
        return list(self._batch_get([(f"{tenant_pk}#TOK#{digest}", sk) for digest, sk in refs]).values()) if refs else []

    def erase(self, tenant: str, person_id: str) -> bool:
        """Erase a person: profile, timeline, notices, links, search and identity items go; tombstones
        keep replays of their old facts out; counters stay (retained drops by one); referrals the
        agency already has stay, minimal, and the agency is told. False when there is no such person.

        The profile goes first, in one transaction with the tombstones and counters (nothing can mail
        or refer them after it); the rest follows and a repeated call finishes it."""
        pk = person_pk(tenant, person_id)
        now = iso(self._clock())
        for attempt in range(_ATTEMPTS):
            items = list(HubItem.query(pk, consistent_read=True))
            profile = next((item for item in items if isinstance(item, PersonItem)), None)
            if profile is None:
                break
            person = _to_person(profile, tenant, person_id)
            gone = replace(person, milestones={**person.milestones, "erased_at": now})
            try:
                with _Transaction(connection=HubItem._get_connection().connection) as tx:
                    tx.delete(PersonItem(pk, "PROFILE", version=person.version))  # PynamoDB adds the version condition
                    for identity in [*person.identities, *([person.email] if person.email else [])]:
                        tx.save(TombstoneItem(*tombstone_key(tenant, identity), erased_at=now))
                    for pointer in _pointers(person):  # what finds them: identities, search terms
                        tx.delete(pointer)
                    tx.count(tenant, now[:10], {"people.erased": 1, **kpis.deltas(person, gone)})
            except TransactWriteError as error:
                if _raced(error):
                    _backoff(attempt)
                    continue
            self._erase_rest(tenant, items, now)
            return True
        else:
            raise RetryableError("the relations store is busy; try again")
        leftovers = [item for item in items if not isinstance(item, ReferralItem)]
        if not leftovers:
            return False
        self._erase_rest(tenant, items, now)  # a previous call stopped half way
        return True

    def _erase_rest(self, tenant: str, items: list, now: str) -> None:
        doomed: list[Any] = [item for item in items if not isinstance(item, (PersonItem, ReferralItem))]
        doomed += self._tokens_of(items)
        for referral in items:
            if not isinstance(referral, ReferralItem):
                continue
            if referral.status in ("queued", "withdrawn"):
                doomed.append(referral)  # nothing left the hub
            elif not referral.withdrawn_at and referral.gsi1pk is None:  # the agency has the data: tell it
                referral.update(actions=[ReferralItem.gsi1pk.set(f"WDQ#{tenant}#{referral.agency}"),
                                         ReferralItem.gsi1sk.set(f"{now}#{referral.pk.rsplit('#', 1)[-1]}"),
                                         ReferralItem.expires_at.set(referrals.keep_until(utc(now)))])
        with HubItem.batch_write() as batch:
            for item in doomed:
                batch.delete(item)

    # -- notices ------------------------------------------------------------------------------

    def notice_view(self, tenant: str, person_id: str, notice: str) -> NoticeView | None:
        pk = person_pk(tenant, person_id)
        found = self._batch_get([(pk, "PROFILE"), (pk, notice)])
        profile, item = found.get((pk, "PROFILE")), found.get((pk, notice))
        if profile is None or item is None:
            return None
        return NoticeView(kind=item.notice_kind, status=item.status, track=item.track, fact_at=item.fact_at,
                          source=item.source, job_title=item.job_title, person=_to_person(profile, tenant, person_id))

    def decide_notice(self, tenant: str, person_id: str, notice: str, status: str) -> bool:
        """Close a pending notice without sending (cancelled, suppressed); False if already decided."""
        now = iso(self._clock())
        try:
            NoticeItem(person_pk(tenant, person_id), notice).update(
                actions=[NoticeItem.status.set(status), NoticeItem.decided_at.set(now),
                         NoticeItem.gsi1pk.remove(), NoticeItem.gsi1sk.remove()],
                condition=NoticeItem.status == "pending")
        except Exception as error:
            if getattr(error, "cause_response_code", "") == "ConditionalCheckFailedException":
                return False
            raise
        self._add_counters(tenant, {f"notices.{status}": 1})
        return True

    def notice_sent(self, tenant: str, person_id: str, notice: str, *, kind: str, sent_at: str, message_id: str,
                    template_version: int, locale: str, entry: dict) -> bool:
        """Record a sent notice: its status, a notice_sent timeline entry, counters, last contact; once."""
        pk = person_pk(tenant, person_id)
        for attempt in range(_ATTEMPTS):
            found = contacted(tenant, person_id, sent_at)
            if found is None:
                return False
            before, after = found
            deltas = {"notices.sent": 1, f"notices.sent.{kind}": 1, **kpis.deltas(before, after)}
            try:
                with _Transaction(connection=HubItem._get_connection().connection) as tx:
                    tx.update(NoticeItem(pk, notice), actions=[
                        NoticeItem.status.set("sent"), NoticeItem.decided_at.set(sent_at), NoticeItem.message_id.set(message_id),
                        NoticeItem.template_version.set(template_version), NoticeItem.locale.set(locale),
                        NoticeItem.gsi1pk.remove(), NoticeItem.gsi1sk.remove()], condition=NoticeItem.status == "pending")
                    tx.save(TimelineItem(pk, f"TL#{sent_at}#{notice[-16:]}", entry=entry), condition=TimelineItem.pk.does_not_exist())
                    tx.save_person(before, after, updated_at=sent_at)
                    tx.count(tenant, sent_at[:10], deltas)
            except TransactWriteError as error:
                if _raced(error):
                    if self._notice_status(pk, notice) != "pending":
                        return False  # decided already (a redelivered message finished first)
                    _backoff(attempt)
                    continue  # the person changed meanwhile: read again
            return True
        raise RetryableError("the relations store is busy; try again")

    def _notice_status(self, pk: str, notice: str) -> str | None:
        try:
            return NoticeItem.get(pk, notice, consistent_read=True).status
        except NoticeItem.DoesNotExist:
            return None

    def due_notices(self, before: datetime, limit: int = 500) -> list[NoticeRef]:
        found = []
        for item in HubItem.gsi1.query(OUTBOX, HubItem.gsi1sk < iso(before), limit=limit):
            due, tenant, person_id, notice = item.gsi1sk.split("#", 3)
            found.append(NoticeRef(tenant, person_id, notice, utc(due)))
        return found

    def _add_counters(self, tenant: str, deltas: dict[str, int]) -> None:
        day = iso(self._clock())[:10]
        with _Transaction(connection=HubItem._get_connection().connection) as tx:
            tx.count(tenant, day, deltas)

    # -- contact and consent -------------------------------------------------------------------

    def record_contact_event(self, tenant: str, person_id: str, entry: dict, counters: dict[str, int]) -> None:
        """A timeline entry made by the hub itself (link opened, ...), with its counters."""
        pk = person_pk(tenant, person_id)
        key = hashlib.sha256(repr(sorted(entry.items())).encode()).hexdigest()[:16]
        try:
            with _Transaction(connection=HubItem._get_connection().connection) as tx:
                tx.save(TimelineItem(pk, f"TL#{entry['occurred_at']}#{key}", entry=entry), condition=TimelineItem.pk.does_not_exist())
                tx.count(tenant, entry['occurred_at'][:10], counters)
        except TransactWriteError as error:
            if error.cause_response_code != "TransactionCanceledException":
                raise RetryableError("the relations store did not take the write") from error

    def record_decision(self, tenant: str, person_id: str, choices: dict[str, bool], *, at: datetime, version: str,
                        score: int | None, token_ref: str | None, agencies: list[str]) -> consents.Decision:
        """Store the person's consent choices (and queue a referral per agency for a new relay consent)."""
        for attempt in range(_ATTEMPTS):
            pk = person_pk(tenant, person_id)
            referral_keys = [(pk, f"REF#{agency}") for agency in agencies]
            found = self._batch_get([(pk, "PROFILE"), *referral_keys])
            profile = found.get((pk, "PROFILE"))
            if profile is None:
                raise RetryableError("the person is gone")
            before = _to_person(profile, tenant, person_id)
            decision = consents.decide(before, choices, at=at, version=version, score=score, token_ref=token_ref)
            if not decision.entries:
                return decision
            when = iso(at)
            try:
                with _Transaction(connection=HubItem._get_connection().connection) as tx:
                    tx.save_person(before, decision.person, updated_at=when)
                    for index, entry in enumerate(decision.entries):
                        tx.save(TimelineItem(pk, f"TL#{when}#c{index}{entry.get('consent', '')}", entry=entry))
                    if decision.relay_given:
                        for agency, key in zip(agencies, referral_keys):
                            existing = found.get(key)
                            if existing is None or existing.status == "withdrawn":
                                tx.save(_referral(key, tenant, person_id, agency, when, version))
                    if decision.relay_withdrawn:
                        for agency, key in zip(agencies, referral_keys):
                            referral = found.get(key)
                            if referral is not None and referral.status == "queued":
                                tx.update(ReferralItem(*key), actions=[
                                    ReferralItem.status.set("withdrawn"), ReferralItem.decided_at.set(when),
                                    ReferralItem.gsi1pk.remove(), ReferralItem.gsi1sk.remove()],
                                    condition=ReferralItem.status == "queued")
                            elif referral is not None and referral.status in ("sending", "accepted", "declined", "failed"):
                                # the agency has (or may have) the data: tell it (APPI Art. 35)
                                tx.update(ReferralItem(*key), actions=[
                                    ReferralItem.gsi1pk.set(f"WDQ#{tenant}#{agency}"), ReferralItem.gsi1sk.set(f"{when}#{person_id}")],
                                    condition=ReferralItem.status == referral.status)
                    tx.count(tenant, when[:10], decision.counters)
            except TransactWriteError as error:
                if _raced(error):
                    _backoff(attempt)
                    continue
            return decision
        raise RetryableError("the relations store is busy; try again")

    def opt_out(self, tenant: str, person_id: str, *, at: datetime) -> None:
        """Record an opt-out of all mail on the person and the timeline (the suppression list stops the mail)."""
        when = iso(at)
        for attempt in range(_ATTEMPTS):
            pk = person_pk(tenant, person_id)
            try:
                profile = PersonItem.get(pk, "PROFILE", consistent_read=True)
            except PersonItem.DoesNotExist:
                return
            person = _to_person(profile, tenant, person_id)
            if person.consents.get("mail", {}).get("opted_out"):
                return
            updated = replace(person, consents={**person.consents, "mail": {"opted_out": True, "at": when}})
            deltas = {"people.opted_out": 1, **kpis.deltas(person, updated)}
            entry = {"type": "consent_withdrawn", "consent": "mail", "occurred_at": when, "channel": "unsubscribe_link"}
            try:
                with _Transaction(connection=HubItem._get_connection().connection) as tx:
                    tx.save_person(person, updated, updated_at=when)
                    tx.save(TimelineItem(pk, f"TL#{when}#optout", entry=entry))
                    tx.count(tenant, when[:10], deltas)
            except TransactWriteError as error:
                if _raced(error):
                    _backoff(attempt)
                    continue
            return

    def add_tenant(self, tenant: str) -> None:
        try:
            TenantItem("TENANTS", tenant, created_at=iso(self._clock())).save(condition=TenantItem.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise

    # -- tenants ------------------------------------------------------------------------------

    def add_source(self, tenant: str, source: str) -> None:
        now = iso(self._clock())
        self.add_tenant(tenant)
        SourceLinkItem(f"T#{tenant}#CONF", f"SOURCE#{source}", updated_at=now).save()

    def tenants(self) -> list[str]:
        return [item.sk for item in TenantItem.query("TENANTS")]

    def sources(self, tenant: str) -> list[str]:
        return [item.sk[len("SOURCE#"):] for item in
                SourceLinkItem.query(f"T#{tenant}#CONF", SourceLinkItem.sk.startswith("SOURCE#"))]

    # -- deliveries and cursors ---------------------------------------------------------------------

    def mark_delivery(self, tenant: str, source: str, delivery_id: str) -> bool:
        now = self._clock()
        try:
            DeliveryItem(*delivery_key(tenant, source, delivery_id), received_at=iso(now),
                         expires_at=now + DEDUPE_WINDOW).save(condition=DeliveryItem.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise RetryableError("the relations store did not take the write") from error
        return True

    def unmark_delivery(self, tenant: str, source: str, delivery_id: str) -> None:
        try:
            DeliveryItem(*delivery_key(tenant, source, delivery_id)).delete()
        except DeleteError:
            pass  # it expires anyway; the vendor's retry then counts as a duplicate

    def poll_state(self, tenant: str, source: str) -> PollState:
        try:
            item = PollCursorItem.get(f"T#{tenant}#CONF", f"CURSOR#{source}", consistent_read=True)
        except PollCursorItem.DoesNotExist:
            return PollState(cursor=None, version=None)
        return PollState(cursor=item.cursor, version=item.version)

    def save_poll_state(self, tenant: str, source: str, cursor: str | None, version: int | None) -> int | None:
        item = PollCursorItem(f"T#{tenant}#CONF", f"CURSOR#{source}", cursor=cursor, updated_at=iso(self._clock()))
        if version is not None:
            item.version = version
        try:
            item.save()  # PynamoDB adds the version condition
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise RetryableError("the relations store did not take the write") from error
        return item.version

    def counter_days(self, tenant: str, first: str, last: str) -> dict[str, dict[str, int]]:
        """The day counter items from first to last (YYYY-MM-DD): reads grow with days, not people."""
        client = HubItem._get_connection().connection.client
        kwargs = {"TableName": HubItem.Meta.table_name, "ConsistentRead": True,
                  "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
                  "ExpressionAttributeValues": {":pk": {"S": counters_pk(tenant)}, ":a": {"S": f"DAY#{first}"},
                                                ":b": {"S": f"DAY#{last}"}}}
        days: dict[str, dict[str, int]] = {}
        while True:
            page = client.query(**kwargs)
            for item in page.get("Items", []):
                days[item["sk"]["S"][4:]] = {k: int(v["N"]) for k, v in item.items() if "N" in v}
            if "LastEvaluatedKey" not in page:
                return days
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def snapshot(self, tenant: str, day: str) -> dict | None:
        try:
            return LedgerEntryItem.get(f"T#{tenant}#KPI", f"SNAP#{day}", consistent_read=True).entry
        except LedgerEntryItem.DoesNotExist:
            return None

    def snapshots(self, tenant: str, first: str, last: str) -> dict[str, dict]:
        return {item.sk[5:]: item.entry for item in LedgerEntryItem.query(
            f"T#{tenant}#KPI", LedgerEntryItem.sk.between(f"SNAP#{first}", f"SNAP#{last}"), consistent_read=True)}

    def save_snapshot(self, tenant: str, day: str, document: dict) -> bool:
        """Store the day's snapshot once; False when that day already has one."""
        try:
            LedgerEntryItem(f"T#{tenant}#KPI", f"SNAP#{day}", entry=document).save(condition=LedgerEntryItem.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise RetryableError("the relations store did not take the write") from error
        return True

    def counters(self, tenant: str, sk: str = "TOTAL") -> dict[str, int]:
        raw = HubItem._get_connection().get_item(counters_pk(tenant), range_key=sk, consistent_read=True).get("Item", {})
        return {k: int(v["N"]) for k, v in raw.items() if "N" in v}



# -- nurture schedules (the store is chalicelib/adapters/nurture.py; docs/nurture.md) ---------------
# Defined here so that every query of a person's partition knows the item kind, and erasure (which
# deletes the partition) removes it with the rest.

NURTURE_DUE = "NURT#"  # gsi1 partition prefix of schedules waiting for their next due date, per tenant


class NurtureItem(HubItem, discriminator="nurture"):
    """One person's place in one campaign (sk NURT#<campaign>); gsi1 lists it under NURT#<tenant>,
    sorted by its next due date, while it waits."""

    campaign = UnicodeAttribute()
    enrolled_at = UnicodeAttribute()
    occurrence = UnicodeAttribute(null=True)
    next_due = UnicodeAttribute(null=True)
    last_done = UnicodeAttribute(null=True)
    last_outcome = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()


MODELS += (NurtureItem,)


def contacted(tenant: str, person_id: str, sent_at: str) -> tuple[Person, Person] | None:
    """The person as stored and as they are once the hub mailed them at sent_at (last contact
    moved, which the re-contact KPI follows); None when they are gone."""
    try:
        before = _to_person(PersonItem.get(person_pk(tenant, person_id), "PROFILE", consistent_read=True), tenant, person_id)
    except PersonItem.DoesNotExist:
        return None
    return before, replace(before, last_contact_at=max(before.last_contact_at or "", sent_at))
