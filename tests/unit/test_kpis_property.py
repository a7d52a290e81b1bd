"""Thousands of random facts and contacts, shuffled and duplicated, applied with the hub's own rules
(people.apply, kpis.deltas, kpis.route: exactly what the store writes in its transactions); every
KPI computed from the counters equals a recomputation from the timelines, for the whole period,
every day, and every cut total."""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import kpis
from chalicelib.domain.events import ApplicationEvent, ExitEvent, HireEvent, PersonRef, RejectionEvent, RejectionRevertedEvent, iso
from chalicelib.domain.people import apply
from chalicelib.domain.person import Person
from tests.kpi_reference import recompute

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def history(rng: random.Random, people: int) -> list:
    """Facts per person (applications, rejections, some undone, hires, exits) and the hub's mails."""
    out = []
    for p in range(people):
        ref = PersonRef(source=rng.choice(["greenhouse", "lever", "standard"]), vendor_person_id=f"p{p}")
        t = NOW - timedelta(days=rng.randint(1, 60), minutes=rng.randint(0, 1440))
        for a in range(rng.randint(1, 3)):
            app = f"{p}-{a}"
            common = dict(tenant="acme", person=ref, application_id=app)
            out.append(ApplicationEvent(occurred_at=t, **common))
            t += timedelta(hours=rng.randint(1, 96))
            roll = rng.random()
            if roll < 0.55:
                out.append(RejectionEvent(occurred_at=t, stage=rng.choice(["書類", "一次面接", None]),
                                          reason=rng.choice(["skills", None]), by_candidate=rng.random() < 0.1, **common))
                if rng.random() < 0.5:
                    out.append(("contact", f"p{p}", t + timedelta(minutes=rng.randint(1, 600))))
                if rng.random() < 0.15:  # some undone at the rejection's own instant (Greenhouse's unreject)
                    t += timedelta(hours=rng.randint(0, 10))
                    out.append(RejectionRevertedEvent(occurred_at=t, **common))
            elif roll < 0.8:
                out.append(HireEvent(occurred_at=t, **common))
                if rng.random() < 0.6:
                    t += timedelta(days=rng.randint(1, 20))
                    out.append(ExitEvent(occurred_at=t, tenant="acme", person=ref, application_id=f"emp-{p}"))
                    if rng.random() < 0.5:
                        out.append(("contact", f"p{p}", t + timedelta(days=rng.randint(0, 3))))
            t += timedelta(hours=rng.randint(1, 200))
        if rng.random() < 0.2:  # mail long before anything ended does not count as a re-contact
            out.append(("contact", f"p{p}", NOW - timedelta(days=90)))
    return out


def replay(deliveries) -> tuple[dict, dict]:
    people: dict[str, Person] = {}
    seen: set[str] = set()
    counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    timelines: dict[str, list] = defaultdict(list)

    def count(deltas, day):
        routed = kpis.route(deltas, day, "Asia/Tokyo")  # a tenant's zone, as the stores read it
        for item, values in [("TOTAL", routed.total), *((f"DAY#{on}", v) for on, v in routed.days.items())]:
            for name, value in values.items():
                counters[item][name] += value

    def contact(pid, at):
        key = f"contact:{pid}:{iso(at)}"
        if key in seen:
            return
        seen.add(key)
        before = people[pid]
        after = replace(before, last_contact_at=max(before.last_contact_at or "", iso(at)))
        count({"notices.sent": 1, **kpis.deltas(before, after)}, iso(at))
        people[pid] = after
        timelines[pid].append({"type": "notice_sent", "occurred_at": iso(at)})

    def fact(event):
        if event.fact_key() in seen:
            return  # the store's dedupe on the business key
        seen.add(event.fact_key())
        pid = event.person.vendor_person_id
        before = people.get(pid) or Person(tenant="acme", person_id=pid)
        applied = apply(before, event, now=NOW)
        people[pid] = replace(applied.person, version=(before.version or 0) + 1)
        count(applied.counters, iso(event.occurred_at))
        timelines[pid].append(applied.entry)

    deferred = []  # mail can only reach a person the hub knows: in the shuffle it may come first
    for delivery in deliveries:
        if isinstance(delivery, tuple):
            if delivery[1] in people:
                contact(delivery[1], delivery[2])
            else:
                deferred.append(delivery)
        else:
            fact(delivery)
    for _, pid, at in deferred:
        contact(pid, at)
    return counters, timelines


def summed(counters, first: str, last: str) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for item, values in counters.items():
        if item.startswith("DAY#") and first <= item[4:] <= last:
            for name, value in values.items():
                total[name] += value
    return total


def test_thousands_of_facts_in_any_order_give_the_kpis_the_timelines_give():
    rng = random.Random(7)
    facts = history(rng, 800)
    deliveries = facts + rng.sample(facts, len(facts) // 4)  # vendors and queues repeat themselves
    rng.shuffle(deliveries)
    assert len(deliveries) > 3000
    counters, timelines = replay(deliveries)
    first, last = "2026-01-01", "2026-12-31"
    expected = recompute(timelines.values(), first, last)
    got = kpis.compute(summed(counters, first, last), retained=counters["TOTAL"].get("kpi.retained", 0))
    assert got["people"] == {k: expected.get(k, 0) for k in got["people"]}
    assert got["relations_retained"] == len(timelines)
    for name, (num, den) in kpis.RATES.items():
        assert got[name] == (round(expected.get(num, 0) / expected[den], 6) if expected.get(den) else None)
    days = sorted({item[4:] for item in counters if item.startswith("DAY#")})
    for day in days:
        assert kpis.compute(summed(counters, day, day), retained=None)["people"] == \
            {k: recompute(timelines.values(), day, day).get(k, 0) for k in got["people"]}, day
    # every cut of a KPI adds up to the whole
    total = summed(counters, first, last)
    for cut in kpis.CUTS:
        parts = [kpis.compute(total, retained=None, cut=f"{cut}={v}")["people"] for v in kpis.cut_values(total, cut)]
        for name in got["people"]:
            assert sum(p[name] for p in parts) == got["people"][name], (cut, name)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_the_order_of_the_same_facts_never_changes_the_kpi_counters(seed):
    """Totals, and every KPI membership on every day (facts counts sit on their own day anyway)."""
    rng = random.Random(seed)
    facts = history(rng, 12)
    shuffled = facts[:]
    rng.shuffle(shuffled)

    def kpi_view(counters):
        view = {item: {k: v for k, v in values.items() if v and (item == "TOTAL" or (k.startswith("kpi.") and k != "kpi.retained"))}
                for item, values in counters.items()}
        return {item: values for item, values in view.items() if values}

    assert kpi_view(replay(facts)[0]) == kpi_view(replay(shuffled)[0])
