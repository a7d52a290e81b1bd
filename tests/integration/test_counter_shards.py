"""Counter shards (issue 22): a KPI query reads the same DynamoDB requests however many people the
tenant's counters count, every shard of every day summed with the items written before shards."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench import counting


def kpi_requests(hub, tenant: str, people: int) -> tuple[int, dict]:
    from chalicelib.adapters.dynamo.models import connection
    from chalicelib.adapters.dynamo.transaction import Transaction

    now = datetime.now(UTC)
    for n in range(people):  # one rejection a person, over 30 days: every day's items, many shards
        at = (now - timedelta(days=n % 30, hours=1)).isoformat()
        with Transaction() as tx:
            tx.count(tenant, at, {"events.rejected": 1, "people": 1}, person_id=f"p_{n}")
    recorder = counting.Recorder()
    dynamodb = connection().client
    counting.hook(dynamodb, recorder)
    recorder.enabled = True
    try:
        kpis = hub.kpis.kpis(tenant, None, None)
    finally:
        recorder.enabled = False
        counting.unhook(dynamodb, recorder)
    return recorder.total("dynamodb"), kpis


def test_kpi_reads_stay_flat_in_the_people_counted_across_shards(hub):
    few, _ = kpi_requests(hub, "small", 30)
    many, _ = kpi_requests(hub, "large", 600)
    assert few == many
    totals = hub.ports.counters.totals("large")
    assert totals["events.rejected"] == 600 and totals["people"] == 600
    today = datetime.now(UTC).date()
    days = hub.ports.counters.days("large", str(today - timedelta(days=31)), str(today + timedelta(days=1)))
    assert sum(day["events.rejected"] for day in days.values()) == 600
