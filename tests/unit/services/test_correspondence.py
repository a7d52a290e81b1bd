"""Correspondence: one notice per rejection or exit however often the queue repeats its message; none
for a reverted rejection, a suppressed or address-less person; SES feedback suppresses addresses."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from chalicelib.domain.errors import PermanentError, RetryableError
from chalicelib.domain.outbox import CLAIM_FOR
from chalicelib.domain.records import JsonDict, SentMail
from tests.fakes import Clock, InMemoryNotices, Memory
from tests.unit.services.support import (
    PUBLIC_URL,
    SECRET,
    SETTINGS,
    ago,
    build,
    deliver,
    drain,
    links,
    mailer,
    message,
    open_acme,
    outbox,
    person_id,
    queues,
    types,
)


def test_a_rejection_is_mailed_once_with_the_relay_link_the_sender_block_and_one_click_unsubscribe(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))

    assert drain(services) == ["sent"]

    [mail] = outbox(services)
    assert mail.to == "c-1@example.jp" and mail.sender == "careers@example.com"
    assert "選考結果のご連絡" in mail.subject
    assert "山田 花子 様" in mail.text and "バックエンドエンジニア" in mail.text
    assert "サンプル株式会社" in mail.text and "東京都千代田区" in mail.text and "配信停止" in mail.text
    tokens = links(mail)
    assert tokens["relay"].startswith("acme.") and len(tokens["relay"].split(".", 1)[1]) >= 22
    assert f"{PUBLIC_URL}/r/{tokens['relay']}" in mail.html
    assert re.fullmatch(rf"{PUBLIC_URL}/u/acme\.[\w-]+", mail.unsubscribe_url)
    assert services.ports.tokens.resolve(tokens["relay"]).purpose == "relay"
    assert services.ports.tokens.resolve(tokens["unsubscribe"]).purpose == "unsubscribe"
    assert types(services, "c-1@example.jp") == ["rejected", "notice_sent"]
    totals = services.ports.counters.totals("acme")
    assert totals["notices.sent"] == 1 and totals["notices.sent.rejection"] == 1


def test_a_redelivered_notice_message_sends_no_second_mail(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    [queued] = queues(services).take("notices")

    outcomes = [services.correspondence.send_notice(**queued) for _ in range(3)]

    assert outcomes == ["sent", "skipped", "skipped"]
    assert len(outbox(services)) == 1
    assert types(services, "c-1@example.jp").count("notice_sent") == 1


class NoticesThatCrashOnce(InMemoryNotices):
    """The container dies after the mail went and before its record is written, once."""

    crashes = 1

    def sent(self, tenant: str, person_id: str, notice: str, *, kind: str, mail: SentMail, entry: JsonDict) -> bool:
        if self.crashes:
            self.crashes -= 1
            raise RetryableError("the Lambda timed out")
        return super().sent(tenant, person_id, notice, kind=kind, mail=mail, entry=entry)


def test_a_message_redelivered_after_a_crash_between_mail_and_record_is_not_mailed_twice():
    clock, memory = Clock(), Memory()
    services = build(clock, memory=memory, notices=NoticesThatCrashOnce(memory, clock=clock))
    open_acme(services)
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    [queued] = queues(services).take("notices")

    with pytest.raises(RetryableError):
        services.correspondence.send_notice(**queued)
    assert services.correspondence.send_notice(**queued) == "sent"  # the queue redelivers

    assert len(outbox(services)) == 1
    assert types(services, "c-1@example.jp").count("notice_sent") == 1


def test_a_notice_another_worker_holds_is_retried_and_mailed_once_when_that_worker_died(services, acme, clock):
    """Two workers with one message (a redelivery while the first still runs, or a twin message):
    the second finds the claim and leaves it to the queue; if the first died, the claim lapses and
    the retry mails once."""
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    [queued] = queues(services).take("notices")
    notices = services.ports.notices
    assert notices.claim(queued["tenant"], queued["person_id"], queued["notice"], email="c-1@example.jp",
                         until=clock.now() + CLAIM_FOR, links=()) == "claimed"  # the first worker, then it dies

    with pytest.raises(RetryableError):
        services.correspondence.send_notice(**queued)
    assert outbox(services) == []
    clock.advance(seconds=CLAIM_FOR.total_seconds() + 1)
    assert services.correspondence.send_notice(**queued) == "sent"
    assert services.correspondence.send_notice(**queued) == "skipped"
    assert len(outbox(services)) == 1


def test_an_address_suppressed_after_the_notice_was_read_is_not_mailed(services, acme, clock):
    """The suppression is checked in the claim's own write, not in a read before it."""
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    [queued] = queues(services).take("notices")
    notices = services.ports.notices
    real_claim = notices.claim

    def bounce_first(*args, **kwargs):
        services.ports.suppressions.add("acme", "c-1@example.jp", "bounced")  # SES feedback lands meanwhile
        return real_claim(*args, **kwargs)

    notices.claim = bounce_first
    assert services.correspondence.send_notice(**queued) == "suppressed"
    assert outbox(services) == []
    assert services.ports.counters.totals("acme")["notices.suppressed"] == 1


