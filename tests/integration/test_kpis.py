"""KPIs through the whole store: a random history delivered shuffled and duplicated over HTTP, with
the notices really sent; every KPI recomputed from the people's timelines (as the admin API gives
them) equals what the counters say. (tests/unit/test_kpis_property.py does the same with thousands
of facts on the rules the store applies; in-process moto copies every table on each transaction,
so thousands of facts through it would take many minutes.)"""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain
from tests.kpi_reference import recompute

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KINDS = ["candidate.applied", "candidate.rejected", "candidate.rejection_reverted", "candidate.hired", "employee.exited"]
PEOPLE = int(__import__("os").environ.get("KPI_TEST_PEOPLE", "30"))
NOW = datetime.now(UTC).replace(microsecond=0)


def facts(rng: random.Random, people: int):
    """A plausible history per person: applications, rejections (some undone), hires, exits."""
    out = []
    for p in range(people):
        person = {"id": f"k-{p}", "email": f"k-{p}@example.jp"}
        t = NOW - timedelta(days=rng.randint(3, 25), minutes=rng.randint(0, 1000))
        for a in range(rng.randint(1, 3)):
            app = f"{p}-{a}"
            source_stage = rng.choice(["書類選考", "一次面接", "最終面接", None])
            out.append(("candidate.applied", person, app, t, None, None))
            t += timedelta(hours=rng.randint(1, 48))
            ending = rng.random()
            if ending < 0.55:
                reason = rng.choice(["スキル", "経験", None])
                out.append(("candidate.rejected", person, app, t, source_stage, reason))
                if rng.random() < 0.15:
                    t += timedelta(hours=rng.randint(1, 10))
                    out.append(("candidate.rejection_reverted", person, app, t, None, None))
            elif ending < 0.75:
                out.append(("candidate.hired", person, app, t, None, None))
                if rng.random() < 0.5:
                    t += timedelta(days=rng.randint(1, 3))
                    out.append(("employee.exited", person, f"emp-{p}", t, None, None))
            t += timedelta(hours=rng.randint(1, 72))
    return [f for f in out if f[3] <= NOW - timedelta(minutes=1)]


def message(kind, person, app, at, stage, reason):
    data = {"person": {"id": person["id"], "email": person["email"]}, "application_id": app, "occurred_at": at.isoformat()}
    if stage:
        data["stage"] = stage
    if reason:
        data["reason"] = reason
    return json.dumps({"type": kind, "data": data}, ensure_ascii=False).encode()


@pytest.fixture
def acme(client):
    connect(client, "acme", "standard", SECRET)
    client.http.put("/admin/tenants/acme/settings", headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(SETTINGS))
    return client


def test_counters_match_a_recomputation_from_thousands_of_shuffled_duplicated_facts(acme):
    rng = random.Random(20261125)
    history = facts(rng, PEOPLE)
    deliveries = history + rng.sample(history, len(history) // 5)  # vendors resend a fifth of them
    rng.shuffle(deliveries)
    assert len(deliveries) > 3 * PEOPLE
    for fact in deliveries:
        body = message(*fact)
        assert acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body).status_code == 202
    drain(rounds=500)
    # the tenant's days (ja: Asia/Tokyo); today is its local today, where the notices just sent count
    first, last = (NOW - timedelta(days=40)).date().isoformat(), datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()
    kpis = acme.http.get(f"/admin/tenants/acme/kpis?from={first}&to={last}", headers=ADMIN).json_body
    timelines = {}
    for p in range(PEOPLE):
        found = acme.http.get(f"/admin/tenants/acme/people?email=k-{p}@example.jp", headers=ADMIN).json_body["people"]
        if found:
            timelines[p] = found[0]["timeline"]
    expected = recompute(timelines.values(), first, last)
    assert kpis["current"]["people"] == {k: expected.get(k, 0) for k in kpis["current"]["people"]}
    ratio = lambda n, d: round(expected.get(n, 0) / expected[d], 6) if expected.get(d) else None  # noqa: E731
    assert kpis["current"]["recontact_rate"] == ratio("recontacted", "ended")
    assert kpis["current"]["reapplication_rate"] == ratio("reapplied", "rejected")
    assert kpis["current"]["alumni_reapplication_rate"] == ratio("alumni_returned", "alumni")
    assert kpis["current"]["relations_retained"] == len(timelines)
    assert kpis["current"]["career_relay"]["notices_sent"] == sum(
        [e["type"] for e in t].count("notice_sent") for t in timelines.values())
    # every day of the series, too
    for day in kpis["series"]:
        expected_day = recompute(timelines.values(), day["date"], day["date"])
        assert day["people"] == {k: expected_day.get(k, 0) for k in day["people"]}, day["date"]
    # and per cut: the cuts of rejected people add up to all of them
    by_stage = acme.http.get(f"/admin/tenants/acme/kpis?from={first}&to={last}&by=stage", headers=ADMIN).json_body
    assert sum(cut["people"]["rejected"] for cut in by_stage["cuts"].values() if cut["people"]["rejected"]) >= expected["rejected"]
    by_source = acme.http.get(f"/admin/tenants/acme/kpis?from={first}&to={last}&by=source", headers=ADMIN).json_body
    assert by_source["cuts"]["standard"]["people"]["rejected"] == expected["rejected"]
    for rate in ("recontact_rate", "reapplication_rate", "alumni_reapplication_rate"):
        values = [kpis["current"][rate]] + [d[rate] for d in kpis["series"]]
        assert all(v is None or 0 <= v <= 1 for v in values)


def test_the_publish_job_is_idempotent_per_day(acme, capsys):
    body = message("candidate.rejected", {"id": "x", "email": "x@example.jp"}, "a", NOW - timedelta(hours=1), None, None)
    acme.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)
    first = acme.http.post("/admin/tenants/acme/jobs/kpi_publish", headers=ADMIN).json_body
    printed = capsys.readouterr().out
    second = acme.http.post("/admin/tenants/acme/jobs/kpi_publish", headers=ADMIN).json_body
    again = capsys.readouterr().out
    assert first["status"] == "published" and first["published"] > 0 and second["status"] == "already_published"
    emf = [json.loads(line) for line in printed.splitlines() if '"CloudWatchMetrics"' in line and "RelationsRetained" in line]
    assert emf and emf[0]["tenant"] == "acme" and emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "RelationsHub"
    assert "RelationsRetained" not in again
    local_today = datetime.now(ZoneInfo("Asia/Tokyo")).date()  # the snapshot is dated by the tenant's today
    today = acme.http.get(f"/admin/tenants/acme/kpis?from={local_today}&to={local_today}", headers=ADMIN).json_body
    assert today["series"][0]["relations_retained"] == 1  # the day's snapshot


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=2026-02-01&to=2026-01-01", "by=colour", "from=2020-01-01&to=2026-01-01"])
def test_bad_kpi_queries_are_400(acme, query):
    answer = acme.http.get(f"/admin/tenants/acme/kpis?{query}", headers=ADMIN)
    assert answer.status_code == 400 and set(answer.json_body) == {"error", "message"}


def test_rates_are_null_without_a_denominator(acme):
    current = acme.http.get("/admin/tenants/acme/kpis", headers=ADMIN).json_body["current"]
    assert current["recontact_rate"] is None and current["brand_perception"] is None and current["relations_retained"] == 0
