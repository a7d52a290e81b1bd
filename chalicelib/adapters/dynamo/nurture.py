"""Nurture schedules (the NurtureSchedules port): one item per person and campaign in the person's
partition (so erasure removes it with the rest), listed in the sparse gsi1 under NURT#<tenant>,
by next due date, while it waits (keys.py).

The job reads only the due part of that index; every change of a schedule is conditional on the
due date it was read with, so a repeated job, a redelivered message or two workers at once move
it (and count, and mail) once."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamo import convert, keys, reads
from chalicelib.adapters.dynamo.models import HubItem, NurtureItem, TimelineItem
from chalicelib.adapters.dynamo.transaction import Raced, Transaction, retry_on_race
from chalicelib.domain import kpis, nurture
from chalicelib.domain.events import iso
from chalicelib.domain.nurture import Schedule
from chalicelib.domain.records import DueMail, JsonDict


def _as_read(expected: Schedule | None) -> Condition:
    """The condition that the schedule is still as it was read (absent, or with that due date)."""
    condition: Condition
    if expected is None:
        condition = NurtureItem.pk.does_not_exist()
    elif expected.next_due is None:
        condition = NurtureItem.pk.exists() & NurtureItem.next_due.does_not_exist()
    else:
        condition = NurtureItem.next_due == expected.next_due
    return condition


class DynamoNurture:
    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def schedules(self, tenant: str, campaign: str, person_ids: Sequence[str]) -> dict[str, Schedule]:
        """The schedules of these people in a campaign (one batch read), by person id."""
        wanted = {person_id: keys.nurture_key(tenant, person_id, campaign) for person_id in person_ids}
        found = reads.batch_get(wanted.values())
        return {person_id: convert.schedule(item) for person_id, key in wanted.items()
                if isinstance(item := found.get(key), NurtureItem)}

    def schedule(self, tenant: str, person_id: str, campaign: str) -> Schedule | None:
        try:
            return convert.schedule(NurtureItem.get(*keys.nurture_key(tenant, person_id, campaign), consistent_read=True))
        except NurtureItem.DoesNotExist:
            return None

    def plan(self, tenant: str, person_id: str, schedule: Schedule, *, expected: Schedule | None,
             counters: Mapping[str, int] | None = None) -> bool:
        """Store a schedule if it is still as read; False when someone else moved it first."""
        now = iso(self._clock())
        try:
            with Transaction() as tx:
                tx.save(convert.nurture_item(tenant, person_id, schedule, now), condition=_as_read(expected))
                if counters:
                    tx.count(tenant, now, counters)
        except Raced:
            return False
        return True

    def due(self, tenant: str, before: datetime) -> list[DueMail]:
        """The schedules due before a moment: reads only those entries of the due index."""
        found = []
        for item in HubItem.gsi1.query(keys.nurture_due_pk(tenant), HubItem.gsi1sk < iso(before)):
            due, campaign, person_id = keys.nurture_due_entry(item.gsi1sk)
            found.append(DueMail(person_id=person_id, campaign=campaign, due=due))
        return found

    def _moved(self, tenant: str, person_id: str, campaign: str, due: str) -> bool:
        current = self.schedule(tenant, person_id, campaign)
        return current is None or current.next_due != due

    def claim(self, tenant: str, person_id: str, campaign: str, due: str, key: str, *, now: datetime,
              interval_days: int) -> tuple[str, str | None]:
        """Take the person's nurture interval for one mail: ("claimed", None), ("interval", until) when
        another nurture mail went out less than interval_days ago, ("stale", None) when the schedule
        moved or the person is gone. A conditional write on the person (their version, hence their
        last nurture time), so two workers never both pass."""
        def attempt() -> tuple[str, str | None]:
            before = reads.person(tenant, person_id)
            if before is None:
                return "stale", None
            until = nurture.interval_clear(before, key, now, interval_days)
            if until is not None:
                return "interval", until
            if before.milestones.get("nurture_claim") == key:
                return "claimed", None  # this very mail, claimed by an earlier attempt
            try:
                with Transaction() as tx:
                    tx.condition_check(NurtureItem, keys.nurture_key(tenant, person_id, campaign), NurtureItem.next_due == due)
                    tx.save_person(before, nurture.claimed(before, key, now), updated_at=iso(now))
            except Raced:
                if self._moved(tenant, person_id, campaign, due):
                    return "stale", None
                raise  # the person changed meanwhile: read again
            return "claimed", None
        return retry_on_race(attempt)

    def sent(self, tenant: str, person_id: str, due: str, after: Schedule, *, sent_at: str, entry: JsonDict,
             counters: Mapping[str, int]) -> bool:
        """Record a sent nurture mail in one transaction: the schedule moved on (if still due as read),
        a nurture_sent timeline entry, the person's last contact (the re-contact KPI) and counters.
        False when it was recorded before (a redelivered message, a second job run)."""
        expected = replace(after, next_due=due)
        timeline_key = (keys.person_pk(tenant, person_id), keys.nurture_sent_sk(sent_at, after.campaign, due))

        def attempt() -> bool:
            found = reads.contacted(tenant, person_id, sent_at)
            if found is None:
                return False
            before, person = found
            try:
                with Transaction() as tx:
                    tx.save(convert.nurture_item(tenant, person_id, after, sent_at), condition=_as_read(expected))
                    tx.save(TimelineItem(*timeline_key, entry=entry), condition=TimelineItem.pk.does_not_exist())
                    tx.save_person(before, person, updated_at=sent_at)
                    tx.count(tenant, sent_at, {**counters, **kpis.deltas(before, person)})
            except Raced:
                if self._moved(tenant, person_id, after.campaign, due):
                    return False
                raise
            return True
        return retry_on_race(attempt)
