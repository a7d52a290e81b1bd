"""The contract of the relations database's ports (Relations, Notices, Tenants, Counters): what the
services rely on, held alike by the in-memory fakes and the DynamoDB adapters (`stores` fixture).

The other store ports: test_ports_documents.py (Config, Tokens, Suppressions, Audit, AdminTokens),
test_ports_referrals.py (Referrals), test_ports_nurture.py (NurtureSchedules)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from chalicelib.domain import consents
from chalicelib.domain.events import ApplicationEvent, ExitEvent, HubEvent, PersonRef, RejectionEvent, RejectionRevertedEvent, iso
from chalicelib.domain.records import PollState, SentMail
from tests.contract.port_cases import MISSING, OTHER, PERSON_ID, TENANT, all_pages, consent, fact, person, ref
from tests.fakes import Stores

HOUR = timedelta(hours=1)


def record(stores: Stores, event: HubEvent, delivery_id: str) -> str:
    recorded = stores.relations.record_once(event, delivery_id=delivery_id)
    assert recorded is not None
    return recorded.person_id


def types(stores: Stores, person_id: str) -> list[str]:
    profile = stores.relations.profile(TENANT, person_id)
    assert profile is not None
    return [entry["type"] for entry in profile.timeline]


# -- record_once: new, redelivered, the same fact again --------------------------------------------

def test_record_once_stores_a_new_fact_and_ignores_its_redelivery(stores: Stores) -> None:
    event = fact(ApplicationEvent, stores.clock.now() - HOUR, job_title="Backend engineer")
    recorded = stores.relations.record_once(event, delivery_id="d1")

    assert recorded is not None and PERSON_ID.fullmatch(recorded.person_id) and recorded.notice is None
    assert stores.relations.record_once(event, delivery_id="d1") is None
    profile = stores.relations.profile(TENANT, recorded.person_id)
    assert profile is not None
    assert profile.person.roles == ("applicant",)
    assert profile.person.identities == ("greenhouse:c1",)
    assert (profile.person.name, profile.person.email) == ("Yamada Hanako", "hanako@example.com")
    assert profile.person.version is not None
    assert [(e["type"], e["job_title"]) for e in profile.timeline] == [("applied", "Backend engineer")]


def test_the_same_fact_under_a_new_delivery_id_is_known(stores: Stores) -> None:
    event = fact(ApplicationEvent, stores.clock.now() - HOUR)
    person_id = record(stores, event, "d1")
    totals = stores.counters.totals(TENANT)

    assert stores.relations.record_once(event, delivery_id="d2") is None
    assert stores.counters.totals(TENANT) == totals
    assert types(stores, person_id) == ["applied"]


def test_a_delivery_id_is_marked_once_until_unmarked(stores: Stores) -> None:
    relations = stores.relations
    assert relations.mark_delivery(TENANT, "smartrecruiters", "n-1:0") is True
    assert relations.mark_delivery(TENANT, "smartrecruiters", "n-1:0") is False
    assert relations.mark_delivery(OTHER, "smartrecruiters", "n-1:0") is True
    relations.unmark_delivery(TENANT, "smartrecruiters", "n-1:0")
    assert relations.mark_delivery(TENANT, "smartrecruiters", "n-1:0") is True


def test_a_sources_look_up_budget_is_spent_per_tenant_source_and_window_up_to_its_limit(stores: Stores) -> None:
    relations = stores.relations
    assert [relations.spend_lookup(TENANT, "smarthr", "w1", 3) for _ in range(5)] == [True, True, True, False, False]
    assert relations.spend_lookup(TENANT, "smarthr", "w2", 3) is True
    assert relations.spend_lookup(TENANT, "lever", "w1", 3) is True
    assert relations.spend_lookup(OTHER, "smarthr", "w1", 3) is True


def test_one_person_found_by_identity_and_merged_by_normalised_email(stores: Stores) -> None:
    now = stores.clock.now()
    first = record(stores, fact(ApplicationEvent, now - 3 * HOUR, person=ref("c1", email="Hanako@Example.com")), "d1")
    lever = PersonRef(source="lever", vendor_person_id="L-9", email="  HANAKO@example.com ")
    merged = record(stores, fact(ApplicationEvent, now - 2 * HOUR, person=lever, app="x9"), "d2")
    by_identity = record(stores, fact(RejectionEvent, now - HOUR, person=ref("c1", email=None)), "d3")
    other = record(stores, fact(ApplicationEvent, now - HOUR, person=ref("c2", email="taro@example.com", name="Taro")), "d4")

    assert merged == by_identity == first != other
    profile = stores.relations.profile(TENANT, first)
    assert profile is not None
    assert set(profile.person.identities) == {"greenhouse:c1", "lever:L-9"}
    assert profile.person.email == "hanako@example.com"
    assert [p.person.person_id for p in stores.relations.find_by_email(TENANT, "hanako@example.com")] == [first]
    assert stores.relations.find_by_email(TENANT, "nobody@example.com") == []
    assert stores.relations.find_by_email(OTHER, "hanako@example.com") == []
    assert stores.counters.totals(TENANT)["people"] == 2


def test_a_timeline_lists_the_oldest_fact_first_whatever_the_order_received(stores: Stores) -> None:
    now = stores.clock.now()
    person_id = record(stores, fact(RejectionEvent, now - HOUR), "d2")
    record(stores, fact(ApplicationEvent, now - 3 * HOUR), "d1")

    assert types(stores, person_id) == ["applied", "rejected"]
    profile = stores.relations.profile(TENANT, person_id)
    assert profile is not None and profile.person.roles == ("rejected",)


def test_counters_after_a_rejection_land_in_the_totals_and_on_the_day(stores: Stores) -> None:
    rejected_at = stores.clock.now() - 2 * HOUR
    applied_at = rejected_at - timedelta(days=1)
    record(stores, fact(ApplicationEvent, applied_at), "d1")
    record(stores, fact(RejectionEvent, rejected_at, stage="Interview", reason="Skills"), "d2")

    totals = stores.counters.totals(TENANT)
    assert totals["people"] == 1
    assert totals["events.applied"] == 1 and totals["events.rejected"] == 1
    assert totals["events.rejected.source.greenhouse"] == 1 and totals["events.rejected.stage.interview"] == 1
    assert totals["people.role.rejected"] == 1 and totals.get("people.role.applicant", 0) == 0
    assert totals["kpi.rejected"] == 1 and totals["kpi.ended"] == 1 and totals["kpi.rejected|source=greenhouse"] == 1
    day, before = iso(rejected_at)[:10], iso(applied_at)[:10]
    days = stores.counters.days(TENANT, before, day)
    assert set(days) == {before, day}
    assert days[day]["events.rejected"] == 1 and days[day]["kpi.rejected"] == 1
    assert days[day]["kpi.rejected|reason=skills"] == 1 and days[day]["kpi.rejected|stage=interview"] == 1
    assert days[before]["events.applied"] == 1 and "events.rejected" not in days[before]
    assert stores.counters.days(TENANT, day, day).keys() == {day}
    assert stores.counters.totals(OTHER) == {} and stores.counters.days(OTHER, before, day) == {}


# -- notices: planned, then due / view / decide / sent exactly once -----------------------------------

def test_a_rejection_plans_a_notice_due_after_the_delay(stores: Stores) -> None:
    now = stores.clock.now()
    stores.tenants.add_tenant(TENANT)  # (the sweep reads the outbox of each registered tenant)
    recorded = stores.relations.record_once(fact(RejectionEvent, now - HOUR, job_title="Backend engineer"), delivery_id="d1")

    assert recorded is not None and recorded.notice is not None
    notice = recorded.notice
    assert (notice.tenant, notice.person_id) == (TENANT, recorded.person_id)
    assert notice.due_at == now + timedelta(minutes=5)
    assert stores.notices.due(now) == []
    assert stores.notices.due(now + timedelta(minutes=6)) == [notice]
    view = stores.notices.view(TENANT, recorded.person_id, notice.notice)
    assert view is not None
    assert (view.kind, view.status, view.source, view.job_title) == ("rejection", "pending", "greenhouse", "Backend engineer")
    assert view.fact_at == iso(now - HOUR) and view.person.person_id == recorded.person_id
    assert view.person.tracks[view.track].status == "rejected"
    assert stores.notices.view(TENANT, recorded.person_id, "NOTICE#unknown") is None


def test_an_exit_is_announced_on_its_effective_date(stores: Stores) -> None:
    leaving = stores.clock.now() + timedelta(days=20)
    stores.tenants.add_tenant(TENANT)
    recorded = stores.relations.record_once(fact(ExitEvent, leaving, app="emp"), delivery_id="d1")

    assert recorded is not None and recorded.notice is not None and recorded.notice.due_at == leaving
    assert stores.notices.due(stores.clock.now() + timedelta(days=1)) == []
    assert stores.notices.due(leaving + timedelta(seconds=1)) == [recorded.notice]


def test_old_facts_imports_and_withdrawals_earn_no_notice(stores: Stores) -> None:
    now = stores.clock.now()
    old = stores.relations.record_once(fact(RejectionEvent, now - timedelta(days=40)), delivery_id="d1")
    imported = stores.relations.record_once(fact(RejectionEvent, now - HOUR, person=ref("i1", source="import")), delivery_id="d2")
    withdrew = stores.relations.record_once(fact(RejectionEvent, now - HOUR, person=ref("c3", email="c3@example.com"),
                                                 by_candidate=True), delivery_id="d3")

    assert old is not None and imported is not None and withdrew is not None
    assert old.notice is None and imported.notice is None and withdrew.notice is None
    assert stores.notices.due(now + timedelta(days=365)) == []


def test_a_decided_notice_is_closed_once(stores: Stores) -> None:
    now = stores.clock.now()
    recorded = stores.relations.record_once(fact(RejectionEvent, now - HOUR), delivery_id="d1")
    assert recorded is not None and recorded.notice is not None
    pid, notice = recorded.person_id, recorded.notice.notice

    assert stores.notices.decide(TENANT, pid, notice, "cancelled") is True
    assert stores.notices.decide(TENANT, pid, notice, "suppressed") is False
    assert stores.notices.decide(TENANT, pid, "NOTICE#unknown", "cancelled") is False
    mail = SentMail(sent_at=iso(now), message_id="m-1", template_version=0, locale="ja")
    assert stores.notices.sent(TENANT, pid, notice, kind="rejection", mail=mail, entry={"type": "notice_sent"}) is False
    view = stores.notices.view(TENANT, pid, notice)
    assert view is not None and view.status == "cancelled"
    assert stores.notices.due(now + timedelta(days=1)) == []
    totals = stores.counters.totals(TENANT)
    assert totals["notices.cancelled"] == 1 and totals.get("notices.suppressed", 0) == 0 and totals.get("notices.sent", 0) == 0


def test_a_notice_failed_for_a_reason_is_closed_once_and_keeps_the_reason(stores: Stores) -> None:
    now = stores.clock.now()
    recorded = stores.relations.record_once(fact(RejectionEvent, now - HOUR), delivery_id="d1")
    assert recorded is not None and recorded.notice is not None
    pid, notice = recorded.person_id, recorded.notice.notice

    assert stores.notices.decide(TENANT, pid, notice, "failed", reason="template_error") is True
    assert stores.notices.decide(TENANT, pid, notice, "failed", reason="template_error") is False
    view = stores.notices.view(TENANT, pid, notice)
    assert view is not None and view.status == "failed"
    assert stores.notices.due(now + timedelta(days=1)) == []
    held = stores.relations.held(TENANT, pid)
    assert held is not None and [(n["status"], n.get("reason")) for n in held.notices] == [("failed", "template_error")]
    assert stores.counters.totals(TENANT)["notices.failed"] == 1


def test_a_sent_notice_is_recorded_once_with_the_last_contact(stores: Stores) -> None:
    rejected_at = stores.clock.now() - HOUR
    recorded = stores.relations.record_once(fact(RejectionEvent, rejected_at), delivery_id="d1")
    assert recorded is not None and recorded.notice is not None
    pid, notice = recorded.person_id, recorded.notice.notice
    sent_at = iso(stores.clock.advance(minutes=10))
    mail = SentMail(sent_at=sent_at, message_id="m-1", template_version=3, locale="ja")
    entry = {"type": "notice_sent", "notice": "rejection", "source": "greenhouse", "occurred_at": sent_at,
             "template_version": 3, "locale": "ja"}

    assert stores.notices.sent(TENANT, pid, notice, kind="rejection", mail=mail, entry=entry) is True
    assert stores.notices.sent(TENANT, pid, notice, kind="rejection", mail=mail, entry=entry) is False
    assert stores.notices.decide(TENANT, pid, notice, "cancelled") is False
    view = stores.notices.view(TENANT, pid, notice)
    assert view is not None and view.status == "sent"
    profile = stores.relations.profile(TENANT, pid)
    assert profile is not None and profile.person.last_contact_at == sent_at
    assert [e for e in profile.timeline if e["type"] == "notice_sent"] == [entry]
    totals = stores.counters.totals(TENANT)
    assert totals["notices.sent"] == 1 and totals["notices.sent.rejection"] == 1
    assert totals["kpi.recontacted"] == 1  # mailed after the ending: the re-contact KPI follows the last contact
    assert stores.counters.days(TENANT, sent_at[:10], sent_at[:10])[sent_at[:10]]["notices.sent"] == 1
    assert stores.notices.due(stores.clock.now() + timedelta(days=1)) == []


def test_a_track_earns_one_notice_however_often_it_is_rejected(stores: Stores) -> None:
    now = stores.clock.now()
    first = stores.relations.record_once(fact(RejectionEvent, now - 3 * HOUR), delivery_id="d1")
    reverted = stores.relations.record_once(fact(RejectionRevertedEvent, now - 2 * HOUR), delivery_id="d2")
    again = stores.relations.record_once(fact(RejectionEvent, now - HOUR), delivery_id="d3")

    assert first is not None and first.notice is not None and reverted is not None and reverted.notice is None
    assert again is not None and again.notice is not None and again.notice.notice == first.notice.notice
    view = stores.notices.view(TENANT, first.person_id, first.notice.notice)
    assert view is not None and view.fact_at == iso(now - HOUR)
    mail = SentMail(sent_at=iso(now), message_id="m-1", template_version=0, locale="ja")
    assert stores.notices.sent(TENANT, first.person_id, first.notice.notice, kind="rejection", mail=mail,
                               entry={"type": "notice_sent", "occurred_at": iso(now)})
    stores.relations.record_once(fact(RejectionRevertedEvent, now - 30 * timedelta(minutes=1)), delivery_id="d4")
    last = stores.relations.record_once(fact(RejectionEvent, now - timedelta(minutes=10)), delivery_id="d5")
    assert last is not None and last.notice is None
    assert stores.notices.due(now + timedelta(days=1)) == []


# -- erasure ----------------------------------------------------------------------------------------

def test_erase_removes_the_person_and_keeps_replays_of_old_facts_out(stores: Stores) -> None:
    now = stores.clock.now()
    applied = fact(ApplicationEvent, now - 3 * HOUR, tags=("python",))
    pid = record(stores, applied, "d1")
    rejected = stores.relations.record_once(fact(RejectionEvent, now - HOUR), delivery_id="d2")
    assert rejected is not None and rejected.notice is not None
    stores.clock.advance(minutes=1)

    assert stores.relations.erase(TENANT, pid) is True
    assert stores.relations.profile(TENANT, pid) is None
    assert stores.relations.held(TENANT, pid) is None
    assert stores.relations.people(TENANT, [pid]) == [] and stores.relations.profiles(TENANT, [pid]) == {}
    assert stores.relations.find_by_email(TENANT, "hanako@example.com") == []
    assert stores.relations.set_tags(TENANT, pid, lambda tags: (*tags, "x")) is None
    for kind, value in (("role", "rejected"), ("tag", "python"), ("source", "greenhouse"), ("name", "yamada")):
        assert all_pages(stores, kind, value, limit=10) == []
    assert stores.notices.view(TENANT, pid, rejected.notice.notice) is None
    assert stores.notices.due(now + timedelta(days=1)) == []
    # replays of facts from before the erasure stay out, by source identity and by e-mail
    assert stores.relations.record_once(applied, delivery_id="replay-1") is None
    lever = PersonRef(source="lever", vendor_person_id="L-1", email="hanako@example.com")
    assert stores.relations.record_once(fact(ApplicationEvent, now - 2 * HOUR, person=lever, app="l1"), delivery_id="r2") is None
    assert stores.relations.erase(TENANT, pid) is False
    totals = stores.counters.totals(TENANT)
    assert totals["people.erased"] == 1 and totals["people"] == 1 and totals["events.rejected"] == 1  # counters stay
    assert totals["kpi.retained"] == 0


def test_a_new_application_after_erasure_makes_a_new_person(stores: Stores) -> None:
    pid = record(stores, fact(ApplicationEvent, stores.clock.now() - HOUR), "d1")
    assert stores.relations.erase(TENANT, pid) is True
    back_at = stores.clock.advance(minutes=1)

    again = record(stores, fact(ApplicationEvent, back_at, app="a2"), "d2")
    assert again != pid and PERSON_ID.fullmatch(again)
    profile = stores.relations.profile(TENANT, again)
    assert profile is not None and profile.person.identities == ("greenhouse:c1",)
    assert [e["application_id"] for e in profile.timeline] == ["a2"]
    assert [p.person.person_id for p in stores.relations.find_by_email(TENANT, "hanako@example.com")] == [again]


# -- reading people: by id, by index ----------------------------------------------------------------

def test_people_and_profiles_skip_the_gone_in_the_order_asked(stores: Stores) -> None:
    a, b, c = person(stores, "a1"), person(stores, "b1"), person(stores, "c1")
    assert stores.relations.erase(TENANT, b)

    assert [p.person_id for p in stores.relations.people(TENANT, [c, MISSING, a, b])] == [c, a]
    profiles = stores.relations.profiles(TENANT, [a, b, c, MISSING])
    assert set(profiles) == {a, c}
    assert [e["type"] for e in profiles[a].timeline] == ["applied"] and profiles[c].person.person_id == c
    assert stores.relations.people(OTHER, [a]) == [] and stores.relations.profile(OTHER, a) is None


def test_search_by_role_tag_source_and_name_prefix_in_pages(stores: Stores) -> None:
    names = {"h": "Yamada Hanako", "t": "YAMADA Taro", "k": "Yamamoto Ken", "i": "Suzuki Ichiro", "y": "Tanaka Yui"}
    ids = {key: person(stores, key, name=name, tags=("Python",) if key in "htk" else ()) for key, name in names.items()}
    other = person(stores, "z", name="Yamada Zen", tenant=OTHER)

    page, after = stores.relations.search(TENANT, "role", "applicant", limit=2)
    assert len(page) == 2 and after is not None
    assert sorted(all_pages(stores, "role", "applicant", limit=2)) == sorted(ids.values())
    assert sorted(all_pages(stores, "source", "greenhouse", limit=3)) == sorted(ids.values())
    assert sorted(all_pages(stores, "tag", "python", limit=2)) == sorted(ids[k] for k in "htk")
    # values are as people.search_terms folds them (folding.search_key: no spaces, docs/search.md)
    assert sorted(all_pages(stores, "name", "yama", limit=1)) == sorted(ids[k] for k in "htk")
    assert all_pages(stores, "name", "yamadat", limit=10) == [ids["t"]]
    assert all_pages(stores, "name", "suzukiichiro", limit=10) == [ids["i"]]
    assert stores.relations.search(TENANT, "role", "alumni", limit=10) == ([], None)
    assert all_pages(stores, "name", "yamada", limit=10, tenant=OTHER) == [other]


def test_set_tags_changes_the_tags_and_the_index_follows(stores: Stores) -> None:
    pid = person(stores, "c1")

    tagged = stores.relations.set_tags(TENANT, pid, lambda tags: (*tags, "python", "senior"))
    assert tagged is not None and tagged.tags == ("python", "senior")
    profile = stores.relations.profile(TENANT, pid)
    assert profile is not None and profile.person.tags == ("python", "senior") and profile.person.version == tagged.version
    assert all_pages(stores, "tag", "python", limit=10) == [pid]
    untagged = stores.relations.set_tags(TENANT, pid, lambda tags: tuple(t for t in tags if t != "python"))
    assert untagged is not None and untagged.tags == ("senior",)
    assert all_pages(stores, "tag", "python", limit=10) == [] and all_pages(stores, "tag", "senior", limit=10) == [pid]
    assert stores.relations.set_tags(TENANT, MISSING, lambda tags: (*tags, "x")) is None


# -- consent decisions, opt-out, the hub's own timeline entries -------------------------------------------

def test_a_relay_consent_queues_one_referral_per_agency(stores: Stores) -> None:
    pid = person(stores, "c1")
    now = stores.clock.now()

    versions = {"alpha": "r-alpha1", "beta": "r-beta1"}
    decision = stores.relations.record_decision(TENANT, pid, {"relay": True, "openings": False}, at=now, version="ja-abc",
                                                score=9, token_ref="NOTICE#n1", agencies=versions)
    assert decision.relay_given and not decision.relay_withdrawn
    assert consents.current(decision.person) == {"relay": True, "openings": False}
    profile = stores.relations.profile(TENANT, pid)
    assert profile is not None and consents.current(profile.person) == {"relay": True, "openings": False}
    assert profile.person.consents["relay"]["text_version"] == "ja-abc"
    assert consents.consented_versions(profile.person) == versions  # per agency, the version consented to
    assert {"consent_given", "survey_answered"} <= {e["type"] for e in profile.timeline}
    for agency in ("alpha", "beta"):
        [referral] = stores.referrals.queued(TENANT, agency, 10)
        assert (referral.tenant, referral.person_id, referral.agency, referral.status) == (TENANT, pid, agency, "queued")
        assert (referral.consent_at, referral.consent_version, referral.batch_id) == (iso(now), versions[agency], None)
        assert referral.text_version == "ja-abc"
    assert len({r.referral_id for a in ("alpha", "beta") for r in stores.referrals.queued(TENANT, a, 10)}) == 2
    totals = stores.counters.totals(TENANT)
    assert totals["consents.relay.given"] == 1 and totals["consents.relay.active"] == 1
    assert totals["survey.responses"] == 1 and totals["survey.promoters"] == 1 and totals["survey.score_sum"] == 9

    same = stores.relations.record_decision(TENANT, pid, {"relay": True, "openings": False}, at=now, version="ja-abc",
                                            score=9, token_ref="NOTICE#n1", agencies=versions)
    assert same.entries == [] and not same.relay_given
    assert len(stores.referrals.queued(TENANT, "alpha", 10)) == 1
    assert stores.counters.totals(TENANT)["consents.relay.given"] == 1


def test_withdrawing_relay_consent_stops_queued_referrals(stores: Stores) -> None:
    pid = person(stores, "c1")
    consent(stores, pid)
    [queued] = stores.referrals.queued(TENANT, "alpha", 10)
    stores.clock.advance(minutes=1)

    consent(stores, pid, relay=False)
    assert stores.referrals.queued(TENANT, "alpha", 10) == []
    assert stores.referrals.pending_withdrawals(TENANT, "alpha") == []  # nothing left the hub
    held = stores.relations.held(TENANT, pid)
    assert held is not None and [r["status"] for r in held.referrals] == ["withdrawn"]
    totals = stores.counters.totals(TENANT)
    assert totals["consents.relay.withdrawn"] == 1 and totals["consents.relay.active"] == 0

    stores.clock.advance(minutes=1)
    consent(stores, pid)
    [again] = stores.referrals.queued(TENANT, "alpha", 10)
    assert again.referral_id == queued.referral_id and again.consent_at == iso(stores.clock.now())


def test_an_opt_out_is_recorded_once(stores: Stores) -> None:
    pid = person(stores, "c1")
    now = stores.clock.now()

    stores.relations.opt_out(TENANT, pid, at=now)
    stores.relations.opt_out(TENANT, pid, at=now + HOUR)
    stores.relations.opt_out(TENANT, MISSING, at=now)
    profile = stores.relations.profile(TENANT, pid)
    assert profile is not None and profile.person.consents["mail"]["opted_out"] is True
    assert [e for e in profile.timeline if e["type"] == "consent_withdrawn"] == [
        {"type": "consent_withdrawn", "consent": "mail", "occurred_at": iso(now), "channel": "unsubscribe_link"}]
    totals = stores.counters.totals(TENANT)
    assert totals["people.opted_out"] == 1 and totals["kpi.retained"] == 0


def test_a_contact_event_is_recorded_once(stores: Stores) -> None:
    pid = person(stores, "c1")
    entry = {"type": "link_opened", "occurred_at": iso(stores.clock.now()), "notice": "NOTICE#n1"}

    stores.relations.record_contact_event(TENANT, pid, entry, {"links.opened": 1})
    stores.relations.record_contact_event(TENANT, pid, entry, {"links.opened": 1})
    assert types(stores, pid).count("link_opened") == 1
    assert stores.counters.totals(TENANT)["links.opened"] == 1


def test_held_lists_everything_in_the_persons_record(stores: Stores) -> None:
    now = stores.clock.now()
    recorded = stores.relations.record_once(fact(RejectionEvent, now - HOUR, job_title="Designer"), delivery_id="d1")
    assert recorded is not None
    pid = recorded.person_id
    consent(stores, pid)
    stores.tokens.issue(TENANT, pid, "relay", now + timedelta(days=30), notice="NOTICE#n1")

    held = stores.relations.held(TENANT, pid)
    assert held is not None and held.person.person_id == pid
    assert {"rejected", "consent_given"} <= {e["type"] for e in held.timeline}
    assert [(n["kind"], n["status"], n["job_title"]) for n in held.notices] == [("rejection", "pending", "Designer")]
    assert [(r["agency"], r["status"]) for r in held.referrals] == [("alpha", "queued")]
    assert [(link["purpose"], link["valid_until"], link["opened_at"]) for link in held.links] == [
        ("relay", iso(now + timedelta(days=30)), None)]
    assert stores.relations.held(TENANT, MISSING) is None


# -- tenants and counters -----------------------------------------------------------------------------

def test_tenants_and_their_sources(stores: Stores) -> None:
    stores.tenants.add_tenant(TENANT)
    stores.tenants.add_tenant(TENANT)
    stores.tenants.add_source(OTHER, "lever")
    stores.tenants.add_source(OTHER, "greenhouse")
    stores.tenants.add_source(OTHER, "lever")

    assert stores.tenants.tenants() == [TENANT, OTHER]
    assert stores.tenants.sources(OTHER) == ["greenhouse", "lever"] and stores.tenants.sources(TENANT) == []


def test_a_poll_cursor_moves_only_from_the_version_read(stores: Stores) -> None:
    tenants = stores.tenants
    assert tenants.poll_state(TENANT, "herp") == PollState(cursor=None, version=None)

    first = tenants.save_poll_state(TENANT, "herp", "c1", None)
    assert first is not None
    assert tenants.save_poll_state(TENANT, "herp", "raced", None) is None  # another run stored one first
    assert tenants.poll_state(TENANT, "herp") == PollState("c1", first)
    second = tenants.save_poll_state(TENANT, "herp", "c2", first)
    assert second is not None and second != first
    assert tenants.save_poll_state(TENANT, "herp", "stale", first) is None
    assert tenants.poll_state(TENANT, "herp") == PollState("c2", second)
    third = tenants.save_poll_state(TENANT, "herp", None, second)
    assert third is not None and tenants.poll_state(TENANT, "herp") == PollState(None, third)
    assert tenants.poll_state(TENANT, "freee_hr") == PollState(None, None)
    assert tenants.poll_state(OTHER, "herp") == PollState(None, None)


def test_a_days_snapshot_is_kept_once(stores: Stores) -> None:
    counters = stores.counters
    document = {"kpis": {"recontact_rate": 0.5, "brand_perception": None}, "people": 3}

    assert counters.save_snapshot(TENANT, "2026-05-30", document) is True
    assert counters.save_snapshot(TENANT, "2026-05-30", {"people": 4}) is False
    assert counters.save_snapshot(TENANT, "2026-05-31", {"people": 5}) is True
    assert counters.save_snapshot(TENANT, "2026-06-02", {"people": 6}) is True
    assert counters.snapshots(TENANT, "2026-05-30", "2026-05-31") == {"2026-05-30": document, "2026-05-31": {"people": 5}}
    assert counters.snapshots(OTHER, "2026-05-01", "2026-06-30") == {}


def test_stuck_notices_of_one_tenant_over_its_budget_leave_another_tenants_notice_in_the_first_sweep(stores: Stores) -> None:
    now = stores.clock.now()
    stores.tenants.add_tenant(OTHER)
    stores.tenants.add_tenant(TENANT)
    for i in range(12):  # (510 on the fakes: tests/unit/services/test_correspondence.py; moto is slow)
        stuck = stores.relations.record_once(fact(RejectionEvent, now - HOUR, tenant=OTHER, app=f"s-{i}",
                                                  person=ref(f"s-{i}", email=f"s-{i}@example.com")), delivery_id=f"s-{i}")
        assert stuck is not None
    stores.clock.advance(minutes=1)
    recorded = stores.relations.record_once(fact(ExitEvent, stores.clock.now() - HOUR, app="emp-1"), delivery_id="e")
    assert recorded is not None and recorded.notice is not None

    swept = stores.notices.due(stores.clock.now() + timedelta(minutes=10), per_tenant=5)

    assert recorded.notice in swept and len(swept) == 6
    assert [ref.tenant for ref in swept[:2]].count(TENANT) == 1  # taken in turns: first or second


@pytest.fixture
def at_scale() -> Iterator[None]:
    """moto with the embedded endpoint's cost patches (tools/embedded_aws.py: same answers, no
    whole-table copy per transaction), so hundreds of writes take seconds, not a quarter hour."""
    from tools import embedded_aws

    embedded_aws.install()
    embedded_aws.scale_like_dynamodb(True)
    yield
    embedded_aws.scale_like_dynamodb(False)


@pytest.mark.slow
def test_510_stuck_notices_of_one_tenant_leave_another_tenants_notice_in_the_first_sweep(stores: Stores, at_scale: None) -> None:
    """Issue 16's figure on DynamoDB too: 510 stuck notices of one tenant, the sweep's budget of 100
    per tenant; the other tenant's one notice is in the first sweep, not the sixth."""
    now = stores.clock.now()
    stores.tenants.add_tenant(OTHER)
    stores.tenants.add_tenant(TENANT)
    for i in range(510):
        stuck = stores.relations.record_once(fact(RejectionEvent, now - HOUR, tenant=OTHER, app=f"s-{i}",
                                                  person=ref(f"s-{i}", email=f"s-{i}@example.com")), delivery_id=f"s-{i}")
        assert stuck is not None
    stores.clock.advance(minutes=1)
    recorded = stores.relations.record_once(fact(ExitEvent, stores.clock.now() - HOUR, app="emp-1"), delivery_id="e")
    assert recorded is not None and recorded.notice is not None

    swept = stores.notices.due(stores.clock.now() + timedelta(minutes=10))

    assert recorded.notice in swept and len(swept) == 101
    assert [ref.tenant for ref in swept].count(OTHER) == 100


