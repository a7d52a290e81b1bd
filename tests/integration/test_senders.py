"""Senders bound to tenants, through the Chalice client on in-process moto: PUT .../settings registers
the sender's domain as an SES identity tagged with the tenant and the stage; another tenant cannot
register it; while SES says pending the notices wait (none failed, none in the dead-letter queue) and
GET .../settings says why; once verified they go out once each. Header fields refuse control characters."""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from freezegun import freeze_time

from chalicelib.adapters import resources
from chalicelib.adapters.senders import SesSenderIdentities
from chalicelib.domain.records import SenderIdentity
from chalicelib.handlers import schedules
from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, sent_mail

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JSON = {**ADMIN, "Content-Type": "application/json"}
TOKENS = ("tokenone", "tokentwo", "tokenthree")


def put_settings(client, tenant, settings=SETTINGS):
    return client.http.put(f"/admin/tenants/{tenant}/settings", headers=JSON, body=json.dumps(settings))


def reject(client, person, tenant="acme"):
    occurred = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": person, "name": "山田 花子", "email": f"{person}@example.jp", "locale": "ja"},
        "application_id": f"app-{person}", "occurred_at": occurred, "job": {"id": "j1", "title": "エンジニア"}}},
        ensure_ascii=False).encode()
    answer = client.http.post(f"/webhooks/{tenant}/standard", headers=standard.sign(body, SECRET), body=body)
    assert answer.status_code == 202, answer.body


def dead_letters() -> int:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=resources.queue_name("test", "notices") + "-dlq")["QueueUrl"]
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def ses_says(monkeypatch):
    """Hold what SES answers about a sender's status (the adapter's one read), as DNS would in AWS."""
    status = {"now": "pending"}
    monkeypatch.setattr(SesSenderIdentities, "lookup",
                        lambda self, domain: SenderIdentity(domain, status["now"], TOKENS))
    return status


def test_put_settings_registers_the_domain_as_an_ses_identity_tagged_with_tenant_and_stage(client):
    answer = put_settings(client, "acme")

    assert answer.status_code == 200
    assert (answer.json_body["sender_domain"], answer.json_body["sender_status"]) == ("example.com", "verified")  # moto
    identity = boto3.client("sesv2").get_email_identity(EmailIdentity="example.com")
    assert {t["Key"]: t["Value"] for t in identity["Tags"]} == {"relations-hub:stage": os.environ["HUB_STAGE"],
                                                                "relations-hub:tenant": "acme"}
    got = client.http.get("/admin/tenants/acme/settings", headers=ADMIN).json_body
    assert got["sender_status"] == "verified" and got["notices_waiting"] == 0


def test_two_tenants_cannot_register_the_same_sender_domain(client):
    assert put_settings(client, "acme").status_code == 200

    for sender in ("careers@example.com", "other@example.com", "news@mail.example.com"):
        answer = put_settings(client, "beta", {**SETTINGS, "sender_email": sender})
        assert answer.status_code == 409 and answer.json_body["error"] == "conflict"
        assert "acme" not in answer.body.decode() and "example.com" not in answer.json_body["message"]
    assert client.http.get("/admin/tenants/beta/settings", headers=ADMIN).status_code == 404
    tags = boto3.client("sesv2").get_email_identity(EmailIdentity="example.com")["Tags"]
    assert {"Key": "relations-hub:tenant", "Value": "acme"} in tags
    assert put_settings(client, "beta", {**SETTINGS, "sender_email": "careers@beta.example.jp"}).status_code == 200


def test_a_pending_sender_keeps_notices_waiting_and_once_verified_they_go_out_once_each(client, ses_says):
    connect(client, "acme", "standard", SECRET)
    answer = put_settings(client, "acme").json_body
    assert answer["sender_status"] == "pending"
    assert answer["dns_records"][0] == {"type": "CNAME", "name": "tokenone._domainkey.example.com",
                                        "value": "tokenone.dkim.amazonses.com"}
    reject(client, "c-1")
    reject(client, "c-2")

    drain()
    assert sent_mail() == [] and dead_letters() == 0
    got = client.http.get("/admin/tenants/acme/settings", headers=ADMIN).json_body
    assert (got["sender_status"], got["notices_waiting"]) == ("pending", 2)
    [person] = client.http.get("/admin/tenants/acme/people?email=c-1@example.jp", headers=ADMIN).json_body["people"]
    export = client.http.get(f"/admin/tenants/acme/people/{person['id']}/export", headers=ADMIN).json_body
    assert [(n["status"], n["waiting"]) for n in export["notices"]] == [("pending", "sender_pending")]
    assert schedules.release_notices() == 0  # still pending: the sweeper leaves them waiting
    drain()
    assert sent_mail() == []

    ses_says["now"] = "verified"  # the DKIM records are published
    with freeze_time(datetime.now(UTC) + timedelta(minutes=5)):
        assert schedules.release_notices() == 2
    drain()
    assert sorted(m["To"] for m in sent_mail()) == ["c-1@example.jp", "c-2@example.jp"]
    with freeze_time(datetime.now(UTC) + timedelta(minutes=10)):
        assert schedules.release_notices() == 0
    drain()
    assert len(sent_mail()) == 2 and dead_letters() == 0
    assert client.http.get("/admin/tenants/acme/settings", headers=ADMIN).json_body["notices_waiting"] == 0


