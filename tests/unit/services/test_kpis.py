"""Kpis: the relationship KPIs over a period with a series per day and cuts, published once a day,
and what the dashboard shows; the counters agree with a recomputation from the timelines."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.people_search import profile_json
from tests.fakes import FakeKpiPublisher
from tests.kpi_reference import recompute
from tests.unit.services.support import ago, deliver, drain, message

DAY = "2026-06-01"  # the fixed clock's today


def publisher(services) -> FakeKpiPublisher:
    found = services.ports.kpi_publisher
    assert isinstance(found, FakeKpiPublisher)
    return found


@pytest.fixture
def history(services, acme, clock):
    """GIVEN two rejections (one re-applying later), an exit that came back, notices sent for the fresh ones."""
    deliver(services, message("candidate.applied", ago(clock, days=20), person="re", application="a1"))
    deliver(services, message("candidate.rejected", ago(clock, days=15), person="re", application="a1", stage="一次面接"))
    deliver(services, message("candidate.applied", ago(clock, days=3), person="re", application="a2"))
    deliver(services, message("candidate.rejected", ago(clock, days=5), person="no", application="a3", reason="経験"))
    deliver(services, message("employee.exited", ago(clock, days=8), person="boom", application="emp"))
    deliver(services, message("candidate.applied", ago(clock, days=2), person="boom", application="a4"))
    drain(services)


def test_kpis_over_a_period_give_the_current_values_and_a_series_per_day(services, history, clock):
    answer = services.kpis.kpis("acme", "2026-05-01", DAY)

    assert (answer["from"], answer["to"]) == ("2026-05-01", DAY)
    assert [day["date"] for day in answer["series"]][:2] == ["2026-05-01", "2026-05-02"] and len(answer["series"]) == 32
    current = answer["current"]
    assert current["people"] == {"ended": 3, "recontacted": 3, "rejected": 2, "reapplied": 1, "alumni": 1,
                                 "alumni_returned": 1}
    assert current["reapplication_rate"] == 0.5 and current["alumni_reapplication_rate"] == 1.0
    assert current["relations_retained"] == 3
    assert current["career_relay"]["notices_sent"] == 3
    by_day = {day["date"]: day["people"] for day in answer["series"]}
    assert by_day["2026-05-17"]["rejected"] == 1 and by_day["2026-05-27"]["rejected"] == 1
    assert by_day["2026-05-24"]["alumni"] == 1 and by_day["2026-05-25"] == dict.fromkeys(by_day["2026-05-25"], 0)


def test_the_default_period_is_the_thirty_days_up_to_today(services, acme):
    answer = services.kpis.kpis("acme", None, None)

    assert (answer["from"], answer["to"], len(answer["series"])) == ("2026-05-03", DAY, 30)


def test_a_period_reads_only_its_own_days(services, history):
    assert services.kpis.kpis("acme", "2026-05-26", DAY)["current"]["people"]["rejected"] == 1


def test_kpis_are_cut_by_source_stage_and_reason(services, history):
    by_stage = services.kpis.kpis("acme", "2026-05-01", DAY, by="stage")
    by_source = services.kpis.kpis("acme", "2026-05-01", DAY, by="source")

    assert by_stage["by"] == "stage"
    assert {value: cut["people"]["rejected"] for value, cut in by_stage["cuts"].items()} == {
        "exit": 0, "none": 1, "一次面接": 1}
    assert by_source["cuts"]["standard"]["people"]["rejected"] == 2
    assert by_source["cuts"]["standard"]["career_relay"]["notices_sent"] is None  # the funnel is not cut
    assert "経験" in services.kpis.kpis("acme", "2026-05-01", DAY, by="reason")["cuts"]


@pytest.mark.parametrize("first,last,by", [
    ("2026-13-01", None, None), ("2026-02-01", "2026-01-01", None), (None, None, "colour"),
    ("2020-01-01", "2026-01-01", None), ("yesterday", None, None),
])
def test_bad_dates_and_cuts_are_bad_requests(services, acme, first, last, by):
    with pytest.raises(BadRequest):
        services.kpis.kpis("acme", first, last, by)


def test_rates_are_null_without_a_denominator(services, acme):
    current = services.kpis.kpis("acme", None, None)["current"]

    assert current["recontact_rate"] is None and current["brand_perception"] is None
    assert current["relations_retained"] == 0


def test_publish_kpis_once_a_day_and_the_publisher_got_the_values(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, hours=1)))

    first = services.kpis.publish_kpis("acme")
    second = services.kpis.publish_kpis("acme")

    assert first["status"] == "published" and first["published"] > 0 and first["date"] == DAY
    assert second == {"tenant": "acme", "date": DAY, "published": 0, "status": "already_published"}
    [(tenant, published)] = publisher(services).published
    assert tenant == "acme" and published == services.kpis.kpis("acme", None, None)["current"]
    assert published["relations_retained"] == 1
    today = services.kpis.kpis("acme", DAY, DAY)
    assert today["series"][0]["relations_retained"] == 1  # the day's snapshot

    clock.advance(days=1)
    assert services.kpis.publish_kpis("acme")["status"] == "published"
    assert len(publisher(services).published) == 2


def test_the_daily_run_publishes_every_tenant(services, acme):
    services.configuration.put_settings("beta", {"company_name": "B", "sender_email": "b@beta.example.jp",
                                                 "postal_address": "Tokyo", "contact": "b@example.com"})

    reports = services.kpis.publish_all_kpis()

    assert [(r["tenant"], r["status"]) for r in reports] == [("acme", "published"), ("beta", "published")]


def test_the_dashboard_shows_the_kpis_each_agencys_slots_and_the_settings(services, acme):
    services.agencies.put_agency("acme", "sandbox", {
        "name": "Sandbox", "legal_name": "Sandbox K.K.", "country": "JP", "endpoint": "https://agency.example.test",
        "auth": {"type": "bearer", "token": "agency-token-1234"}, "data_items": ["name"]})

    data = services.kpis.dashboard("acme")

    assert len(data["series"]) == 30 and "current" in data
    [agency] = data["agencies"]
    assert agency["slug"] == "sandbox" and agency["slots_earned"] == 0 and agency["referrals_sent"] == 0
    assert data["settings"].company_name == "サンプル株式会社"


# -- the counters against a recomputation from the timelines ---------------------------------------------

def facts(rng: random.Random, now: datetime, people: int) -> list[tuple]:
    """A plausible history per person: applications, rejections (some undone), hires, exits."""
    out: list[tuple] = []
    for p in range(people):
        who = f"k-{p}"
        t = now - timedelta(days=rng.randint(3, 25), minutes=rng.randint(0, 1000))
        for a in range(rng.randint(1, 3)):
            app = f"{p}-{a}"
            stage = rng.choice(["書類選考", "一次面接", "最終面接", None])
            out.append(("candidate.applied", who, app, t, None, None))
            t += timedelta(hours=rng.randint(1, 48))
            ending = rng.random()
            if ending < 0.55:
                out.append(("candidate.rejected", who, app, t, stage, rng.choice(["スキル", "経験", None])))
                if rng.random() < 0.15:
                    t += timedelta(hours=rng.randint(1, 10))
                    out.append(("candidate.rejection_reverted", who, app, t, None, None))
            elif ending < 0.75:
                out.append(("candidate.hired", who, app, t, None, None))
                if rng.random() < 0.5:
                    t += timedelta(days=rng.randint(1, 3))
                    out.append(("employee.exited", who, f"emp-{p}", t, None, None))
            t += timedelta(hours=rng.randint(1, 72))
    return [f for f in out if f[3] <= now - timedelta(minutes=1)]


def as_message(kind: str, who: str, app: str, at: datetime, stage: str | None, reason: str | None) -> bytes:
    extra = {key: value for key, value in (("stage", stage), ("reason", reason)) if value}
    return message(kind, at, person=who, application=app, name=None, locale=None, **extra)


@pytest.mark.parametrize("seed", [20261125, 7])
def test_the_counters_match_a_recomputation_from_shuffled_duplicated_facts(services, acme, clock, seed):
    # GIVEN a random history, a fifth of it delivered twice, all of it shuffled, the notices sent
    rng = random.Random(seed)
    history = facts(rng, clock.now(), 30)
    deliveries = history + rng.sample(history, len(history) // 5)
    rng.shuffle(deliveries)
    for fact in deliveries:
        deliver(services, as_message(*fact))
    drain(services)
    first, last = (clock.now() - timedelta(days=40)).date().isoformat(), DAY

    # WHEN the KPIs are read
    kpis = services.kpis.kpis("acme", first, last)

    # THEN they equal what the people's timelines (as the admin API shows them) say
    timelines = []
    for p in range(30):
        found = services.people.people_by_email("acme", f"k-{p}@example.jp")
        if found:
            timelines.append(profile_json(found[0].person, found[0].timeline)["timeline"])
    expected = recompute(timelines, first, last)
    current = kpis["current"]
    assert current["people"] == {k: expected.get(k, 0) for k in current["people"]}
    ratio = lambda n, d: round(expected.get(n, 0) / expected[d], 6) if expected.get(d) else None  # noqa: E731
    assert current["recontact_rate"] == ratio("recontacted", "ended")
    assert current["reapplication_rate"] == ratio("reapplied", "rejected")
    assert current["alumni_reapplication_rate"] == ratio("alumni_returned", "alumni")
    assert current["relations_retained"] == len(timelines)
    assert current["career_relay"]["notices_sent"] == sum([e["type"] for e in t].count("notice_sent") for t in timelines)
    for day in kpis["series"]:
        expected_day = recompute(timelines, day["date"], day["date"])
        assert day["people"] == {k: expected_day.get(k, 0) for k in day["people"]}, day["date"]
    by_source = services.kpis.kpis("acme", first, last, by="source")
    assert by_source["cuts"]["standard"]["people"]["rejected"] == expected["rejected"]
