"""The pure rules of people: e-mail identity, roles from facts in any order, counters."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.events import ApplicationEvent, ExitEvent, HireEvent, PersonRef, RejectionEvent, RejectionRevertedEvent
from chalicelib.domain.people import apply, normalise_email
from chalicelib.domain.person import Person

NOW = datetime(2026, 11, 25, tzinfo=UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
REF = PersonRef(source="greenhouse", vendor_person_id="c1", name="N", email="n@example.com")


def event(cls, minutes: int, application_id: str = "a1", **extra):
    return cls(tenant="acme", person=REF, occurred_at=T0 + timedelta(minutes=minutes), application_id=application_id, **extra)


def replay(events) -> Person:
    person = Person(tenant="acme", person_id="p1")
    for e in events:
        person = apply(person, e, now=NOW).person
    return person


def test_full_width_and_cased_addresses_normalise_to_one():
    assert normalise_email("  ＨＡＮＡＫＯ＠ＥＸＡＭＰＬＥ．ＪＰ ") == "hanako@example.jp"
    assert normalise_email("Hanako@Example.jp") == "hanako@example.jp"


def test_non_addresses_normalise_to_none():
    for value in (None, "", "no-at-sign", "a@b", "two@@example.com", "sp ace@example.com"):
        assert normalise_email(value) is None


def test_reject_unreject_reject_ends_rejected_in_every_order():
    facts = [event(RejectionEvent, 1), event(RejectionRevertedEvent, 2), event(RejectionEvent, 3)]
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0], [0, 2, 1], [2, 0, 1]):
        assert replay([facts[i] for i in order]).roles == ("rejected",)


def test_reject_then_unreject_is_live_applicant_again():
    assert replay([event(RejectionEvent, 1), event(RejectionRevertedEvent, 2)]).roles == ("applicant",)


def test_a_reversal_at_the_instant_of_its_rejection_wins_in_either_order():
    """Greenhouse's unreject carries the rejection's own time (its documented example pair): a
    reversal can only follow what it undoes, so the tie is the reversal's; a hire still beats it."""
    for undone in (event(RejectionEvent, 1), event(RejectionEvent, 1, by_candidate=True)):
        reverted = event(RejectionRevertedEvent, 1)
        assert replay([undone, reverted]).roles == replay([reverted, undone]).roles == ("applicant",)
        assert replay([undone, reverted]).tracks == replay([reverted, undone]).tracks
    hired, reverted = event(HireEvent, 1), event(RejectionRevertedEvent, 1)
    assert replay([hired, reverted]).roles == replay([reverted, hired]).roles == ("employee",)


def test_candidate_declining_is_offer_declined():
    assert replay([event(RejectionEvent, 1, by_candidate=True)]).roles == ("offer_declined",)


def test_hire_then_exit_is_alumni_and_rehire_is_employee():
    hired, left, rehired = event(HireEvent, 1), event(ExitEvent, 100, application_id="emp"), event(HireEvent, 200, "a2")
    assert replay([left, hired]).roles == ("alumni",)
    assert replay([rehired, left, hired]).roles == ("employee",)


def test_applying_elsewhere_after_rejection_holds_both_roles():
    assert replay([event(RejectionEvent, 1), event(ApplicationEvent, 5, "a2")]).roles == ("applicant", "rejected")


def test_counters_follow_role_changes():
    person = Person(tenant="acme", person_id="p1")
    first = apply(person, event(RejectionEvent, 1, stage="Final interview"), now=NOW)
    assert {k: v for k, v in first.counters.items() if not k.startswith("kpi.")} == {
        "events.rejected": 1, "events.rejected.source.greenhouse": 1, "events.rejected.stage.final_interview": 1,
        "people": 1, "people.role.rejected": 1}
    ended = [k for k in first.counters if k.startswith("kpi.ended@2026-01-01T") and k.endswith("|stage=final_interview")]
    assert [first.counters[k] for k in ended] == [1] and first.counters["kpi.retained"] == 1  # dated by the ending's moment
    stored = first.person.__class__(**{**first.person.__dict__, "version": 1})
    second = apply(stored, event(RejectionRevertedEvent, 2), now=NOW)
    assert second.counters["people.role.rejected"] == -1 and second.counters["people.role.applicant"] == 1
    assert "people" not in second.counters


def test_timeline_entry_holds_no_contact_data():
    entry = apply(Person(tenant="acme", person_id="p1"), event(RejectionEvent, 1), now=NOW).entry
    assert "n@example.com" not in str(entry) and "N" not in entry.values()


KINDS = [ApplicationEvent, RejectionEvent, RejectionRevertedEvent, HireEvent, ExitEvent]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 20), st.sampled_from(["a1", "a2"])), min_size=1, max_size=12),
       st.randoms(use_true_random=False))
def test_any_order_of_the_same_facts_gives_the_same_roles(facts, rnd: random.Random):
    events = list({(cls, m, a): event(cls, m, a) for cls, m, a in facts}.values())
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert replay(events).roles == replay(shuffled).roles
    assert replay(events).tracks == replay(shuffled).tracks
