"""Tenants who keep their own mail provider: notices go through their SMTP server (a real one on
loopback here), temporary refusals are retried and the mail still goes out once."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, sent_mail
from tests.localhub import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Mailbox:
    def __init__(self, refuse_first: int = 0):
        self.refuse_first, self.messages, self.logins = refuse_first, [], []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_first > 0:
            self.refuse_first -= 1
            return "451 4.3.0 try again later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    mailbox = Mailbox(refuse_first=1)
    def authenticate(server, session, envelope, mechanism, auth_data):
        mailbox.logins.append(auth_data.login)
        return AuthResult(success=auth_data.login == b"hub" and auth_data.password == b"pw")

    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    yield controller, mailbox
    controller.stop()


def test_notices_go_through_the_tenants_smtp_server_once_despite_a_temporary_refusal(client, smtp_server):
    controller, mailbox = smtp_server
    connect(client, "acme", "standard", SECRET)
    settings = {**SETTINGS, "mail_transport": "smtp",
                "smtp": {"host": "127.0.0.1", "port": controller.port, "starttls": False, "username": "hub", "password": "pw"}}
    answer = client.http.put("/admin/tenants/acme/settings", headers={**ADMIN, "Content-Type": "application/json"},
                             body=json.dumps(settings))
    assert answer.status_code == 200 and answer.json_body["smtp"]["password_stored"] is True
    assert "pw" not in answer.body.decode()
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": "c-9", "email": "c-9@example.jp"}, "application_id": "a",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}}).encode()
    for _ in range(2):
        client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)
    drain()
    assert len(mailbox.messages) == 1 and sent_mail() == []  # not through SES
    assert set(mailbox.logins) == {b"hub"}  # the password came from Secrets Manager
    [mail] = mailbox.messages
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and "/r/acme." in mail.get_body(("plain",)).get_content()
