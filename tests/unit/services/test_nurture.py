"""Nurture: segments and campaigns, the job queueing only what is due, and the mail step sending
only to people who opted in, at most one mail per interval, once however often it is repeated."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.domain.errors import BadRequest, NotFound, PermanentError, RetryableError
from chalicelib.domain.events import iso
from chalicelib.services import Services
from tests.fakes import Clock, OutgoingMail
from tests.unit.services.support import (
    PUBLIC_URL,
    SETTINGS,
    deliver,
    drain,
    handle_notice_message,
    links,
    mailer,
    message,
    outbox,
    person_id,
    profile,
    queues,
)

SEGMENT = "role:rejected AND tag:engineer AND rejected_within:365d AND NOT tag:do-not-contact"


def someone(services: Services, clock: Clock, who: str, *, rejected: datetime | None = None,
            exited: datetime | None = None, tags: tuple[str, ...] = ("engineer",), opted_in: bool = True) -> str:
    """A person known from a rejection or an exit, tagged, who opted in to news of openings."""
    if rejected:
        deliver(services, message("candidate.rejected", rejected, person=who, name=f"{who} さん", application="a1",
                                  stage="一次面接"))
    if exited:
        deliver(services, message("employee.exited", exited, person=who, name=f"{who} さん", application="emp"))
    pid = person_id(services, f"{who}@example.jp")
    assert pid is not None
    if tags:
        services.people.tag_person("acme", pid, {"add": list(tags)})
    if opted_in:  # as the Career Relay page records it
        services.ports.relations.record_decision("acme", pid, {"relay": False, "openings": True},
                                                 at=clock.now() - timedelta(days=1), version="ja-test", score=None,
                                                 token_ref=None, agencies={})
    return pid


def days_ago(clock: Clock, days: float) -> datetime:
    return clock.now() - timedelta(days=days)


def engineers(services: Services) -> None:
    services.nurture.put_segment("acme", "engineers", {"expression": SEGMENT})


def campaign(services: Services, slug: str, segment: str = "engineers", cadence: dict | None = None,
             kind: str = "nurture", **extra: object) -> dict:
    return services.nurture.put_campaign("acme", slug, {"segment": segment, "template_kind": kind,
                                                        "cadence": cadence or {"after": "rejection", "days": 180},
                                                        **extra})


def nurture_mail(services: Services, to: str | None = None) -> list[OutgoingMail]:
    return [m for m in outbox(services) if "募集" in m.subject and (to is None or m.to == to)]


def stats(services: Services, slug: str) -> dict:
    return services.nurture.campaign("acme", slug)["stats"]


# -- segments and campaigns ----------------------------------------------------------------------

def test_a_segment_is_saved_and_counted_through_the_index(services, acme, clock):
    someone(services, clock, "in-1", rejected=days_ago(clock, 200))
    someone(services, clock, "in-2", rejected=days_ago(clock, 20), opted_in=False)  # counted: membership is not consent
    someone(services, clock, "dnc", rejected=days_ago(clock, 200), tags=("engineer", "do-not-contact"))
    someone(services, clock, "old", rejected=days_ago(clock, 400))
    someone(services, clock, "sales", rejected=days_ago(clock, 200), tags=("sales",))
    someone(services, clock, "alum", exited=days_ago(clock, 100))

    saved = services.nurture.put_segment("acme", "engineers", {"expression": SEGMENT})

    assert saved["read_through"] == ["tag:engineer"] and saved["version"] == 1
    assert services.nurture.segment_preview("acme", "engineers") == {
        "segment": "engineers", "expression": SEGMENT, "count": 2, "complete": True, "description": None}
    services.nurture.put_segment("acme", "everyone", {"expression": "role:rejected OR (role:alumni AND exited_within:365d)"})
    assert services.nurture.segment_preview("acme", "everyone")["count"] == 6


@pytest.mark.parametrize("body,needle", [
    ({"expression": "role:rejected AND"}, "position 18: expected a term"),
    ({"expression": "role:rejected AND (tag:a OR tag:b"}, "position 34: expected ')'"),
    ({"expression": "role:rejected AND colour:blue"}, "position 19: unknown field 'colour'"),
    ({"expression": "rejected_within:30d"}, "position 1: every alternative"),
    ({"expression": "NOT tag:x OR tag:y"}, "position 5: every alternative"),
    ({"expression": ""}, "expression must be"),
    ({"expression": 7}, "expression must be"),
    ({"expression": "tag:a", "extra": 1}, "unknown fields"),
])
def test_bad_segments_are_refused_naming_the_position(services, acme, body, needle):
    with pytest.raises(BadRequest) as refused:
        services.nurture.put_segment("acme", "engineers", body)
    assert needle in refused.value.message


def test_unknown_segments_and_campaigns_are_not_found_and_bad_names_refused(services, acme):
    with pytest.raises(NotFound):
        services.nurture.segment_preview("acme", "nope")
    with pytest.raises(NotFound):
        services.nurture.campaign("acme", "nope")
    with pytest.raises(BadRequest):
        services.nurture.segment_preview("acme", "Bad Name")
    with pytest.raises(BadRequest):
        services.nurture.put_segment("acme", "Bad Name", {"expression": "tag:a"})


@pytest.mark.parametrize("body,needle", [
    ({"segment": "engineers", "template_kind": "promo", "cadence": {"after": "rejection", "days": 180}}, "template_kind"),
    ({"segment": "missing", "template_kind": "nurture", "cadence": {"after": "rejection", "days": 180}}, "does not exist"),
    ({"segment": "engineers", "template_kind": "nurture", "cadence": {"after": "rejection"}}, "cadence"),
    ({"segment": "engineers", "template_kind": "nurture", "cadence": {"every": "week", "on": "exit"}}, "cadence.every"),
    ({"segment": "engineers", "template_kind": "nurture", "cadence": "yearly"}, "cadence"),
    ({"segment": "engineers", "template_kind": "nurture", "cadence": {"every": "year", "on": "exit"}, "x": 1}, "unknown"),
])
def test_bad_campaigns_are_refused(services, acme, body, needle):
    engineers(services)

    with pytest.raises(BadRequest) as refused:
        services.nurture.put_campaign("acme", "reengage", body)
    assert needle in refused.value.message


def test_saving_a_campaign_enrols_the_members_who_opted_in(services, acme, clock):
    rejected_at = days_ago(clock, 200)
    someone(services, clock, "silent", rejected=rejected_at, opted_in=False)
    glad = someone(services, clock, "glad", rejected=rejected_at)
    bounced = someone(services, clock, "bounced", rejected=rejected_at)
    engineers(services)

    saved = campaign(services, "reengage")

    assert saved["enrolment"] == {"members": 3, "scheduled": 2, "complete": True} and saved["version"] == 1
    schedules = services.ports.nurture.schedules("acme", "reengage", [glad, bounced])
    assert {s.next_due for s in schedules.values()} == {iso(rejected_at + timedelta(days=180))}
    assert services.ports.nurture.schedule("acme", person_id(services, "silent@example.jp"), "reengage") is None


# -- the job and the mail step -----------------------------------------------------------------------

def test_dispatch_queues_only_the_mail_that_is_due(services, acme, clock):
    due = [someone(services, clock, f"due-{i}", rejected=days_ago(clock, 200 + i)) for i in range(3)]
    for i in range(5):
        someone(services, clock, f"wait-{i}", rejected=days_ago(clock, 10 + i))
    engineers(services)
    assert campaign(services, "reengage")["enrolment"] == {"members": 8, "scheduled": 8, "complete": True}
    queues(services).take("notices")  # the rejection notices of the recent ones

    assert services.nurture.dispatch_nurture("acme") == {"due": 3, "queued": 3}

    queued = queues(services).bodies("notices")
    assert sorted(body["person_id"] for body in queued) == sorted(due)
    assert {body["campaign"] for body in queued} == {"reengage"}
    drain(services)
    assert sorted(m.to for m in nurture_mail(services)) == [f"due-{i}@example.jp" for i in range(3)]


def test_a_nurture_mail_is_sent_once_however_often_the_job_or_the_queue_repeats_it(services, acme, clock):
    pid = someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")

    assert [services.nurture.run_nurture("acme")["queued"] for _ in range(2)] == [1, 1]
    [first, second] = queues(services).bodies("notices")
    assert drain(services) == ["sent", "skipped"]
    assert handle_notice_message(services, first) == "skipped"  # and redelivered after the send

    [mail] = nurture_mail(services)
    assert mail.to == "glad@example.jp" and "glad さん 様" in mail.text
    assert "サンプル株式会社" in mail.text and "東京都千代田区" in mail.text and "配信停止" in mail.text
    assert links(mail)["relay"].startswith("acme.") and mail.unsubscribe_url.startswith(f"{PUBLIC_URL}/u/acme.")
    found = profile(services, "glad@example.jp")
    [entry] = [e for e in found.timeline if e["type"] == "nurture_sent"]
    assert entry["campaign"] == "reengage" and entry["template_kind"] == "nurture"
    assert found.person.last_contact_at == iso(clock.now())
    assert services.ports.counters.totals("acme")["nurture.sent"] == 1
    assert services.ports.nurture.schedule("acme", pid, "reengage").last_outcome == "sent"
    assert stats(services, "reengage") == {"sent": 1, "deferred": 0, "skipped": {}}


def test_a_mail_service_outage_is_retried_and_mails_once(services, acme, clock):
    someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")
    services.nurture.dispatch_nurture("acme")
    [queued] = queues(services).take("notices")
    mailer(services).fail(RetryableError("SES throttled"))

    with pytest.raises(RetryableError):
        handle_notice_message(services, queued)
    assert handle_notice_message(services, queued) == "sent"  # the queue redelivers: the claim is this mail's
    assert len(nurture_mail(services)) == 1


def test_a_refused_mail_passes_the_occurrence_as_mail_refused(services, acme, clock):
    someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")
    services.nurture.dispatch_nurture("acme")
    mailer(services).fail(PermanentError("the address was refused"))

    assert drain(services) == ["mail_refused"]
    assert nurture_mail(services) == []
    assert stats(services, "reengage")["skipped"] == {"mail_refused": 1}


def test_a_template_that_fails_passes_the_occurrence_as_template_error(services, acme, clock):
    someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")
    services.ports.config.put("acme", "template", ("nurture", "ja"), {"subject": "x", "text": "{{ 'x' * 20000000 }}"})
    services.nurture.dispatch_nurture("acme")

    assert drain(services) == ["template_error"]
    assert nurture_mail(services) == [] and outbox(services) == []
    assert stats(services, "reengage")["skipped"] == {"template_error": 1}


def test_people_who_did_not_opt_in_are_not_enrolled_and_suppressed_addresses_not_mailed(services, acme, clock):
    someone(services, clock, "silent", rejected=days_ago(clock, 200), opted_in=False)
    someone(services, clock, "bounced", rejected=days_ago(clock, 200))
    someone(services, clock, "glad", rejected=days_ago(clock, 200))
    services.ports.suppressions.add("acme", "bounced@example.jp", "bounced")
    engineers(services)
    campaign(services, "reengage")

    assert services.nurture.run_nurture("acme")["due"] == 2
    assert sorted(drain(services)) == ["sent", "suppressed"]

    assert [m.to for m in nurture_mail(services)] == ["glad@example.jp"]
    assert stats(services, "reengage") == {"sent": 1, "deferred": 0, "skipped": {"suppressed": 1}}


def test_two_campaigns_due_the_same_day_send_one_mail_and_defer_the_other_for_the_interval(services, acme, clock):
    someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "half-year")
    campaign(services, "five-months", cadence={"after": "rejection", "days": 150})

    for _ in range(2):  # the daily schedule and an admin's click at once: every due mail queued twice
        assert services.nurture.run_nurture("acme")["queued"] == 2
    outcomes = drain(services)

    assert sorted(outcomes) == ["deferred", "sent", "skipped", "skipped"]
    assert len(nurture_mail(services)) == 1
    for _ in range(2):  # the next runs: nothing is due (one was sent, the other waits for the interval)
        assert services.nurture.run_nurture("acme")["due"] == 0
    assert sorted((s["sent"], s["deferred"]) for s in (stats(services, "half-year"), stats(services, "five-months"))) == [
        (0, 1), (1, 0)]

    clock.advance(days=91)  # the interval (90 days by default) has passed
    assert services.nurture.run_nurture("acme")["due"] == 1
    assert drain(services) == ["sent"]
    assert len(nurture_mail(services)) == 2


def test_a_shorter_interval_setting_is_respected(services, acme, clock):
    with pytest.raises(BadRequest):
        services.configuration.put_settings("acme", {**SETTINGS, "nurture_interval_days": 0})
    services.configuration.put_settings("acme", {**SETTINGS, "nurture_interval_days": 30})
    someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "half-year")
    campaign(services, "five-months", cadence={"after": "rejection", "days": 150})
    services.nurture.run_nurture("acme")
    drain(services)

    clock.advance(days=29)
    services.nurture.run_nurture("acme")
    drain(services)
    assert len(nurture_mail(services)) == 1

    clock.advance(days=2)
    services.nurture.run_nurture("acme")
    drain(services)
    assert len(nurture_mail(services)) == 2


def test_opting_out_by_link_or_on_the_relay_page_stops_the_next_yearly_mail(services, acme, clock):
    # GIVEN three alumni whose second leaving anniversary was an hour ago, in a yearly campaign
    exited = clock.now().replace(year=clock.now().year - 2) - timedelta(hours=1)
    for who in ("unsub", "withdraw", "stays"):
        someone(services, clock, who, exited=exited, tags=("alumni-club",))
    services.nurture.put_segment("acme", "alumni", {"expression": "role:alumni AND tag:alumni-club"})
    campaign(services, "anniversary", segment="alumni", cadence={"every": "year", "on": "exit"}, kind="alumni_nurture")
    services.nurture.run_nurture("acme")
    drain(services)
    mails = {m.to.split("@")[0]: m for m in nurture_mail(services)}
    assert sorted(mails) == ["stays", "unsub", "withdraw"]

    # WHEN one clicks the one-click unsubscribe, and one unticks "future openings" on the relay page
    services.relay.unsubscribe(links(mails["unsub"])["unsubscribe"])
    relay = links(mails["withdraw"])["relay"]
    csrf = services.relay.relay_page(relay).info.csrf
    services.relay.decide(relay, {"csrf": csrf}, consent_text=lambda page: "openings")
    assert profile(services, "withdraw@example.jp").person.consents["openings"]["given"] is False

    # THEN the next anniversary mails only the one who stays
    clock.advance(days=366)
    services.nurture.run_nurture("acme")
    drain(services)
    assert [m.to for m in nurture_mail(services)[3:]] == ["stays@example.jp"]
    assert stats(services, "anniversary") == {"sent": 4, "deferred": 0,
                                              "skipped": {"opted_out": 1, "not_opted_in": 1}}


def test_leaving_the_segment_or_being_erased_stops_the_mail(services, acme, clock):
    tagged_off = someone(services, clock, "changed", rejected=days_ago(clock, 200))
    erased = someone(services, clock, "erased", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")
    services.people.tag_person("acme", tagged_off, {"add": ["do-not-contact"]})
    services.people.erase_person("acme", erased)

    assert services.nurture.dispatch_nurture("acme")["due"] == 1  # the erased person's schedule went with them
    assert drain(services) == ["left_segment"]

    assert nurture_mail(services) == []
    assert stats(services, "reengage")["skipped"] == {"left_segment": 1}
    assert services.ports.nurture.schedule("acme", tagged_off, "reengage").next_due is None


def test_an_inactive_campaign_passes_its_due_mail(services, acme, clock):
    someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")
    paused = campaign(services, "reengage", active=False)
    assert paused["enrolment"] is None and paused["version"] == 2

    services.nurture.dispatch_nurture("acme")

    assert drain(services) == ["campaign_inactive"]
    assert nurture_mail(services) == []
    assert services.nurture.run_nurture("acme")["campaigns"] == 0


def test_a_new_rejection_since_the_dispatch_reschedules_the_mail(services, acme, clock):
    pid = someone(services, clock, "twice", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")
    services.nurture.dispatch_nurture("acme")
    [queued] = queues(services).take("notices")
    again = days_ago(clock, 10)
    deliver(services, message("candidate.rejected", again, person="twice", application="a2"))

    assert handle_notice_message(services, queued) == "rescheduled"

    assert nurture_mail(services) == []
    assert services.ports.nurture.schedule("acme", pid, "reengage").next_due == iso(again + timedelta(days=180))


def test_the_job_follows_a_new_rejection(services, acme, clock):
    pid = someone(services, clock, "twice", rejected=days_ago(clock, 100))
    engineers(services)
    campaign(services, "reengage")
    assert services.ports.nurture.schedule("acme", pid, "reengage").next_due == iso(days_ago(clock, 100) + timedelta(days=180))

    deliver(services, message("candidate.rejected", days_ago(clock, 40), person="twice", application="a2"))
    services.nurture.run_nurture("acme")

    assert services.ports.nurture.schedule("acme", pid, "reengage").next_due == iso(days_ago(clock, 40) + timedelta(days=180))


def test_a_message_for_a_moved_occurrence_is_skipped(services, acme, clock):
    pid = someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")

    assert services.nurture.send_nurture("acme", pid, "reengage", iso(days_ago(clock, 1))) == "skipped"
    assert services.nurture.send_nurture("acme", pid, "nosuch", iso(days_ago(clock, 1))) == "skipped"
    assert nurture_mail(services) == []


def test_the_daily_run_serves_every_tenant(services, acme, clock):
    someone(services, clock, "glad", rejected=days_ago(clock, 200))
    engineers(services)
    campaign(services, "reengage")

    [report] = services.nurture.run_all_nurture()

    assert report == {"tenant": "acme", "campaigns": 1, "members": 1, "scheduled": 0, "due": 1, "queued": 1}
