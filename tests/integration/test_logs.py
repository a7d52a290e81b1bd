"""No personal data in logs or metrics: capture everything a full intake prints."""
from __future__ import annotations

import json

from integrations.sources import standard
from tests.conftest import ADMIN, connect
from tests.integration.test_webhooks import post_greenhouse

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_full_intake_logs_neither_name_nor_email_nor_phone(client, capsys, caplog):
    caplog.set_level("INFO")  # what the functions run at; DEBUG of botocore would print bodies
    connect(client, "acme", "greenhouse", "gh-test-secret-7f3a")
    connect(client, "acme", "standard", SECRET)
    post_greenhouse(client)
    post_greenhouse(client)  # duplicate
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": "c-77", "name": "山田 花子", "email": "hanako.private@example.jp", "phone": "+81-90-1234-5678"},
        "occurred_at": "2026-11-01T10:00:00+09:00", "stage": "面接"}}).encode()
    client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)
    client.http.post("/webhooks/acme/standard", headers={"webhook-signature": "v1,bad"}, body=body)
    client.http.post("/webhooks/acme/standard", headers=standard.sign(b"{bad", SECRET), body=b"{bad")
    client.http.get("/admin/tenants/acme/people?email=hanako.private@example.jp", headers=ADMIN)

    captured = capsys.readouterr()
    printed = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    assert "request served" in printed and "WebhookAccepted" in printed  # the logs and metrics were captured
    for personal in ("Hector", "Porter", "hector.porter", "330-281-8004", "山田", "花子", "hanako.private", "1234-5678",
                     "gh-test-secret-7f3a", SECRET):
        assert personal not in printed, personal
