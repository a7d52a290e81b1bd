"""The console step of `make bench` (bench/console.py) on a tiny population in moto: a signed-in
session made through the sessions store, the three pages answered, and the AWS requests of each
page counted by bench/counting.py's hooks. Fast, and never about time (the bench reports time)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bench import console, counting

TENANT = "bench"
SECRET = "whsec_" + "dGlueS1iZW5jaC1jb25zb2xlLXNlY3JldC0wMDAx"


def store(hub, n: int, family: str, given: str, family_kana: str, given_kana: str) -> None:
    from integrations.sources import standard

    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": f"c-{n}", "name": f"{family} {given}", "email": f"c-{n}@example.jp", "family_name": family,
                   "given_name": given, "family_kana": family_kana, "given_kana": given_kana},
        "application_id": f"a-{n}", "occurred_at": at, "job": {"id": "j", "title": "エンジニア"}}}, ensure_ascii=False).encode()
    hub.intake.receive_webhook(TENANT, "standard", standard.sign(body, SECRET, msg_id=f"m-{n}"), body)


def test_the_console_step_counts_each_pages_requests_on_a_tiny_population(client, hub):
    from chalicelib.adapters.dynamo.models import connection

    hub.intake.connect_source(TENANT, "standard", SECRET)
    for n in range(4):
        store(hub, n, *console.name_of(n))  # 佐藤 / 鈴木 / 高橋 / 田中, readings サトウ ...
    console.store_audit_entries(hub, TENANT, 5)
    session_id = console.signed_in(hub, TENANT)
    found = hub.people.find_people(TENANT, {"name": "サト", "limit": "10"}).people
    assert [p.family_kana for p in found] == ["サトウ"]  # the reading prefix finds the named person

    recorder = counting.Recorder()
    dynamodb = connection().client
    counting.hook(dynamodb, recorder)
    try:
        figures = console.measure_pages(client, session_id, TENANT, [p.person_id for p in found], recorder, requests=3)
    finally:
        counting.unhook(dynamodb, recorder)

    assert set(figures) == set(console.PAGES)
    for page in console.PAGES:
        f = figures[page]
        assert f["n"] == 3 and 0 < f["p50_ms"] <= f["p95_ms"] <= f["max_ms"]
        assert f["ddb_requests_per_page"] == f["ddb_reads_per_page"] + f["ddb_writes_per_page"]
        assert f["ddb_requests_per_page"] == sum(n for name, n in f["calls_per_page"].items() if name.startswith("dynamodb."))
    # the search: the session, one index page, the people of that page, the audit entry it writes
    assert figures["search"]["calls_per_page"] == {"dynamodb.GetItem": 1, "dynamodb.Query": 1, "dynamodb.BatchGetItem": 1,
                                                   "dynamodb.PutItem": 1}
    assert figures["audit"]["calls_per_page"] == {"dynamodb.GetItem": 1, "dynamodb.Query": 1}  # session, one page
    assert figures["person"]["ddb_writes_per_page"] == 1  # its person.read audit entry
    assert figures["search"]["example"] == f"/console/t/{TENANT}/people?q=%E3%82%B5%E3%83%88"  # サト
