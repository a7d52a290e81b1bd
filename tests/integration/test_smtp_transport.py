"""Tenants who keep their own mail provider: notices go through their SMTP server (a real one on
loopback here, over TLS with a throwaway CA the hub trusts through SSL_CERT_FILE), temporary refusals
are retried and the mail still goes out once. The password travels only over TLS, only to the
server it was given for, and only to a server the egress policy allows."""
from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from chalicelib.domain.errors import RetryableError
from integrations.egress import EgressPolicy
from integrations.mail import smtp
from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, sent_mail
from tests.fakes import FakeResolver
from tests.localhub import free_port
from tests.tls import authority

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JSON = {**ADMIN, "Content-Type": "application/json"}


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
def ca(tmp_path, monkeypatch):
    """A CA the hub's TLS clients trust (ssl.create_default_context reads SSL_CERT_FILE)."""
    found = authority(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(found.ca_file))
    return found


def mail_server(ca, *, refuse_first: int = 0, implicit: bool = False, require_auth: bool = True):
    """An SMTP server on 127.0.0.1 speaking STARTTLS (or implicit TLS), taking hub/pw; started."""
    mailbox = Mailbox(refuse_first=refuse_first)

    def authenticate(server, session, envelope, mechanism, auth_data):
        mailbox.logins.append(auth_data.login)
        return AuthResult(success=auth_data.login == b"hub" and auth_data.password == b"pw")

    # aiosmtpd offers AUTH only after its own STARTTLS unless told the connection is TLS already
    tls = {"ssl_context": ca.server_context, "server_hostname": "127.0.0.1", "auth_require_tls": False} if implicit else \
        {"tls_context": ca.server_context, "require_starttls": True}
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticate,
                            auth_required=require_auth, **tls)
    controller.start()
    return controller, mailbox


@pytest.fixture
def servers(ca):
    started = []

    def start(**options):
        controller, mailbox = mail_server(ca, **options)
        started.append(controller)
        return controller, mailbox

    yield start
    for controller in started:
        controller.stop()


def rejection(client, person: str = "c-9") -> None:
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": person, "email": f"{person}@example.jp"}, "application_id": f"a-{person}",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}}).encode()
    for _ in range(2):
        client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)


def put_smtp(client, headers=JSON, **smtp_settings):
    settings = {**SETTINGS, "mail_transport": "smtp", "smtp": smtp_settings}
    return client.http.put("/admin/tenants/acme/settings", headers=headers, body=json.dumps(settings))


def test_notices_go_through_the_tenants_smtp_server_once_despite_a_temporary_refusal(client, loopback_egress, servers):
    controller, mailbox = servers(refuse_first=1)
    connect(client, "acme", "standard", SECRET)
    answer = put_smtp(client, host="127.0.0.1", port=controller.port, starttls=True, username="hub", password="pw")
    assert answer.status_code == 200 and answer.json_body["smtp"]["password_stored"] is True
    assert "pw" not in answer.body.decode()
    rejection(client)
    drain()
    assert len(mailbox.messages) == 1 and sent_mail() == []  # not through SES
    assert set(mailbox.logins) == {b"hub"}  # the password came from Secrets Manager, over STARTTLS
    [mail] = mailbox.messages
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and "/r/acme." in mail.get_body(("plain",)).get_content()


def test_a_new_smtp_host_without_a_password_drops_the_stored_one(client, loopback_egress, servers):
    first, first_box = servers()
    second, second_box = servers(require_auth=False)  # the tenant admin's own server takes anything
    connect(client, "acme", "standard", SECRET)
    assert put_smtp(client, host="127.0.0.1", port=first.port, username="hub", password="pw").status_code == 200
    moved = put_smtp(client, host="localhost", port=second.port, username="hub")  # another server, no password

    assert moved.status_code == 200 and moved.json_body["smtp"]["password_stored"] is False
    from chalicelib import wiring
    assert wiring.hub().ports.credentials.smtp_password("acme") is None  # dropped, not just hidden
    rejection(client)
    drain()
    assert len(second_box.messages) == 1 and second_box.logins == []  # the old password never reached it
    assert first_box.messages == [] and first_box.logins == []


def test_a_password_without_tls_is_refused_and_the_stored_one_never_travels_in_clear(client, loopback_egress, servers):
    controller, _ = servers()
    connect(client, "acme", "standard", SECRET)
    refused = put_smtp(client, host="127.0.0.1", port=controller.port, starttls=False, username="hub", password="pw")
    assert refused.status_code == 400 and refused.json_body["error"] == "bad_request"
    assert "TLS" in refused.json_body["message"]
    assert put_smtp(client, host="127.0.0.1", port=controller.port, username="hub", password="pw").status_code == 200
    # the same server with STARTTLS switched off would send the kept password in clear: refused too
    kept = put_smtp(client, host="127.0.0.1", port=controller.port, starttls=False, username="hub")
    assert kept.status_code == 400 and "TLS" in kept.json_body["message"]


def test_the_mailer_speaks_implicit_tls_to_the_checked_address_and_verifies_the_host_name(tmp_path, monkeypatch):
    named = authority(tmp_path, hosts=("mail.example.test",))  # a certificate for the name only
    controller, mailbox = mail_server(named, implicit=True)
    monkeypatch.setattr(smtp, "IMPLICIT_TLS_PORT", controller.port)  # port 465 needs privileges: this port plays it
    resolver = FakeResolver({"mail.example.test": ["127.0.0.1"]})
    policy = EgressPolicy(allow_loopback=True, resolve=resolver)
    trusting = ssl.create_default_context(cafile=str(named.ca_file))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["Message-ID"] = "a@example.com", "b@example.jp", "s", "<m@x>"
    message.set_content("hello")
    try:
        sent = smtp.send(message, host="mail.example.test", port=controller.port, username="hub", password="pw",
                         starttls=False, egress=policy, context=trusting)
        assert sent == "<m@x>" and len(mailbox.messages) == 1 and mailbox.logins == [b"hub"]
        assert resolver.asked == ["mail.example.test"]  # resolved once, by the policy; connected to what it checked
        # the same server by its address: the certificate does not name 127.0.0.1, so nothing is sent
        with pytest.raises(RetryableError):
            smtp.send(message, host="127.0.0.1", port=controller.port, username="hub", password="pw", starttls=False,
                      egress=policy, context=trusting)
        assert mailbox.logins == [b"hub"] and len(mailbox.messages) == 1
    finally:
        controller.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "169.254.169.254", "10.0.0.1", "0x7f000001", "2130706433"])
def test_outside_the_local_stage_a_mail_server_on_a_private_address_is_refused(client, host):
    connect(client, "acme", "standard", SECRET)
    refused = put_smtp(client, host=host, port=587, username="hub", password="pw")
    assert refused.status_code == 400 and refused.json_body["error"] == "egress_refused", refused.body
    assert "pw" not in refused.body.decode()
    from chalicelib import wiring
    assert wiring.hub().ports.credentials.smtp_password("acme") is None
