"""The contract of Relations.merge and Relations.merged_into (two records of one human made one,
docs/people.md), held alike by the in-memory fakes and the DynamoDB adapters (`stores` fixture)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain import counters, phones
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.events import ExitEvent, PersonRef, RejectionEvent
from tests.contract.port_cases import OTHER, TENANT, fact, person
from tests.fakes import Stores

DAY = timedelta(days=1)
PHONE = "+819012345678"


def exit_and_rejection(stores: Stores) -> tuple[str, str]:
    """A SmartHR exit and a Greenhouse rejection of one human: different e-mails, the same phone."""
    now = stores.clock.now()
    alumna = PersonRef(source="smarthr", vendor_person_id="crew-1", name="山田 花子", email="hanako@corp.example",
                       phone=PHONE, family_kana="ヤマダ", given_kana="ハナコ", family_name="山田", given_name="花子")
    candidate = PersonRef(source="greenhouse", vendor_person_id="gh-7", name="Yamada Hanako", email="hanako@mail.example",
                          phone=PHONE)
    left = stores.relations.record_once(fact(ExitEvent, now - 30 * DAY, person=alumna, app=""), delivery_id="x1")
    rejected = stores.relations.record_once(fact(RejectionEvent, now - 400 * DAY, person=candidate, app="gh-app-1"),
                                            delivery_id="g1")
    assert left is not None and rejected is not None and left.person_id != rejected.person_id
    return left.person_id, rejected.person_id


def test_two_records_become_one_with_both_timelines_identities_and_roles(stores: Stores) -> None:
    survivor, other = exit_and_rejection(stores)
    before = stores.counters.totals(TENANT)

    merged = stores.relations.merge(TENANT, survivor, other)

    assert (merged.person_id, merged.merged) == (survivor, other)
    profile = stores.relations.profile(TENANT, survivor)
    assert profile is not None
    assert set(profile.person.identities) == {"smarthr:crew-1", "greenhouse:gh-7"}
    assert set(profile.person.roles) == {"alumni", "rejected"}
    assert sorted(entry["type"] for entry in profile.timeline) == ["exited", "rejected"]
    assert profile.person.email == "hanako@corp.example"  # the most recent contact's
    assert stores.relations.profile(TENANT, other) is None
    assert stores.relations.merged_into(TENANT, other) == survivor
    assert stores.relations.merged_into(TENANT, survivor) is None
    after = stores.counters.totals(TENANT)
    assert after.get(counters.PEOPLE, 0) == before[counters.PEOPLE] - 1
    assert after.get(counters.people_role("alumni"), 0) == before[counters.people_role("alumni")]
    assert after.get(counters.people_role("rejected"), 0) == before[counters.people_role("rejected")]
    assert after.get(counters.KPI_RETAINED, 0) == before[counters.KPI_RETAINED] - 1
    ids, _ = stores.relations.search(TENANT, "phone", phones.phone_key(PHONE), limit=10)  # a digest: no number in a key
    assert ids == [survivor]
    ids, _ = stores.relations.search(TENANT, "source", "greenhouse", limit=10)
    assert ids == [survivor]


def test_asked_again_the_same_answer_and_nothing_moves_twice(stores: Stores) -> None:
    survivor, other = exit_and_rejection(stores)
    first = stores.relations.merge(TENANT, survivor, other)
    totals = stores.counters.totals(TENANT)
    stores.clock.advance(minutes=5)

    assert stores.relations.merge(TENANT, survivor, other) == first
    assert stores.counters.totals(TENANT) == totals


def test_later_facts_about_the_merged_identities_land_on_the_survivor(stores: Stores) -> None:
    survivor, other = exit_and_rejection(stores)
    stores.relations.merge(TENANT, survivor, other)
    candidate = PersonRef(source="greenhouse", vendor_person_id="gh-7", email="hanako@mail.example")

    again = stores.relations.record_once(fact(RejectionEvent, stores.clock.now() - DAY, person=candidate, app="gh-app-2"),
                                         delivery_id="g2")
    replay = stores.relations.record_once(fact(RejectionEvent, stores.clock.now() - 400 * DAY, person=candidate,
                                               app="gh-app-1"), delivery_id="g1-again")

    assert again is not None and again.person_id == survivor
    assert replay is None  # the moved timeline still knows the fact
    assert stores.relations.profile(TENANT, other) is None


def test_links_and_notices_of_the_merged_person_follow_the_survivor(stores: Stores) -> None:
    stores.tenants.add_tenant(TENANT)  # the outbox is read tenant by tenant
    survivor, other = exit_and_rejection(stores)
    token = stores.tokens.issue(TENANT, other, "relay", stores.clock.now() + 30 * DAY)
    recent = stores.relations.record_once(
        fact(RejectionEvent, stores.clock.now() - timedelta(minutes=1), app="gh-app-9",
             person=PersonRef(source="greenhouse", vendor_person_id="gh-7", email="hanako@mail.example")),
        delivery_id="g9")
    assert recent is not None and recent.notice is not None and recent.person_id == other

    stores.relations.merge(TENANT, survivor, other)

    info = stores.tokens.resolve(token)
    assert info is not None and info.person_id == survivor
    due = stores.notices.due(stores.clock.now() + timedelta(hours=1))
    assert (survivor, recent.notice.notice) in [(n.person_id, n.notice) for n in due]
    assert {n.person_id for n in due} == {survivor}
    assert stores.notices.view(TENANT, survivor, recent.notice.notice) is not None


def test_a_long_timeline_moves_whole(stores: Stores) -> None:
    survivor, other = exit_and_rejection(stores)
    start = stores.clock.now() - 10 * DAY
    for i in range(120):  # beyond one transaction's 100 actions
        at = (start + timedelta(minutes=i)).isoformat()
        stores.relations.record_contact_event(TENANT, other, {"type": "link_opened", "occurred_at": at}, {})

    stores.relations.merge(TENANT, survivor, other)

    profile = stores.relations.profile(TENANT, survivor)
    assert profile is not None and len(profile.timeline) == 122


def test_a_withdrawal_is_never_overwritten_by_an_older_consent(stores: Stores) -> None:
    survivor, other = exit_and_rejection(stores)
    now = stores.clock.now()
    stores.relations.record_decision(TENANT, survivor, {"relay": True, "openings": True}, at=now - 3 * DAY,
                                     version="ja-1", score=None, token_ref=None, agencies={})
    stores.relations.record_decision(TENANT, other, {"openings": True}, at=now - 2 * DAY, version="ja-1", score=None,
                                     token_ref=None, agencies={})
    stores.relations.record_decision(TENANT, other, {"openings": False}, at=now - DAY, version="ja-1", score=None,
                                     token_ref=None, agencies={})
    active = stores.counters.totals(TENANT).get(counters.consents("openings", "active"), 0)

    stores.relations.merge(TENANT, survivor, other)

    profile = stores.relations.profile(TENANT, survivor)
    assert profile is not None
    assert profile.person.consents["openings"]["given"] is False  # the newer withdrawal stands
    assert profile.person.consents["relay"]["given"] is True
    assert stores.counters.totals(TENANT).get(counters.consents("openings", "active"), 0) == active - 1


def test_a_person_of_another_tenant_or_nobody_is_not_found(stores: Stores) -> None:
    survivor, _ = exit_and_rejection(stores)
    stranger = person(stores, "s1", tenant=OTHER)

    with pytest.raises(NotFound):
        stores.relations.merge(TENANT, survivor, stranger)
    with pytest.raises(NotFound):
        stores.relations.merge(OTHER, stranger, survivor)
    assert stores.relations.profile(OTHER, stranger) is not None


def test_an_erased_person_is_never_merged(stores: Stores) -> None:
    survivor, other = exit_and_rejection(stores)
    assert stores.relations.erase(TENANT, other)

    with pytest.raises(Conflict):
        stores.relations.merge(TENANT, survivor, other)
    with pytest.raises(Conflict):
        stores.relations.merge(TENANT, other, survivor)
    profile = stores.relations.profile(TENANT, survivor)
    assert profile is not None and "greenhouse:gh-7" not in profile.person.identities


def test_a_person_whose_referrals_agencies_know_is_never_merged_away(stores: Stores) -> None:
    survivor, other = exit_and_rejection(stores)
    stores.relations.record_decision(TENANT, other, {"relay": True}, at=stores.clock.now() - DAY, version="ja-1",
                                     score=None, token_ref=None, agencies={"alpha": "r-1"})

    with pytest.raises(Conflict):
        stores.relations.merge(TENANT, survivor, other)
    assert stores.relations.profile(TENANT, other) is not None

    merged = stores.relations.merge(TENANT, other, survivor)  # the other way round: the referred person survives
    assert merged.person_id == other
    assert [r.person_id for r in stores.referrals.queued(TENANT, "alpha", 10)] == [other]
