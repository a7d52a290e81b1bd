"""The contract of the NurtureSchedules port on both sides (`stores`): a schedule moves only as it
was read, the due index lists what is due, a mail claims the interval and is recorded once."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chalicelib.domain import nurture
from chalicelib.domain.events import RejectionEvent, iso
from chalicelib.domain.nurture import Schedule
from chalicelib.domain.records import DueMail
from tests.contract.port_cases import MISSING, OTHER, TENANT, fact, person, ref
from tests.fakes import Stores

DAY = timedelta(days=1)


def test_a_schedule_is_stored_only_as_it_was_read(stores: Stores) -> None:
    pid = person(stores, "c1")
    now = stores.clock.now()
    d1, d2, d3 = (iso(now + n * DAY) for n in (1, 2, 3))
    planned = Schedule("winback", iso(now), occurrence=d1, next_due=d1)

    assert stores.nurture.plan(TENANT, pid, planned, expected=None) is True
    assert stores.nurture.plan(TENANT, pid, planned, expected=None) is False  # someone enrolled them first
    assert stores.nurture.schedule(TENANT, pid, "winback") == planned
    deferred = replace(planned, next_due=d2)
    assert stores.nurture.plan(TENANT, pid, deferred, expected=replace(planned, next_due=d3)) is False
    assert stores.nurture.plan(TENANT, pid, deferred, expected=planned, counters={"nurture.deferred": 1}) is True
    assert stores.nurture.schedule(TENANT, pid, "winback") == deferred
    passed = replace(deferred, occurrence=None, next_due=None, last_done=d1, last_outcome="opted_out")
    assert stores.nurture.plan(TENANT, pid, passed, expected=deferred) is True
    again = replace(passed, occurrence=d3, next_due=d3)
    assert stores.nurture.plan(TENANT, pid, again, expected=passed) is True  # read without a due date
    assert stores.nurture.plan(TENANT, pid, replace(again, next_due=d2), expected=passed) is False
    assert stores.nurture.schedules(TENANT, "winback", [pid, MISSING]) == {pid: again}
    assert stores.nurture.schedules(TENANT, "alumni", [pid]) == {} and stores.nurture.schedule(OTHER, pid, "winback") is None
    assert stores.counters.totals(TENANT)["nurture.deferred"] == 1


def test_due_lists_the_schedules_due_before_a_moment(stores: Stores) -> None:
    now = stores.clock.now()
    soon, later, sooner = iso(now + timedelta(hours=1)), iso(now + 2 * DAY), iso(now + timedelta(minutes=30))
    stores.nurture.plan(TENANT, "p_" + "1" * 24, Schedule("winback", iso(now), occurrence=soon, next_due=soon), expected=None)
    stores.nurture.plan(TENANT, "p_" + "2" * 24, Schedule("winback", iso(now), occurrence=later, next_due=later), expected=None)
    stores.nurture.plan(TENANT, "p_" + "3" * 24, Schedule("winback", iso(now), last_done=soon), expected=None)
    stores.nurture.plan(TENANT, "p_" + "4" * 24, Schedule("alumni", iso(now), occurrence=sooner, next_due=sooner), expected=None)
    stores.nurture.plan(OTHER, "p_" + "5" * 24, Schedule("winback", iso(now), occurrence=soon, next_due=soon), expected=None)

    due = stores.nurture.due(TENANT, now + DAY)
    assert sorted(due, key=lambda mail: mail.due) == [DueMail("p_" + "4" * 24, "alumni", sooner),
                                                       DueMail("p_" + "1" * 24, "winback", soon)]
    assert stores.nurture.due(TENANT, now) == []
    assert len(stores.nurture.due(TENANT, now + 3 * DAY)) == 3
    assert stores.nurture.due(OTHER, now + DAY) == [DueMail("p_" + "5" * 24, "winback", soon)]


def test_a_nurture_mail_claims_the_persons_interval(stores: Stores) -> None:
    pid = person(stores, "c1")
    now = stores.clock.now()
    due = iso(now - timedelta(hours=1))
    for campaign in ("winback", "alumni"):
        stores.nurture.plan(TENANT, pid, Schedule(campaign, iso(now), occurrence=due, next_due=due), expected=None)
    key, other_key = nurture.mail_key(pid, "winback", due), nurture.mail_key(pid, "alumni", due)

    assert stores.nurture.claim(TENANT, pid, "winback", due, key, now=now, interval_days=90) == ("claimed", None)
    assert stores.nurture.claim(TENANT, pid, "winback", due, key, now=now, interval_days=90) == ("claimed", None)  # a retry
    profile = stores.relations.profile(TENANT, pid)
    assert profile is not None and profile.person.milestones["last_nurture_at"] == iso(now)
    later = now + DAY
    assert stores.nurture.claim(TENANT, pid, "alumni", due, other_key, now=later, interval_days=90) == (
        "interval", iso(now + 90 * DAY))
    after_interval = now + 91 * DAY
    assert stores.nurture.claim(TENANT, pid, "alumni", iso(now), other_key, now=after_interval, interval_days=90) == (
        "stale", None)  # the schedule moved since it was read
    assert stores.nurture.claim(TENANT, MISSING, "alumni", due, other_key, now=after_interval, interval_days=90) == ("stale", None)
    assert stores.nurture.claim(TENANT, pid, "alumni", due, other_key, now=after_interval, interval_days=90) == ("claimed", None)


def test_a_sent_nurture_mail_is_recorded_once(stores: Stores) -> None:
    now = stores.clock.now()
    recorded = stores.relations.record_once(fact(RejectionEvent, now - 100 * DAY, person=ref("c1")), delivery_id="d1")
    assert recorded is not None
    pid = recorded.person_id
    due, following = iso(now - timedelta(hours=1)), iso(now + 365 * DAY)
    planned = Schedule("winback", iso(now - 10 * DAY), occurrence=due, next_due=due)
    stores.nurture.plan(TENANT, pid, planned, expected=None)
    sent_at = iso(now)
    after = replace(planned, occurrence=following, next_due=following, last_done=due, last_outcome="sent")
    entry = {"type": "nurture_sent", "campaign": "winback", "template_kind": "nurture", "occurred_at": sent_at,
             "template_version": 0, "locale": "ja"}
    counts = {"nurture.sent": 1, "nurture.sent.nurture": 1, "nurture.campaign.winback.sent": 1}

    assert stores.nurture.sent(TENANT, pid, due, after, sent_at=sent_at, entry=entry, counters=counts) is True
    assert stores.nurture.sent(TENANT, pid, due, after, sent_at=sent_at, entry=entry, counters=counts) is False
    assert stores.nurture.schedule(TENANT, pid, "winback") == after
    profile = stores.relations.profile(TENANT, pid)
    assert profile is not None and profile.person.last_contact_at == sent_at
    assert [e for e in profile.timeline if e["type"] == "nurture_sent"] == [entry]
    totals = stores.counters.totals(TENANT)
    assert totals["nurture.sent"] == 1 and totals["nurture.campaign.winback.sent"] == 1
    assert totals["kpi.recontacted"] == 1
    assert stores.nurture.due(TENANT, now + DAY) == []
    assert stores.nurture.due(TENANT, now + 366 * DAY) == [DueMail(pid, "winback", following)]
    assert stores.nurture.sent(TENANT, MISSING, due, after, sent_at=sent_at, entry=entry, counters=counts) is False
