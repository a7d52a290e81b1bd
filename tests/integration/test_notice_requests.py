"""What one notice costs in DynamoDB requests (issue 22: at most 5), counted on moto in process with
the bench's counter (bench/counting.py) over a batch of notices of one tenant, as the queue hands them."""
from __future__ import annotations

import json

from bench import counting
from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, sent_mail

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOTICES = 10


def requests_per_notice(client) -> float:
    from datetime import UTC, datetime, timedelta

    from chalicelib.adapters.dynamo.models import connection

    connect(client, "acme", "standard", SECRET)
    client.http.put("/admin/tenants/acme/settings", headers={**ADMIN, "Content-Type": "application/json"},
                    body=json.dumps(SETTINGS))
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for n in range(NOTICES):
        body = json.dumps({"type": "candidate.rejected", "data": {
            "person": {"id": f"c-{n}", "name": "山田 花子", "email": f"c-{n}@example.jp"}, "application_id": f"a-{n}",
            "occurred_at": at, "job": {"id": "j1", "title": "バックエンドエンジニア"}, "stage": "一次面接"}},
            ensure_ascii=False).encode()
        assert client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body).status_code == 202
    recorder = counting.Recorder()
    dynamodb = connection().client
    counting.hook(dynamodb, recorder)
    recorder.enabled = True
    try:
        drain()
    finally:
        recorder.enabled = False
        counting.unhook(dynamodb, recorder)
    assert len(sent_mail()) == NOTICES
    return recorder.total("dynamodb") / NOTICES


def test_a_notice_costs_at_most_5_dynamodb_requests(client):
    """Issue 22's bound: 3 a notice (the view, the claim with its links and the suppression check,
    the record; docs/notices.md), plus the tenant's settings, routing and template once a batch."""
    assert requests_per_notice(client) <= 5


def test_a_notice_costs_no_more_dynamodb_requests_than_measured(client):
    """The guard at today's figure: 3.3 over 10 notices (it was 13, then 7.3 before the claim)."""
    assert requests_per_notice(client) <= 3.5
