"""Senders bound to tenants: a sender domain is registered for one tenant only; while it is not
verified the tenant's notices wait (pending, with a reason, never failed), and once it is verified
they go out once each. The status is read from the mail service, cached."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.errors import BadRequest, Conflict
from chalicelib.services import Services
from tests.fakes import Clock
from tests.unit.services.support import SECRET, SETTINGS, ago, deliver, drain, identities, message, open_acme, outbox, person_id, queues

BETA = {**SETTINGS, "company_name": "ベータ株式会社", "sender_email": "careers@beta.example.jp"}


def reject(services: Services, clock: Clock, who: str, tenant: str = "acme") -> None:
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), person=who, application=f"app-{who}"), tenant=tenant)


def pending_acme(services: Services) -> str:
    identities(services).hold("example.com")  # SES will wait for the DKIM records
    return open_acme(services)


def sweep(services: Services, clock: Clock) -> tuple[int, int]:
    """The release_notices schedule: waiting notices of verified senders resumed, then due ones queued."""
    resumed = services.correspondence.release_waiting()
    return resumed, services.intake.release_notices(grace_s=0)


# -- one tenant per sender domain ---------------------------------------------------------------------

def test_putting_ses_settings_registers_the_senders_domain_and_answers_the_dns_records(services):
    identities(services).hold("example.com")

    answer = services.configuration.put_settings("acme", SETTINGS)

    tokens = identities(services).tokens("example.com")
    assert identities(services).identities == {"example.com": ("acme", "pending")}
    assert (answer["sender_domain"], answer["sender_status"], answer["notices_waiting"]) == ("example.com", "pending", 0)
    assert answer["dns_records"] == [{"type": "CNAME", "name": f"{t}._domainkey.example.com", "value": f"{t}.dkim.amazonses.com"}
                                     for t in tokens]
    assert services.configuration.settings_answer("acme") == answer


def test_two_tenants_cannot_register_the_same_sender_domain(services, acme):
    for sender in ("careers@example.com", "hr@example.com", "noreply@mail.example.com"):
        with pytest.raises(Conflict) as refused:
            services.configuration.put_settings("beta", {**SETTINGS, "sender_email": sender})
        assert "acme" not in refused.value.message and "example.com" not in refused.value.message
    assert services.configuration.tenant_settings("beta") is None
    assert set(identities(services).identities) == {"example.com"}  # nothing registered for beta

    assert services.configuration.put_settings("beta", BETA)["sender_status"] == "verified"
    assert services.configuration.put_settings("acme", {**SETTINGS, "company_name": "改名"})["sender_status"] == "verified"


def test_a_domain_registered_outside_the_hub_is_refused_and_left_unclaimed(services):
    identities(services).foreign("example.com")

    with pytest.raises(Conflict):
        services.configuration.put_settings("acme", SETTINGS)
    assert services.ports.sender_domains.get("example.com") is None and services.configuration.tenant_settings("acme") is None


def test_smtp_tenants_register_nothing_and_are_never_held(services, clock):
    smtp = {**SETTINGS, "mail_transport": "smtp", "smtp": {"host": "smtp.example.jp", "port": 587}}
    services.intake.connect_source("acme", "standard", SECRET)

    answer = services.configuration.put_settings("acme", smtp)

    assert "sender_status" not in answer and identities(services).identities == {}
    reject(services, clock, "c-1")
    assert drain(services) == ["sent"]


# -- notices wait for a pending sender --------------------------------------------------------------------

def test_a_tenant_with_a_pending_sender_has_waiting_notices_not_failed_ones(services, clock):
    pending_acme(services)
    reject(services, clock, "c-1")
    reject(services, clock, "c-2")

    assert drain(services) == ["waiting", "waiting"]  # no exception: the queue does not retry them into its DLQ

    assert outbox(services) == []
    answer = services.configuration.settings_answer("acme")
    assert (answer["sender_status"], answer["notices_waiting"]) == ("pending", 2)
    for waiting in services.ports.notices.waiting("acme"):
        view = services.ports.notices.view("acme", waiting.person_id, waiting.notice)
        assert (view.status, view.waiting) == ("pending", "sender_pending")
    clock.advance(minutes=10)
    assert sweep(services, clock) == (0, 0)  # still pending: nothing resumed, nothing queued again
    assert queues(services).bodies("notices") == []


def test_once_the_sender_is_verified_the_waiting_notices_go_out_once_each(services, clock):
    pending_acme(services)
    for who in ("c-1", "c-2", "c-3"):
        reject(services, clock, who)
    assert drain(services) == ["waiting"] * 3

    identities(services).verify("example.com")
    clock.advance(minutes=5)
    assert sweep(services, clock) == (3, 3)
    released = queues(services).bodies("notices")
    assert drain(services) == ["sent"] * 3
    assert sorted(m.to for m in outbox(services)) == ["c-1@example.jp", "c-2@example.jp", "c-3@example.jp"]

    clock.advance(minutes=5)
    assert sweep(services, clock) == (0, 0)
    assert [services.correspondence.send_notice(**body) for body in released] == ["skipped"] * 3  # redelivered
    assert len(outbox(services)) == 3
    assert services.configuration.settings_answer("acme")["notices_waiting"] == 0


def test_a_sender_still_pending_a_day_after_registration_is_counted_for_the_operator(services, clock):
    """SenderUnverified (docs/operations.md): tenants with notices waiting for a sender not verified a day on."""
    pending_acme(services)
    reject(services, clock, "c-1")
    assert drain(services) == ["waiting"]
    clock.advance(hours=23)
    assert services.correspondence.senders_overdue() == 0  # pending for less than a day: normal
    clock.advance(hours=2)
    assert services.correspondence.senders_overdue() == 1
    identities(services).verify("example.com")
    clock.advance(minutes=5)
    assert services.correspondence.senders_overdue() == 0  # verified: nothing to tell


def test_a_failed_sender_keeps_the_notices_waiting_with_its_reason(services, clock):
    pending_acme(services)
    identities(services).fail("example.com")
    clock.advance(minutes=2)
    reject(services, clock, "c-1")

    assert drain(services) == ["waiting"]

    [waiting] = services.ports.notices.waiting("acme")
    assert services.ports.notices.view("acme", waiting.person_id, waiting.notice).waiting == "sender_failed"
    assert services.configuration.settings_answer("acme")["sender_status"] == "failed"


def test_settings_stored_before_senders_were_registered_wait_as_unregistered(services, clock):
    services.intake.connect_source("acme", "standard", SECRET)
    services.ports.config.put("acme", "settings", (), {**SETTINGS, "mail_transport": "ses"})  # as an older hub stored them
    reject(services, clock, "c-1")

    assert drain(services) == ["waiting"]
    assert services.configuration.settings_answer("acme")["sender_status"] == "unregistered"

    services.configuration.put_settings("acme", SETTINGS)  # the admin puts them again: registered, verified
    clock.advance(minutes=5)
    assert sweep(services, clock) == (1, 1) and drain(services) == ["sent"]


def test_a_tenant_waits_alone(services, clock):
    pending_acme(services)
    services.intake.connect_source("beta", "standard", SECRET)
    services.configuration.put_settings("beta", BETA)
    reject(services, clock, "c-1")
    reject(services, clock, "b-1", tenant="beta")

    assert sorted(drain(services)) == ["sent", "waiting"]
    assert [m.to for m in outbox(services)] == ["b-1@example.jp"]
    assert services.ports.notices.waiting_tenants() == ["acme"]


# -- the status is read from the mail service, cached --------------------------------------------------

def test_the_status_is_asked_again_only_when_stale(services, clock):
    pending_acme(services)
    settings = services.configuration.mail_settings("acme")
    asked = identities(services).lookups

    for _ in range(5):
        assert services.senders.status("acme", settings) == "pending"
    assert identities(services).lookups == asked  # fresh for a minute

    identities(services).verify("example.com")
    clock.advance(seconds=61)
    assert services.senders.status("acme", settings) == "verified"
    clock.advance(minutes=30)
    assert services.senders.status("acme", settings) == "verified"
    assert identities(services).lookups == asked + 1  # a verified sender is believed for an hour


def test_when_the_mail_service_does_not_answer_the_last_status_read_stands(services, clock):
    open_acme(services)  # verified at once
    settings = services.configuration.mail_settings("acme")
    clock.advance(hours=2)
    identities(services).unavailable(times=3)

    assert services.senders.status("acme", settings) == "verified"
    reject(services, clock, "c-1")
    assert drain(services) == ["sent"]


def test_nurture_mail_of_a_pending_sender_stays_due_for_the_next_run(services, clock):
    pending_acme(services)
    deliver(services, message("candidate.rejected", clock.now() - timedelta(days=200), person="glad"))
    pid = person_id(services, "glad@example.jp")
    services.people.tag_person("acme", pid, {"add": ["engineer"]})
    services.ports.relations.record_decision("acme", pid, {"relay": False, "openings": True},
                                             at=clock.now() - timedelta(days=1), version="ja-test", score=None,
                                             token_ref=None, agencies=[])
    services.nurture.put_segment("acme", "engineers", {"expression": "role:rejected AND tag:engineer"})
    services.nurture.put_campaign("acme", "reengage", {"segment": "engineers", "template_kind": "nurture",
                                                       "cadence": {"after": "rejection", "days": 180}})
    queues(services).take("notices")

    assert services.nurture.run_nurture("acme")["queued"] == 1
    assert drain(services) == ["sender_pending"] and outbox(services) == []

    identities(services).verify("example.com")
    clock.advance(minutes=2)
    assert services.nurture.run_nurture("acme")["queued"] == 1
    assert drain(services) == ["sent"]


# -- settings that reach a mail header ----------------------------------------------------------------------

@pytest.mark.parametrize("field,value", [
    ("company_name", "サンプル株式会社\r\nBcc: everyone@example.net"), ("company_name", "Sample\nInc"),
    ("company_name", "Sample\x00Inc"), ("company_name", "Sample\tInc"), ("company_name", "Sample\x1b[31mInc"),
    ("company_name", "Sample\u2028Inc"), ("company_name", "\u202eelpmaS"), ("company_name", "Sample\x85Inc"),
    ("contact", "careers@example.com\r\nX-Injected: 1"), ("sender_email", "careers\x07@example.com"),
    ("sender_email", "careers@example.com\n"), ("postal_address", "東京都\x00千代田区"),
])
def test_a_settings_field_that_reaches_a_mail_header_refuses_control_characters_naming_the_field(services, field, value):
    with pytest.raises(BadRequest) as refused:
        services.configuration.put_settings("acme", {**SETTINGS, field: value})

    assert refused.value.message.startswith(field)
    assert services.configuration.tenant_settings("acme") is None and identities(services).identities == {}


@pytest.mark.parametrize("sender", ['"a b"@example.com', "a>,<b@example.com", "a@exam_ple.com", "a@-example.com",
                                    "a@example", "a@例え.jp"])
def test_a_sender_the_from_header_cannot_carry_as_is_is_refused(services, sender):
    with pytest.raises(BadRequest, match="sender_email"):
        services.configuration.put_settings("acme", {**SETTINGS, "sender_email": sender})


def test_the_smtp_username_refuses_control_characters_and_the_postal_address_keeps_its_lines(services):
    smtp = {"host": "smtp.example.jp", "port": 587, "username": "hub\r\nRCPT TO:<x@example.net>"}
    with pytest.raises(BadRequest, match="smtp.username"):
        services.configuration.put_settings("acme", {**SETTINGS, "mail_transport": "smtp", "smtp": smtp})

    answer = services.configuration.put_settings("acme", {**SETTINGS, "postal_address": "〒100-0001\r\n東京都千代田区"})
    assert answer["postal_address"] == "〒100-0001\n東京都千代田区"  # body text only: line breaks are kept
