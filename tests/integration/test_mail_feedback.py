"""SES bounces and complaints put the address on the suppression list: never mailed again."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, sent_mail

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def bounce(tenant, address, bounce_type="Permanent"):
    # the shape of SES's notification contents (Bounce), abridged
    return {"notificationType": "Bounce", "bounce": {"bounceType": bounce_type, "bounceSubType": "General",
                                                    "bouncedRecipients": [{"emailAddress": address}]},
            "mail": {"messageId": "m-1", "destination": [address], "tags": {"tenant": [tenant]}}}


def test_a_hard_bounce_suppresses_the_address_and_the_next_notice_is_not_sent(client, hub):
    connect(client, "acme", "standard", SECRET)
    client.http.put("/admin/tenants/acme/settings", headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(SETTINGS))
    sns = client.events.generate_sns_event(message=json.dumps(bounce("acme", "Bounced@Example.jp")), subject="")
    client.lambda_.invoke("ses_feedback", sns)
    assert hub.ports.suppressions.reasons("acme", "bounced@example.jp") == ["bounced"]
    body = json.dumps({"type": "candidate.rejected", "data": {"person": {"id": "b", "email": "bounced@example.jp"},
                       "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}}).encode()
    client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)
    drain()
    assert sent_mail() == []


def test_soft_bounces_deliveries_and_foreign_or_broken_messages_change_nothing(client, hub):
    for message in (json.dumps(bounce("acme", "a@example.jp", "Transient")), json.dumps({"notificationType": "Delivery"}),
                    json.dumps(bounce("", "a@example.jp")), "not json", "[]"):
        client.lambda_.invoke("ses_feedback", client.events.generate_sns_event(message=message, subject=""))
    assert hub.ports.suppressions.reasons("acme", "a@example.jp") == []


def test_a_complaint_suppresses_too(client, hub):
    complaint = {"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "c@example.jp"}]},
                 "mail": {"tags": {"tenant": ["acme"]}}}
    client.lambda_.invoke("ses_feedback", client.events.generate_sns_event(message=json.dumps(complaint), subject=""))
    assert hub.ports.suppressions.reasons("acme", "c@example.jp") == ["complained"]