def test_a_mail_service_outage_is_retried_by_the_queue_and_mails_once(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    [queued] = queues(services).take("notices")
    mailer(services).fail(RetryableError("SES throttled"))

    with pytest.raises(RetryableError):
        services.correspondence.send_notice(**queued)
    assert outbox(services) == []
    assert services.correspondence.send_notice(**queued) == "sent"
    assert len(outbox(services)) == 1


def test_a_rejection_reverted_before_the_notice_went_out_is_cancelled(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=2)))
    deliver(services, message("candidate.rejection_reverted", ago(clock, minutes=1)))

    assert drain(services) == ["cancelled"]

    assert outbox(services) == []
    assert types(services, "c-1@example.jp") == ["rejected", "rejection_reverted"]
    assert services.ports.counters.totals("acme")["notices.cancelled"] == 1


def test_rejected_again_after_a_reversal_is_announced_once(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=3)))
    deliver(services, message("candidate.rejection_reverted", ago(clock, minutes=2)))
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))

    assert drain(services).count("sent") == 1
    assert len(outbox(services)) == 1


def test_a_suppressed_address_is_not_mailed(services, acme, clock):
    services.ports.suppressions.add("acme", "c-1@example.jp", "bounced")  # stores take normalised addresses
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))

    assert drain(services) == ["suppressed"]
    assert outbox(services) == []
    assert services.ports.counters.totals("acme")["notices.suppressed"] == 1


def test_a_person_without_an_address_is_suppressed(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), email=None))

    assert drain(services) == ["suppressed"]
    assert outbox(services) == []


def test_an_unsubscribed_address_is_never_mailed_again(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=5), application="a1"))
    drain(services)
    services.relay.unsubscribe(links(outbox(services)[0])["unsubscribe"])

    deliver(services, message("candidate.rejected", ago(clock, minutes=1), application="a2"))

    assert drain(services) == ["suppressed"]
    assert len(outbox(services)) == 1
    assert types(services, "c-1@example.jp")[-1] == "consent_withdrawn"


def test_without_mail_settings_the_notice_waits_as_a_retryable_error_until_they_are_stored(services, clock):
    services.intake.connect_source("beta", "standard", SECRET)
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)), tenant="beta")
    [queued] = queues(services).take("notices")

    with pytest.raises(RetryableError):
        services.correspondence.send_notice(**queued)
    assert outbox(services) == []

    services.configuration.put_settings("beta", {**SETTINGS, "sender_email": "careers@beta.example.jp"})
    clock.advance(seconds=1)
    assert services.intake.release_notices(grace_s=0) == 1  # still pending: the sweeper finds it
    assert drain(services) == ["sent"]
    assert len(outbox(services)) == 1


def test_an_exit_sends_an_alumni_farewell_in_the_persons_language(services, acme, clock):
    deliver(services, message("employee.exited", ago(clock, minutes=1), person="e-1", application="emp-1", locale="en"))

    assert drain(services) == ["sent"]

    [mail] = outbox(services)
    assert mail.subject == "Thank you, from everyone at サンプル株式会社"
    assert "/r/acme." in mail.text


