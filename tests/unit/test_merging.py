"""The merge rules (chalicelib/domain/merging.py) and the match rules (matching.py), pure."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

from chalicelib.domain import counters, kpis, matching, merging
from chalicelib.domain.person import Person, Track

A = Person(tenant="acme", person_id="p_a", name="山田 花子", email="a@example.jp", phone="+819012345678",
           contact_at="2026-03-31T00:00:00Z", version=3, created_at="2026-01-01T00:00:00Z",
           tracks={"employment": Track("exited", "2026-03-31T00:00:00Z")}, identities=("smarthr:1",),
           milestones={"first_exited_at": "2026-03-31T00:00:00Z", "first_exited_source": "smarthr"},
           consents={"openings": {"given": True, "at": "2026-04-01T00:00:00Z"}, "mail": {"opted_out": True, "at": "2026-04-02T00:00:00Z"}},
           tags=("engineer",))
B = Person(tenant="acme", person_id="p_b", name="Yamada Hanako", email="b@example.jp", phone="+819012345678",
           contact_at="2025-01-10T00:00:00Z", version=1, created_at="2025-01-01T00:00:00Z",
           tracks={"app:greenhouse:1": Track("rejected", "2025-01-10T00:00:00Z")}, identities=("greenhouse:7",),
           milestones={"last_applied_at": "2025-01-01T00:00:00Z"},
           consents={"openings": {"given": False, "at": "2026-04-01T00:00:00Z"}, "relay": {"given": True, "at": "2025-02-01T00:00:00Z"}},
           tags=("Engineer", "sales"))


def test_the_merged_person_takes_both_records_by_order_free_rules():
    merged = merging.merge(A, B)

    assert (merged.person_id, merged.version) == ("p_a", 3)
    assert set(merged.roles) == {"alumni", "rejected"}
    assert merged.identities == ("smarthr:1", "greenhouse:7")
    assert merged.tags == ("engineer", "sales")
    assert (merged.email, merged.name, merged.created_at) == ("a@example.jp", "山田 花子", "2025-01-01T00:00:00Z")
    assert merged.milestones == {**A.milestones, **B.milestones}
    assert merged.consents["openings"]["given"] is False  # a tie: the withdrawal wins
    assert merged.consents["mail"]["opted_out"] is True and merged.consents["relay"]["given"] is True
    swapped = merging.merge(B, A)
    assert (swapped.tracks, swapped.consents, swapped.milestones, swapped.email) == \
        (merged.tracks, merged.consents, merged.milestones, merged.email)


def test_counters_count_the_merged_person_once():
    merged = merging.merge(A, B)
    deltas = merging.counter_deltas(A, B, merged)

    def counted(*people: Person) -> Counter[str]:
        total: Counter[str] = Counter()
        for person in people:
            total[counters.PEOPLE] += 1
            total.update(counters.people_role(role) for role in person.roles)
            total.update(counters.consents(p, "active") for p in ("relay", "openings") if person.consents.get(p, {}).get("given"))
            total.update(kpis.deltas(replace(person, tracks={}, milestones={}, version=None), person))
        return total

    expected = counted(merged) - counted(A, B)
    expected.subtract(counted(A, B) - counted(merged))
    assert {k: v for k, v in expected.items() if v} == deltas


def test_names_fold_across_spaces_width_case_and_kana():
    assert matching.fold("ヤマダ ハナコ") == matching.fold("やまだはなこ") == matching.fold("ﾔﾏﾀﾞ　ﾊﾅｺ")
    assert matching.fold("Ｙａｍａｄａ  Hanako") == "yamadahanako"
    assert matching.name_reading(A) is None  # no reading, no name-and-reading term
    assert matching.reasons(A, B) == ["same phone"]
