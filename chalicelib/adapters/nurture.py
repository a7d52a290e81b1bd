"""Nurture schedules on the hub's table: one item per person and campaign in the person's partition,
listed in the sparse gsi1 (NURT#<tenant> / <next due>#<campaign>#<person id>) while it waits.

The job reads only the due part of that index; every change of a schedule is conditional on the
due date it was read with, so a repeated job, a redelivered message or two workers at once move
it (and count, and mail) once."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timezone

from pynamodb.exceptions import TransactWriteError

from chalicelib.adapters.dynamo import (
    _ATTEMPTS, NURTURE_DUE, HubItem, NurtureItem, PersonItem, TimelineItem, _backoff, _to_person, _raced, _Transaction,
    contacted, person_pk,
)
from chalicelib.domain import kpis, nurture
from chalicelib.domain.errors import RetryableError
from chalicelib.domain.events import iso

_SK = "NURT#"


def _key(tenant: str, person_id: str, campaign: str) -> tuple[str, str]:
    return person_pk(tenant, person_id), _SK + campaign


def _item(tenant: str, person_id: str, schedule: nurture.Schedule, now: str) -> NurtureItem:
    item = NurtureItem(*_key(tenant, person_id, schedule.campaign), campaign=schedule.campaign,
                       enrolled_at=schedule.enrolled_at, occurrence=schedule.occurrence, next_due=schedule.next_due,
                       last_done=schedule.last_done, last_outcome=schedule.last_outcome, updated_at=now)
    if schedule.next_due:
        item.gsi1pk = NURTURE_DUE + tenant
        item.gsi1sk = f"{schedule.next_due}#{schedule.campaign}#{person_id}"
    return item


def _schedule(item: NurtureItem) -> nurture.Schedule:
    return nurture.Schedule(campaign=item.campaign, enrolled_at=item.enrolled_at, occurrence=item.occurrence,
                            next_due=item.next_due, last_done=item.last_done, last_outcome=item.last_outcome)


def _as_read(expected: nurture.Schedule | None):
    """The condition that the schedule is still as it was read (absent, or with that due date)."""
    if expected is None:
        return NurtureItem.pk.does_not_exist()
    if expected.next_due is None:
        return NurtureItem.pk.exists() & NurtureItem.next_due.does_not_exist()
    return NurtureItem.next_due == expected.next_due


class DynamoNurture:
    def __init__(self, clock=lambda: datetime.now(timezone.utc)) -> None:
        self._clock = clock

    def _now(self) -> str:
        return iso(self._clock())

    def schedules(self, tenant: str, campaign: str, person_ids: list[str]) -> dict[str, nurture.Schedule]:
        """The schedules of these people in a campaign (one batch read), by person id."""
        keys = [_key(tenant, pid, campaign) for pid in person_ids]
        found = {item.pk: item for item in HubItem.batch_get(keys, consistent_read=True)} if keys else {}
        return {pid: _schedule(found[pk]) for pid, (pk, _) in zip(person_ids, keys) if pk in found}

    def schedule(self, tenant: str, person_id: str, campaign: str) -> nurture.Schedule | None:
        try:
            return _schedule(NurtureItem.get(*_key(tenant, person_id, campaign), consistent_read=True))
        except NurtureItem.DoesNotExist:
            return None

    def plan(self, tenant: str, person_id: str, schedule: nurture.Schedule, *, expected: nurture.Schedule | None,
             counters: dict[str, int] | None = None) -> bool:
        """Store a schedule if it is still as read; False when someone else moved it first."""
        now = self._now()
        try:
            with _Transaction(connection=HubItem._get_connection().connection) as tx:
                tx.save(_item(tenant, person_id, schedule, now), condition=_as_read(expected))
                if counters:
                    tx.count(tenant, now[:10], counters)
        except TransactWriteError as error:
            if _raced(error):
                return False
        return True

    def due(self, tenant: str, before: datetime) -> list[tuple[str, str, str]]:
        """(person id, campaign, due) of the schedules due before a moment: reads only those items."""
        found = []
        for item in HubItem.gsi1.query(NURTURE_DUE + tenant, HubItem.gsi1sk < iso(before)):
            due, campaign, person_id = item.gsi1sk.split("#", 2)
            found.append((person_id, campaign, due))
        return found

    def claim(self, tenant: str, person_id: str, campaign: str, due: str, key: str, *, now: datetime,
              interval_days: int) -> tuple[str, str | None]:
        """Take the person's nurture interval for one mail: ("claimed", None), ("interval", until) when
        another nurture mail went out less than interval_days ago, ("stale", None) when the schedule
        moved or the person is gone. A conditional write on the person (their version, hence their
        last nurture time), so two workers never both pass."""
        pk = person_pk(tenant, person_id)
        for attempt in range(_ATTEMPTS):
            try:
                before = _to_person(PersonItem.get(pk, "PROFILE", consistent_read=True), tenant, person_id)
            except PersonItem.DoesNotExist:
                return "stale", None
            until = nurture.interval_clear(before, key, now, interval_days)
            if until is not None:
                return "interval", until
            if before.milestones.get("nurture_claim") == key:
                return "claimed", None  # this very mail, claimed by an earlier attempt
            try:
                with _Transaction(connection=HubItem._get_connection().connection) as tx:
                    tx.condition_check(NurtureItem, *_key(tenant, person_id, campaign), condition=NurtureItem.next_due == due)
                    tx.save_person(before, nurture.claimed(before, key, now), updated_at=iso(now))
            except TransactWriteError as error:
                _raced(error)
                current = self.schedule(tenant, person_id, campaign)
                if current is None or current.next_due != due:
                    return "stale", None
                _backoff(attempt)
                continue  # the person changed meanwhile: read again
            return "claimed", None
        raise RetryableError("the relations store is busy; try again")

    def sent(self, tenant: str, person_id: str, due: str, after: nurture.Schedule, *, sent_at: str, entry: dict,
             counters: dict[str, int]) -> bool:
        """Record a sent nurture mail in one transaction: the schedule moved on (if still due as read),
        a nurture_sent timeline entry, the person's last contact (the re-contact KPI) and counters.
        False when it was recorded before (a redelivered message, a second job run)."""
        pk = person_pk(tenant, person_id)
        expected = replace(after, next_due=due)
        timeline_sk = f"TL#{sent_at}#n{hashlib.sha256(f'{after.campaign}:{due}'.encode()).hexdigest()[:16]}"
        for attempt in range(_ATTEMPTS):
            found = contacted(tenant, person_id, sent_at)
            if found is None:
                return False
            before, person = found
            try:
                with _Transaction(connection=HubItem._get_connection().connection) as tx:
                    tx.save(_item(tenant, person_id, after, sent_at), condition=_as_read(expected))
                    tx.save(TimelineItem(pk, timeline_sk, entry=entry), condition=TimelineItem.pk.does_not_exist())
                    tx.save_person(before, person, updated_at=sent_at)
                    tx.count(tenant, sent_at[:10], {**counters, **kpis.deltas(before, person)})
            except TransactWriteError as error:
                _raced(error)
                current = self.schedule(tenant, person_id, after.campaign)
                if current is None or current.next_due != due:
                    return False
                _backoff(attempt)
                continue
            return True
        raise RetryableError("the relations store is busy; try again")