def test_a_person_without_a_locale_is_written_to_in_the_tenants_default(services, acme, clock):
    deliver(services, message("employee.exited", ago(clock, minutes=1), locale=None, application="emp-1"))
    drain(services)

    [mail] = outbox(services)
    assert mail.subject == "【サンプル株式会社】これまでありがとうございました"  # the tenant's default_locale: ja
    held = services.ports.relations.held("acme", person_id(services, "c-1@example.jp"))
    assert [(n["kind"], n["status"]) for n in held.notices] == [("alumni_farewell", "sent")]


def test_a_tenant_template_without_the_link_placeholder_still_carries_the_link(services, acme, clock):
    services.configuration.put_template("acme", "rejection", "ja", {
        "subject": "{{ company_name }}より", "text": "{{ person_name }}様\n\nご応募ありがとうございました。"})
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    drain(services)

    [mail] = outbox(services)
    assert mail.subject == "サンプル株式会社より"
    assert re.search(r"/r/acme\.[\w-]+", mail.text)
    assert re.search(rf'href="{PUBLIC_URL}/r/acme\.[\w-]+"', mail.html)
    [entry] = [e for e in services.people.people_by_email("acme", "c-1@example.jp")[0].timeline if e["type"] == "notice_sent"]
    assert entry["template_version"] == 1


# a template that passes its check on the sample data (a 5-character name) and fails on a 4-character one
FAILS_ON_SHORT_NAMES = {"subject": "選考結果", "text": "{{ 1 / (person_name|length - 4) }}"}


def test_a_template_failing_on_a_persons_data_fails_that_notice_for_the_admin_and_the_batch_goes_on(services, acme, clock):
    services.configuration.put_template("acme", "rejection", "ja", FAILS_ON_SHORT_NAMES)
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), person="c-1", name="山田花子"))
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), person="c-2", name="佐藤 次郎"))

    assert sorted(drain(services)) == ["failed", "sent"]  # no exception: the queue does not retry it

    [mail] = outbox(services)
    assert mail.to == "c-2@example.jp"
    held = services.ports.relations.held("acme", person_id(services, "c-1@example.jp"))
    assert [(n["kind"], n["status"], n.get("reason")) for n in held.notices] == [("rejection", "failed", "template_error")]
    assert services.ports.counters.totals("acme")["notices.failed"] == 1
    assert types(services, "c-1@example.jp") == ["rejected"]


def test_a_runaway_stored_template_fails_its_notice_within_the_limits(services, acme, clock):
    """A template stored before the limits (straight through the port): 9M loop iterations."""
    services.ports.config.put("acme", "template", ("rejection", "ja"), {
        "subject": "x", "text": "{% for a in range(3000) %}{% for b in range(3000) %}{% endfor %}{% endfor %}"})
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))

    assert drain(services) == ["failed"]
    assert outbox(services) == []


def test_names_are_escaped_in_html_mail(services, acme, clock):
    services.configuration.put_template("acme", "rejection", "en", {
        "subject": "Hi", "text": "Hi {{ person_name }}", "html": "<p>Hi {{ person_name }}</p>"})
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), name="<script>x</script>", locale="en"))
    drain(services)

    html = outbox(services)[0].html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_notice_of_an_erased_person_is_skipped(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    services.people.erase_person("acme", person_id(services, "c-1@example.jp"))

    assert drain(services) == ["skipped"]
    assert outbox(services) == []


def test_a_permanent_refusal_of_the_mail_service_propagates_and_mails_nothing(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    [queued] = queues(services).take("notices")
    mailer(services).fail(PermanentError("the address was refused"))

    with pytest.raises(PermanentError):
        services.correspondence.send_notice(**queued)
    assert outbox(services) == []


# -- SES feedback ----------------------------------------------------------------------------------

def bounce(tenant: str, address: str, bounce_type: str = "Permanent") -> dict:
    return {"notificationType": "Bounce", "bounce": {"bounceType": bounce_type, "bounceSubType": "General",
                                                    "bouncedRecipients": [{"emailAddress": address}]},
            "mail": {"messageId": "m-1", "destination": [address], "tags": {"tenant": [tenant]}}}


def test_a_hard_bounce_suppresses_the_address_and_the_next_notice_is_not_sent(services, acme, clock):
    assert services.correspondence.mail_feedback(bounce("acme", "C-1@Example.jp")) == 1
    assert services.ports.suppressions.reasons("acme", "c-1@example.jp") == ["bounced"]

    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))

    assert drain(services) == ["suppressed"] and outbox(services) == []


