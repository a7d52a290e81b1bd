"""Writeback (the ats_field delivery, services/writeback.py) on the fakes: a FakeFieldWriter as
greenhouse, a FakeLinkKeys for the platform's link key, the writeback queue played by hand."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain import delivery
from chalicelib.domain.errors import CredentialsRefused, FieldRefused, RetryableError
from chalicelib.domain.events import ApplicationEvent, PersonRef
from chalicelib.domain.vendors import OpenApplication
from chalicelib.services import Services
from tests.fakes import Clock, FakeFieldWriter, FakeLinkKeys, FakeOnce, FakeQueues
from tests.unit.services.support import PUBLIC_URL, build, fake, open_acme

DELIVERY = {"mode": "ats_field", "field": "career_relay_link", "on_behalf_of": "92120"}
MESSAGE = {"tenant": "acme", "source": "greenhouse", "application_id": "app-1", "person_id": "p-1", "candidate_id": "c-1"}


def opened(clock: Clock, n: int) -> OpenApplication:
    person = PersonRef(source="greenhouse", vendor_person_id=f"c-{n}", name=f"Person {n}", email=f"p{n}@example.com")
    event = ApplicationEvent(tenant="acme", person=person, application_id=f"app-{n}", occurred_at=clock.now() - timedelta(days=2))
    return OpenApplication(event=event, candidate_id=f"c-{n}")


@pytest.fixture
def writer() -> FakeFieldWriter:
    return FakeFieldWriter()


@pytest.fixture
def services(clock: Clock, writer: FakeFieldWriter) -> Services:
    built = build(clock, field_writers={"greenhouse": writer}, answered_links=frozenset({"standard"}))
    open_acme(built)
    built.intake.connect_source("acme", "greenhouse", "gh-secret-for-tests", api_key="harvest-key")
    built.writeback.save_delivery("acme", "greenhouse", built.writeback.check_delivery("greenhouse", DELIVERY))
    fake(built, "queues", FakeQueues).take("writeback")  # the backfill the switch queued
    return built


def status(services: Services) -> dict:
    found = services.ports.config.get("acme", "source_status", ("greenhouse",))
    return dict(found.data) if found is not None else {"status": "ok"}


def token_of(link: str) -> str:
    assert link.startswith(f"{PUBLIC_URL}/r/")
    return link.split("/r/", 1)[1]


def test_a_write_happens_once_per_link_and_a_new_window_writes_a_new_link(services: Services, writer: FakeFieldWriter,
                                                                         clock: Clock) -> None:
    assert services.writeback.handle(MESSAGE) == "written"
    assert services.writeback.handle(MESSAGE) == "written"  # redelivered: the kept result, no second write
    [first] = writer.written
    assert (first.target.application_id, first.target.candidate_id, first.target.field, first.target.on_behalf_of) == (
        "app-1", "c-1", "career_relay_link", "92120")
    info = services.ports.tokens.resolve(token_of(first.value))
    assert info is not None and (info.person_id, info.purpose, info.channel) == ("p-1", "relay", "ats_field")

    clock.advance(days=30)  # the next link window
    assert services.writeback.handle(MESSAGE) == "written"
    assert len(writer.written) == 2 and writer.written[1].value != first.value
    assert services.ports.tokens.resolve(token_of(first.value)) is not None  # the old link lives out its grace


def test_the_link_is_computed_the_same_every_time_and_never_kept_raw(services: Services) -> None:
    link = services.writeback.link("acme", "greenhouse", "app-1", "p-1", "ats_field")
    assert services.writeback.link("acme", "greenhouse", "app-1", "p-1", "ats_field") == link
    key = fake(services, "link_keys", FakeLinkKeys).key
    window = delivery.window(services.ports.clock())
    assert token_of(link) == delivery.link_token(key, "acme", "greenhouse", "app-1", window, "p-1")
    assert services.writeback.link("acme", "greenhouse", "app-2", "p-1", "ats_field") != link
    assert services.writeback.link("acme", "greenhouse", "app-1", "p-2", "ats_field") != link
    assert token_of(link) not in repr(fake(services, "once", FakeOnce).results)  # no once-only record holds it


def test_a_rotated_key_gives_new_links_and_the_old_ones_still_resolve(services: Services) -> None:
    old = services.writeback.link("acme", "standard", "a-1", "p-1", "standard_answer")
    fake(services, "link_keys", FakeLinkKeys).rotate()
    new = services.writeback.link("acme", "standard", "a-1", "p-1", "standard_answer")
    assert new != old
    assert services.ports.tokens.resolve(token_of(old)) is not None and services.ports.tokens.resolve(token_of(new)) is not None


def test_the_backfill_resumes_from_its_cursor(services: Services, writer: FakeFieldWriter, clock: Clock) -> None:
    writer.pages = [[opened(clock, 1)], [opened(clock, 2)], [opened(clock, 3)]]
    queues = fake(services, "queues", FakeQueues)
    first = services.writeback.backfill("acme", "greenhouse", max_pages=2)
    assert (first["pages"], first["queued"], first["done"]) == (2, 2, False) and writer.reads == [None, "1"]
    second = services.writeback.backfill("acme", "greenhouse", max_pages=2)
    assert (second["pages"], second["queued"], second["done"]) == (1, 1, True) and writer.reads == [None, "1", "2"]
    queued = queues.take("writeback")
    assert [m["application_id"] for m in queued] == ["app-1", "app-2", "app-3"]
    assert all(set(m) == {"tenant", "source", "application_id", "person_id", "candidate_id"} for m in queued)  # ids only
    for message in queued:
        assert services.writeback.handle(message) == "written"
    assert len(writer.written) == 3


def test_a_backfill_message_queues_its_next_run_until_done(services: Services, writer: FakeFieldWriter, clock: Clock) -> None:
    writer.pages = [[opened(clock, n)] for n in range(7)]  # more than one run's BACKFILL_PAGES
    queues = fake(services, "queues", FakeQueues)
    assert services.writeback.handle({"backfill": True, "tenant": "acme", "source": "greenhouse"}) == "backfill"
    pending = queues.take("writeback")
    assert [m.get("backfill") for m in pending].count(True) == 1  # the next run, from the stored cursor
    services.writeback.handle(next(m for m in pending if m.get("backfill")))
    assert writer.reads == [None, "1", "2", "3", "4", "5", "6"]
    assert not [m for m in queues.take("writeback") if m.get("backfill")]


def test_429_pauses_the_source_and_the_write_comes_back_after_retry_after(services: Services, writer: FakeFieldWriter,
                                                                          clock: Clock) -> None:
    queues = fake(services, "queues", FakeQueues)
    writer.fail(RetryableError("greenhouse answered 429", retry_after_s=30))
    assert services.writeback.handle(MESSAGE) == "rate_limited"
    [again] = queues.sent.pop("writeback")
    assert again.body == MESSAGE and again.delay_s == 31
    other = {**MESSAGE, "application_id": "app-2"}
    assert services.writeback.handle(other) == "paused" and not writer.written  # the whole source waits
    assert queues.sent.pop("writeback")[0].delay_s > 0
    clock.advance(seconds=31)
    assert services.writeback.handle(MESSAGE) == "written" and status(services)["status"] == "ok"


def test_422_marks_the_source_failing_and_is_not_retried(services: Services, writer: FakeFieldWriter) -> None:
    writer.fail(FieldRefused("greenhouse refused the custom field (422)"))
    assert services.writeback.handle(MESSAGE) == "field_unknown"
    assert status(services) | {"since": None} == {"status": "failing", "reason": "ats_field_unknown", "since": None}
    assert not fake(services, "queues", FakeQueues).sent.get("writeback")


@pytest.mark.parametrize("code", [401, 403])
def test_refused_credentials_mark_the_source_failing_and_the_queue_retries(services: Services, writer: FakeFieldWriter,
                                                                           code: int) -> None:
    writer.fail(CredentialsRefused(f"greenhouse answered {code}", http_status=code))
    with pytest.raises(CredentialsRefused):
        services.writeback.handle(MESSAGE)
    assert status(services)["reason"] == "credentials_refused"
    assert services.writeback.handle(MESSAGE) == "written" and status(services)["status"] == "ok"


def test_a_gone_record_is_dropped(services: Services, writer: FakeFieldWriter) -> None:
    writer.gone = True
    assert services.writeback.handle(MESSAGE) == "gone" and status(services)["status"] == "ok"


def test_a_source_switched_off_skips_its_queued_writes(services: Services, writer: FakeFieldWriter) -> None:
    services.writeback.save_delivery("acme", "greenhouse", services.writeback.check_delivery("greenhouse", {"mode": "hub_notice"}))
    assert services.writeback.handle(MESSAGE) == "skipped" and not writer.written


def run_queue(services: Services) -> None:
    """The write_ats_fields consumer, played until the writeback queue is empty."""
    queues = fake(services, "queues", FakeQueues)
    for _ in range(50):
        waiting = queues.take("writeback")
        if not waiting:
            return
        for message in waiting:
            services.writeback.handle(message)
    raise AssertionError("the writeback queue did not drain")


def test_the_daily_refresh_writes_each_open_applications_link_once_per_window(services: Services, writer: FakeFieldWriter,
                                                                               clock: Clock) -> None:
    writer.pages = [[opened(clock, 1), opened(clock, 2)]]
    first = services.writeback.refresh_all()
    assert first == [{"tenant": "acme", "window": delivery.window(clock.now()), "queued": ["greenhouse"]}]
    run_queue(services)
    links = {w.target.application_id: w.value for w in writer.written}
    assert sorted(links) == ["app-1", "app-2"]

    for _ in range(3):  # the next days of the same window: nothing queued, nothing written
        clock.advance(days=1)
        assert services.writeback.refresh_all()[0]["queued"] == []
        run_queue(services)
    assert len(writer.written) == 2

    clock.advance(days=30)  # a new window: the old links have at most LINK_GRACE left
    assert services.writeback.refresh_all()[0]["queued"] == ["greenhouse"]
    run_queue(services)
    renewed = {w.target.application_id: w.value for w in writer.written[2:]}
    assert sorted(renewed) == ["app-1", "app-2"] and all(renewed[a] != links[a] for a in links)
    for link in renewed.values():
        info = services.ports.tokens.resolve(token_of(link))
        assert info is not None and info.valid_until > (clock.now() + delivery.LINK_GRACE).strftime("%Y-%m-%dT%H:%M:%S")


def test_the_refresh_skips_sources_not_in_ats_field_mode(services: Services, writer: FakeFieldWriter) -> None:
    services.writeback.save_delivery("acme", "greenhouse", services.writeback.check_delivery("greenhouse", {"mode": "hub_notice"}))
    assert services.writeback.refresh_links("acme")["queued"] == []  # nor standard (its links go in the answer)
    assert not fake(services, "queues", FakeQueues).sent.get("writeback")