def test_a_failing_notice_counts_its_attempts_and_a_failed_one_is_requeued_once(stores: Stores) -> None:
    stores.tenants.add_tenant(TENANT)
    recorded = stores.relations.record_once(fact(RejectionEvent, stores.clock.now() - HOUR), delivery_id="d1")
    assert recorded is not None and recorded.notice is not None
    notice, later = recorded.notice, stores.clock.now() + timedelta(minutes=10)

    assert [stores.notices.attempted(TENANT, notice.person_id, notice.notice, "try_again") for _ in range(2)] == [1, 2]
    assert stores.notices.requeue(TENANT, notice.person_id) == 0  # pending, not failed
    assert stores.notices.decide(TENANT, notice.person_id, notice.notice, "failed", reason="try_again")
    assert stores.notices.due(later) == [] and stores.notices.attempted(TENANT, notice.person_id, notice.notice, "x") == 0
    held = stores.relations.held(TENANT, notice.person_id)
    assert held is not None and [(n["status"], n["attempts"], n["reason"]) for n in held.notices] == [("failed", 2, "try_again")]

    assert stores.notices.requeue(TENANT, notice.person_id) == 1
    assert stores.notices.requeue(TENANT, notice.person_id) == 0
    assert [ref.notice for ref in stores.notices.due(later)] == [notice.notice]
    assert stores.notices.attempted(TENANT, notice.person_id, notice.notice, "try_again") == 1
