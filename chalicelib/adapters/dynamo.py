"""The relations database on DynamoDB, through PynamoDB: one table, tenant in every key.

Items (pk / sk):
  person profile   T#<tenant>#P#<person_id>   / PROFILE
  timeline entry   T#<tenant>#P#<person_id>   / TL#<occurred_at>#<fact key>
  identity         T#<tenant>#ID#<source>#<vendor id> / ID        -> person_id
  e-mail identity  T#<tenant>#EM#<sha256 of address>  / EM        -> person_id
  delivery         T#<tenant>#DL#<source>#<delivery id> / DL      (TTL: dedupe window)
  counters         T#<tenant>#CTR / TOTAL and DAY#<yyyy-mm-dd>    (ADD on write)
  tenant           TENANTS / <tenant>;  source link  T#<tenant>#CONF / SOURCE#<source>

A new fact costs one batch read and one transaction; a duplicate, the batch read alone.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from pynamodb.attributes import (
    DiscriminatorAttribute, JSONAttribute, ListAttribute, NumberAttribute, TTLAttribute,
    UnicodeAttribute, VersionAttribute,
)
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.domain.errors import RetryableError
from chalicelib.domain.events import HubEvent, iso
from chalicelib.domain.people import Person, Track, apply, email_key, new_person_id, normalise_email
from chalicelib.domain.ports import PollState, Profile

DEDUPE_WINDOW = timedelta(days=35)  # vendors retry for up to 3 days; we promise at least 14
_ATTEMPTS = 5


class HubItem(Model):
    """Every item of the hub's table; `kind` tells them apart."""

    class Meta:
        table_name = "relations-hub-local"  # set from Settings by configure()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    expires_at = TTLAttribute(null=True)


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
    version = VersionAttribute()


class TimelineItem(HubItem, discriminator="timeline"):
    entry = JSONAttribute()


class IdentityItem(HubItem, discriminator="identity"):
    person_id = UnicodeAttribute()


class DeliveryItem(HubItem, discriminator="delivery"):
    received_at = UnicodeAttribute()


class TenantItem(HubItem, discriminator="tenant"):
    created_at = UnicodeAttribute()


class SourceLinkItem(HubItem, discriminator="source_link"):
    updated_at = UnicodeAttribute()


class PollCursorItem(HubItem, discriminator="poll_cursor"):
    cursor = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


MODELS = (HubItem, PersonItem, TimelineItem, IdentityItem, DeliveryItem, TenantItem, SourceLinkItem, PollCursorItem)


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


def counters_pk(tenant: str) -> str:
    return f"T#{tenant}#CTR"


# -- conversions ------------------------------------------------------------------------------

def _to_person(item: PersonItem, tenant: str, person_id: str) -> Person:
    return Person(
        tenant=tenant, person_id=person_id, name=item.name, email=item.email, phone=item.phone,
        locale=item.locale, contact_at=item.contact_at or "",
        tracks={k: Track(**v) for k, v in (item.tracks or {}).items()},
        extra_roles=tuple(item.extra_roles or ()), tags=tuple(item.tags or ()),
        consents=dict(item.consents or {}), identities=tuple(item.identities or ()),
        created_at=item.created_at or "", version=item.version,
    )


def _to_item(person: Person, *, updated_at: str) -> PersonItem:
    item = PersonItem(
        person_pk(person.tenant, person.person_id), "PROFILE",
        name=person.name, email=person.email, phone=person.phone, locale=person.locale,
        contact_at=person.contact_at,
        tracks={k: {"status": t.status, "at": t.at} for k, t in person.tracks.items()},
        extra_roles=list(person.extra_roles), roles=list(person.roles), tags=list(person.tags),
        consents=person.consents, identities=list(person.identities), created_at=person.created_at,
    )
    if person.version is not None:
        item.version = person.version
    item.updated_at = updated_at
    return item