@pytest.mark.parametrize("field,value", [
    ("company_name", "サンプル株式会社\r\nBcc: everyone@example.net"), ("company_name", "Sample\x00Inc"),
    ("company_name", "\u202eelpmaS"), ("contact", "careers@example.com\nX-Injected: 1"),
    ("sender_email", "careers\r\n@example.com"),
])
def test_a_header_field_with_control_characters_is_400_naming_the_field(client, field, value):
    answer = put_settings(client, "acme", {**SETTINGS, field: value})

    assert answer.status_code == 400 and answer.json_body["message"].startswith(field), answer.json_body
    assert client.http.get("/admin/tenants/acme/settings", headers=ADMIN).status_code == 404


def test_an_smtp_tenant_registers_no_ses_identity(client):
    smtp = {**SETTINGS, "mail_transport": "smtp", "smtp": {"host": "93.184.215.14", "port": 587}}  # a public address: egress allows it

    answer = put_settings(client, "acme", smtp)

    assert answer.status_code == 200 and "sender_status" not in answer.json_body
    assert boto3.client("sesv2").list_email_identities()["EmailIdentities"] == []


# -- the SES adapter on moto: what SES says, read as a status ------------------------------------------------

@pytest.mark.parametrize("verification,dkim,expected", [
    ("SUCCESS", "SUCCESS", "verified"), ("PENDING", "PENDING", "pending"), ("TEMPORARY_FAILURE", "PENDING", "pending"),
    ("NOT_STARTED", "NOT_STARTED", "pending"), ("FAILED", "FAILED", "failed"), ("PENDING", "FAILED", "failed"),
])
def test_the_adapter_reads_the_identitys_status(aws, verification, dkim, expected):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    adapter = SesSenderIdentities("test")
    assert adapter.register("acme", "example.com").status == "verified"  # moto verifies at once
    identity = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].email_identities["example.com"]
    identity.verification_status, identity.dkim_attributes["Status"] = verification, dkim
    identity.dkim_attributes["Tokens"] = list(TOKENS)

    assert adapter.lookup("example.com") == SenderIdentity("example.com", expected, TOKENS)
    assert adapter.lookup("gone.example.com").status == "failed"


def test_an_identity_made_outside_the_hub_or_for_another_tenant_is_refused(aws):
    from botocore.stub import Stubber

    from chalicelib.domain.errors import Conflict

    adapter = SesSenderIdentities("prod")
    for tags in ([], [{"Key": "relations-hub:stage", "Value": "prod"}, {"Key": "relations-hub:tenant", "Value": "beta"}],
                 [{"Key": "relations-hub:stage", "Value": "staging"}, {"Key": "relations-hub:tenant", "Value": "acme"}]):
        with Stubber(adapter._ses) as ses:
            ses.add_client_error("create_email_identity", "AlreadyExistsException", http_status_code=400)
            ses.add_response("get_email_identity", {"IdentityType": "DOMAIN", "Tags": tags, "VerifiedForSendingStatus": True},
                             {"EmailIdentity": "example.com"})
            with pytest.raises(Conflict):
                adapter.register("acme", "example.com")
    mine = [{"Key": "relations-hub:stage", "Value": "prod"}, {"Key": "relations-hub:tenant", "Value": "acme"}]
    with Stubber(adapter._ses) as ses:
        ses.add_client_error("create_email_identity", "AlreadyExistsException", http_status_code=400)
        ses.add_response("get_email_identity", {"IdentityType": "DOMAIN", "Tags": mine, "VerifiedForSendingStatus": False,
                                                "DkimAttributes": {"Status": "PENDING", "Tokens": list(TOKENS)}},
                         {"EmailIdentity": "example.com"})
        assert adapter.register("acme", "example.com") == SenderIdentity("example.com", "pending", TOKENS)
    with Stubber(adapter._ses) as ses:  # not tagged with our stage: IAM denies the read
        ses.add_client_error("create_email_identity", "AlreadyExistsException", http_status_code=400)
        ses.add_client_error("get_email_identity", "AccessDeniedException", http_status_code=403)
        with pytest.raises(Conflict):
            adapter.register("acme", "example.com")
