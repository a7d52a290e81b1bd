"""The tenant's time zone through DynamoDB (moto) and the admin API; the Date header of sent mail."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, sent_mail

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JSON = {**ADMIN, "Content-Type": "application/json"}


def rejection(at: str, person: str = "tz-1") -> bytes:
    return json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": person, "email": f"{person}@example.jp", "locale": "ja"}, "application_id": f"{person}-a",
        "occurred_at": at}}).encode()


def open_tenant(client, settings: dict) -> None:
    connect(client, "acme", "standard", SECRET)
    assert client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps(settings)).status_code == 200


def rejected_by_day(client, first: str, last: str) -> dict[str, int]:
    answer = client.http.get(f"/admin/tenants/acme/kpis?from={first}&to={last}", headers=ADMIN)
    assert answer.status_code == 200
    return {day["date"]: day["people"]["rejected"] for day in answer.json_body["series"]}


def test_a_rejection_at_16_utc_on_1_december_counts_on_2_december_for_an_asia_tokyo_tenant(client):
    open_tenant(client, SETTINGS)  # ja: Asia/Tokyo
    assert client.http.get("/admin/tenants/acme/settings", headers=ADMIN).json_body["time_zone"] == "Asia/Tokyo"
    body = rejection("2025-12-01T16:00:00Z")
    assert client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body).status_code == 202

    assert rejected_by_day(client, "2025-12-01", "2025-12-02") == {"2025-12-01": 0, "2025-12-02": 1}


def test_a_utc_tenant_counts_it_on_1_december(client):
    open_tenant(client, {**SETTINGS, "time_zone": "UTC"})
    body = rejection("2025-12-01T16:00:00Z")
    assert client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body).status_code == 202

    assert rejected_by_day(client, "2025-12-01", "2025-12-02") == {"2025-12-01": 1, "2025-12-02": 0}


def test_an_unknown_time_zone_is_a_400_with_a_json_error(client):
    connect(client, "acme", "standard", SECRET)
    answer = client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps({**SETTINGS, "time_zone": "Mars/Base"}))
    assert answer.status_code == 400 and answer.json_body["error"] and "time_zone" in answer.json_body["message"]
    answer = client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps({**SETTINGS, "time_zone": 9}))
    assert answer.status_code == 400


def test_every_sent_mail_has_a_date_header(client):
    open_tenant(client, SETTINGS)
    body = rejection((datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    assert client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body).status_code == 202
    drain()
    [mail] = sent_mail()
    sent = parsedate_to_datetime(mail["Date"])
    assert sent.tzinfo is not None and abs(datetime.now(UTC) - sent) < timedelta(minutes=5)
