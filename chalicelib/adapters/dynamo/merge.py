"""Two people of one tenant made one on DynamoDB (DynamoRelations.merge; rules in domain/merging.py).

A timeline may be longer than a transaction (100 actions), so the merge goes in steps, each
re-runnable, the last one committing:
  1. pointers: the other's identity and e-mail items lead to the survivor, its index items go
     (pages of PAGE); from here a new fact about the other lands on the survivor;
  2. its partition: timeline entries, notices, link references (and the links themselves),
     nurture schedules are copied under the survivor and deleted, a page per transaction; an item
     the survivor holds already under the same key (the same fact) is kept as the survivor's;
  3. one transaction: the survivor's profile (on its version) and index, the other's profile
     deleted (on its version), the "merged into" marker, the counters.
A race (a fact about either arriving meanwhile) fails step 3's version checks: the whole is read
and run again. A merge cut short (a timeout) is finished by asking again; asked after it
committed, the marker answers the same result and nothing moves twice."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo import convert, keys, reads
from chalicelib.adapters.dynamo.erasure import tokens_of
from chalicelib.adapters.dynamo.models import HubItem, IdentityItem, MarkerItem, PersonItem, ReferralItem, TokenItem, TokenRefItem
from chalicelib.adapters.dynamo.transaction import Transaction, retry_on_race
from chalicelib.domain import merging
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.person import Person
from chalicelib.domain.records import Merged

PAGE = 25      # partition items per transaction: a copy, a delete and at most one link update each
POINTERS = 90  # pointer writes per transaction
HOPS = 5       # merges followed from an id to the person it resolves to


def merged_into(tenant: str, person_id: str) -> str | None:
    """Where a merged-away id leads now (following later merges), or None."""
    into = None
    for _ in range(HOPS):
        found = reads.batch_get([keys.marker_key(tenant, into or person_id)])
        marker = found.get(keys.marker_key(tenant, into or person_id))
        if not isinstance(marker, MarkerItem) or not marker.into:
            break
        into = marker.into
    return into


def merge(tenant: str, person_id: str, other_id: str, now: Callable[[], str]) -> Merged:
    return retry_on_race(lambda: _attempt(tenant, person_id, other_id, now()))


def _attempt(tenant: str, person_id: str, other_id: str, now: str) -> Merged:
    wanted = [keys.profile_key(tenant, person_id), keys.profile_key(tenant, other_id),
              keys.marker_key(tenant, person_id), keys.marker_key(tenant, other_id)]
    found = reads.batch_get(wanted)
    profile, other_profile, mark, other_mark = (found.get(key) for key in wanted)
    if isinstance(other_mark, MarkerItem) and other_mark.into == person_id and other_mark.merged_at:
        return Merged(person_id=person_id, merged=other_id, merged_at=other_mark.merged_at)  # asked again
    for marker in (mark, other_mark):
        if isinstance(marker, MarkerItem) and marker.erased_at:
            raise Conflict("an erased person cannot be merged")
        if isinstance(marker, MarkerItem) and marker.into:
            raise Conflict("this person was merged into another already")
    if not isinstance(profile, PersonItem) or not isinstance(other_profile, PersonItem):
        raise NotFound("no such person")
    if any(True for _ in HubItem.query(keys.person_pk(tenant, other_id), HubItem.sk.startswith(keys.REFERRAL_PREFIX),
                                       consistent_read=True, limit=1)):
        raise Conflict("the other person has referrals (agencies know them by id): merge the other way round")
    survivor = convert.person(profile, tenant, person_id)
    other = convert.person(other_profile, tenant, other_id)
    _move_pointers(tenant, other, person_id)
    _move_partition(tenant, other_id, person_id)
    merged = merging.merge(survivor, other)
    with Transaction() as tx:
        tx.save_person(survivor, merged, updated_at=now)
        tx.delete(PersonItem(*keys.profile_key(tenant, other_id), version=other.version))  # on its version
        tx.save(MarkerItem(*keys.marker_key(tenant, other_id), into=person_id, merged_at=now),
                condition=MarkerItem.pk.does_not_exist())
        tx.count(tenant, now[:10], merging.counter_deltas(survivor, other, merged))
    return Merged(person_id=person_id, merged=other_id, merged_at=now)


def _move_pointers(tenant: str, other: Person, person_id: str) -> None:
    """Identity and e-mail items lead to the survivor; the other's index items go."""
    writes: list[tuple[str, HubItem]] = []
    for pointer in convert.pointers(other):
        if isinstance(pointer, IdentityItem):
            writes.append(("save", IdentityItem(pointer.pk, pointer.sk, person_id=person_id)))
        else:
            writes.append(("delete", pointer))
    for start in range(0, len(writes), POINTERS):
        with Transaction() as tx:
            for action, item in writes[start:start + POINTERS]:
                (tx.save if action == "save" else tx.delete)(item)


def _move_partition(tenant: str, other_id: str, person_id: str) -> None:
    page: list[HubItem] = []
    for item in HubItem.query(keys.person_pk(tenant, other_id), consistent_read=True, page_size=PAGE):
        if isinstance(item, (PersonItem, MarkerItem, ReferralItem)):
            continue
        page.append(item)
        if len(page) == PAGE:
            _move_page(tenant, page, other_id, person_id)
            page = []
    if page:
        _move_page(tenant, page, other_id, person_id)


def _move_page(tenant: str, page: list[HubItem], other_id: str, person_id: str) -> None:
    target = keys.person_pk(tenant, person_id)
    held = reads.batch_get([(target, item.sk) for item in page])
    with Transaction() as tx:
        for item in page:
            if (target, item.sk) not in held:
                tx.save(_copy(item, target, other_id, person_id))
            tx.delete(item)
        for token in tokens_of(tenant, [item for item in page if isinstance(item, TokenRefItem)]):
            tx.update(token, actions=[TokenItem.person_id.set(person_id)])


def _copy(item: HubItem, pk: str, other_id: str, person_id: str) -> HubItem:
    """The item under the survivor's partition; a due-work index key naming the other names the survivor."""
    values: dict[str, Any] = {name: value for name, value in item.attribute_values.items()
                              if name not in ("pk", "sk", "kind")}
    if values.get("gsi1sk"):
        values["gsi1sk"] = "#".join(person_id if part == other_id else part for part in values["gsi1sk"].split("#"))
    return type(item)(pk, item.sk, **values)