def test_a_complaint_suppresses_the_address(services, acme):
    complaint = {"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "c@example.jp"}]},
                 "mail": {"tags": {"tenant": ["acme"]}}}

    assert services.correspondence.mail_feedback(complaint) == 1
    assert services.ports.suppressions.reasons("acme", "c@example.jp") == ["complained"]


@pytest.mark.parametrize("notification", [
    bounce("acme", "a@example.jp", "Transient"), {"notificationType": "Delivery"}, bounce("", "a@example.jp"), {},
])
def test_soft_bounces_deliveries_and_foreign_messages_suppress_nothing(services, acme, notification):
    assert services.correspondence.mail_feedback(notification) == 0
    assert services.ports.suppressions.reasons("acme", "a@example.jp") == []


def test_a_bounce_is_recorded_once_however_often_ses_repeats_it(services, acme):
    for _ in range(3):
        services.correspondence.mail_feedback(bounce("acme", "a@example.jp"))

    assert services.ports.suppressions.reasons("acme", "a@example.jp") == ["bounced"]


def test_the_unsubscribe_link_of_a_notice_lives_three_years_and_the_relay_link_thirty_days(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    drain(services)
    tokens = links(outbox(services)[0])

    clock.advance(days=31)
    assert services.ports.tokens.resolve(tokens["relay"]) is None
    assert services.ports.tokens.resolve(tokens["unsubscribe"]) is not None
    clock.advance(timedelta(days=3 * 365))
    assert services.ports.tokens.resolve(tokens["unsubscribe"]) is None


def test_510_stuck_notices_of_one_tenant_delay_another_tenants_farewell_by_at_most_one_sweep(services, acme, clock):
    services.intake.connect_source("beta", "standard", SECRET)  # no mail settings: its notices can never go out
    for i in range(510):
        deliver(services, message("candidate.rejected", ago(clock, minutes=30), person=f"s-{i}", application=f"s-{i}"),
                tenant="beta")
    clock.advance(minutes=1)
    deliver(services, message("employee.exited", ago(clock, minutes=1), person="e-1", application="emp-1"))
    queues(services).take("notices")  # the queued messages are lost: only the sweep can find them now
    clock.advance(minutes=5)

    assert services.intake.release_notices() <= 101  # a budget per tenant, not the whole backlog
    swept = queues(services).take("notices")
    assert [m for m in swept if m["tenant"] == "acme"] and len([m for m in swept if m["tenant"] == "beta"]) == 100


def test_a_notice_that_fails_8_times_ends_failed_with_its_reason_and_is_requeued_once_by_the_admin(services, clock):
    services.intake.connect_source("beta", "standard", SECRET)
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)), tenant="beta")
    [queued] = queues(services).take("notices")
    for _ in range(7):
        with pytest.raises(RetryableError):
            services.correspondence.send_notice(**queued)

    assert services.correspondence.send_notice(**queued) == "failed"
    [notice] = services.people.export_person("beta", queued["person_id"])["notices"]
    assert (notice["status"], notice["attempts"], notice["reason"]) == ("failed", 8, "try_again")
    clock.advance(minutes=5)
    assert services.intake.release_notices(grace_s=0) == 0  # out of the outbox

    services.configuration.put_settings("beta", {**SETTINGS, "sender_email": "careers@beta.example.jp"})
    assert services.correspondence.requeue_notices("beta", queued["person_id"]) == {"requeued": 1}
    assert services.correspondence.requeue_notices("beta", queued["person_id"]) == {"requeued": 0}
    clock.advance(seconds=1)
    assert services.intake.release_notices(grace_s=0) == 1
    assert drain(services) == ["sent"] and len(outbox(services)) == 1
