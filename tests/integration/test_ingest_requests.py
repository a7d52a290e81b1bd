"""What one webhook delivery costs in DynamoDB requests, counted on moto in process with the bench's
counter (bench/counting.py), as `make bench` counts them (bench/ingest.py): at most 2 for a new
event (the read, then the one transaction, the delivery log entry inside it) and at most 1 for a
duplicate (the read; its log entry goes to the deliveries queue). Every delivery is still logged once."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bench import counting
from integrations.sources import standard
from tests.conftest import ADMIN, connect

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVENTS = 10


def body_of(n: int, at: str) -> bytes:
    return json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": f"c-{n}", "name": "山田 花子", "email": f"c-{n}@example.jp"}, "application_id": f"a-{n}",
        "occurred_at": at, "job": {"id": "j1", "title": "バックエンドエンジニア"}, "stage": "一次面接"}},
        ensure_ascii=False).encode()


def test_a_new_event_costs_2_dynamodb_requests_a_duplicate_1_and_each_is_logged_once(client):
    from chalicelib.adapters.dynamo.models import connection
    from tests.integration.test_console_sources import write_queued

    connect(client, "acme", "standard", SECRET)
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    signed = [(body, standard.sign(body, SECRET, msg_id=f"msg_{n}")) for n, body in
              ((n, body_of(n, at)) for n in range(EVENTS + 1))]
    warm_up, *counted = signed
    assert client.http.post("/webhooks/acme/standard", headers=warm_up[1], body=warm_up[0]).status_code == 202
    recorder = counting.Recorder()
    dynamodb = connection().client
    counting.hook(dynamodb, recorder)
    per: dict[str, float] = {}
    try:
        for kind in ("new", "duplicate"):
            recorder.reset()
            recorder.enabled = True
            answers = [client.http.post("/webhooks/acme/standard", headers=headers, body=body) for body, headers in counted]
            recorder.enabled = False
            assert [a.json_body["duplicates"] for a in answers] == [int(kind == "duplicate")] * EVENTS
            per[kind] = recorder.total("dynamodb") / EVENTS
    finally:
        recorder.enabled = False
        counting.unhook(dynamodb, recorder)
    assert per["new"] <= 2, per
    assert per["duplicate"] <= 1, per
    assert write_queued() == EVENTS  # the duplicates' entries, written off the request path
    log = client.http.get("/admin/tenants/acme/sources/standard/deliveries?limit=100", headers=ADMIN).json_body
    outcomes = [d["outcome"] for d in log["deliveries"]]
    assert sorted(outcomes) == ["accepted"] * (EVENTS + 1) + ["duplicate"] * EVENTS
    assert write_queued() == 0  # nothing left over, nothing written twice