class _Transaction(TransactWrite):
    """PynamoDB's TransactWrite, plus ADD updates of counters whose names are data, not attributes."""

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


class DynamoRelations:
    """Relations port on DynamoDB."""

    def __init__(self, clock=lambda: datetime.now(timezone.utc)) -> None:
        self._clock = clock

    # -- intake -------------------------------------------------------------------------------

    def record_once(self, event: HubEvent, *, delivery_id: str) -> bool:
        for _ in range(_ATTEMPTS):
            outcome = self._try_record(event, delivery_id)
            if outcome is not None:
                return outcome
        raise RetryableError("the relations store is busy; try again")

    def _try_record(self, event: HubEvent, delivery_id: str) -> bool | None:
        """True: stored; False: already known; None: lost a race, read again."""
        tenant, ref = event.tenant, event.person
        email = normalise_email(ref.email)
        guess = new_person_id(tenant, ref.source, ref.vendor_person_id)
        keys = [delivery_key(tenant, ref.source, delivery_id), identity_key(tenant, ref.source, ref.vendor_person_id),
                (person_pk(tenant, guess), "PROFILE"), (person_pk(tenant, guess), timeline_sk(event))]
        if email:
            keys.append(email_identity_key(tenant, email))
        found = self._batch_get(keys)
        if keys[0] in found:
            return False
        identity = found.get(keys[1])
        by_email = found.get(keys[4]) if email else None
        person_id = identity.person_id if identity else by_email.person_id if by_email else guess
        if person_id == guess:
            profile, fact = found.get(keys[2]), found.get(keys[3])
        else:  # known under another system's id (same e-mail), or merged earlier
            again = self._batch_get([(person_pk(tenant, person_id), "PROFILE"), (person_pk(tenant, person_id), timeline_sk(event))])
            profile, fact = again.get((person_pk(tenant, person_id), "PROFILE")), again.get((person_pk(tenant, person_id), timeline_sk(event)))
        if fact is not None:
            return False

        before = _to_person(profile, tenant, person_id) if profile else Person(tenant=tenant, person_id=person_id)
        now = self._clock()
        outcome = apply(before, event, now=now)
        person_key = person_pk(tenant, person_id)
        try:
            with _Transaction(connection=HubItem._get_connection().connection) as tx:
                tx.save(DeliveryItem(*keys[0], received_at=iso(now), expires_at=now + DEDUPE_WINDOW),
                        condition=DeliveryItem.pk.does_not_exist())
                tx.save(TimelineItem(person_key, timeline_sk(event), entry=outcome.entry),
                        condition=TimelineItem.pk.does_not_exist())
                tx.save(_to_item(outcome.person, updated_at=iso(now)))  # version condition added by PynamoDB
                if identity is None:
                    tx.save(IdentityItem(*keys[1], person_id=person_id), condition=IdentityItem.pk.does_not_exist())
                if email and by_email is None:
                    tx.save(IdentityItem(*keys[4], person_id=person_id), condition=IdentityItem.pk.does_not_exist())
                tx.add_counters(counters_pk(tenant), "TOTAL", outcome.counters)
                tx.add_counters(counters_pk(tenant), f"DAY#{iso(event.occurred_at)[:10]}", outcome.counters)
        except TransactWriteError as error:
            if error.cause_response_code in ("TransactionCanceledException", "TransactionConflictException"):
                return None
            raise RetryableError("the relations store did not take the write") from error
        return True

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

    # -- tenants ------------------------------------------------------------------------------

    def add_source(self, tenant: str, source: str) -> None:
        now = iso(self._clock())
        try:
            TenantItem("TENANTS", tenant, created_at=now).save(condition=TenantItem.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
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

    def counters(self, tenant: str, sk: str = "TOTAL") -> dict[str, int]:
        raw = HubItem._get_connection().get_item(counters_pk(tenant), range_key=sk, consistent_read=True).get("Item", {})
        return {k: int(v["N"]) for k, v in raw.items() if "N" in v}

