"""Intake: webhooks verified, parsed and recorded once; thin notices completed off the request path;
polled sources walked with their cursor; sources connected; the CSV inventory imported."""
from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import (
    BadRequest,
    HubError,
    PayloadError,
    PayloadTooLarge,
    PermanentError,
    RetryableError,
    SignatureError,
    UnknownSource,
    UnknownTenant,
    Unverified,
)
from chalicelib.domain.events import Lookup
from chalicelib.services import Services
from integrations import registry
from integrations.sources import greenhouse, standard
from tests import fakevendor
from tests.conftest import load_fixture, source_fixtures
from tests.contract.test_sources import mutated_fixture
from tests.fakes import Clock, FakeCredentials, FakeVendorApi, FakeVendorApis
from tests.unit.services.support import SECRET, ago, build, deliver, drain, message, open_acme, outbox, person_id, profile, queues, types

VENDOR_SECRET = "acme-ats-secret"
GREENHOUSE_SECRET = "gh-test-secret-7f3a"
APPLICATION = {"id": "a1", "candidate_id": "c1", "status": "rejected", "archived_at": "2026-05-20T10:00:00Z",
               "reason": "Position filled", "name": "Test Person", "email": "c1@example.com"}


def credentials(services: Services) -> FakeCredentials:
    found = services.ports.credentials
    assert isinstance(found, FakeCredentials)
    return found


# -- webhooks ---------------------------------------------------------------------------------------

def test_a_signed_rejection_is_recorded_with_its_person_and_timeline(services, acme, clock):
    receipt = deliver(services, message("candidate.rejected", ago(clock, minutes=1), reason="経験"))

    assert receipt.to_json() == {"accepted": 1, "ignored": 0, "duplicates": 0}
    found = profile(services, "C-1@Example.JP")
    assert found.person.roles == ("rejected",) and found.person.name == "山田 花子"
    assert found.person.identities == ("standard:c-1",)
    [entry] = found.timeline
    assert entry["type"] == "rejected" and entry["source"] == "standard" and entry["job_title"] == "バックエンドエンジニア"
    assert services.ports.counters.totals("acme")["events.rejected"] == 1


def test_a_redelivered_webhook_is_a_duplicate(services, acme, clock):
    body = message("candidate.rejected", ago(clock, minutes=1))

    receipts = [deliver(services, body, msg_id="msg_1") for _ in range(5)]

    assert [r.duplicates for r in receipts] == [0, 1, 1, 1, 1]
    assert types(services, "c-1@example.jp") == ["rejected"]
    totals = services.ports.counters.totals("acme")
    assert totals["events.rejected"] == 1 and totals["people.role.rejected"] == 1
    assert len(queues(services).bodies("notices")) == 1  # its notice is announced once


def test_the_same_fact_under_new_delivery_ids_or_reserialised_is_one_fact(services, acme, clock):
    body = message("candidate.rejected", ago(clock, minutes=1))
    assert [deliver(services, body, msg_id=f"msg_{i}").duplicates for i in range(3)] == [0, 1, 1]

    reformatted = json.dumps(json.loads(body), indent=2).encode()  # other bytes, the same fact
    assert deliver(services, reformatted).duplicates == 1
    assert types(services, "c-1@example.jp") == ["rejected"]
    assert services.ports.counters.totals("acme")["events.rejected"] == 1


@pytest.mark.parametrize("seed", range(4))
def test_a_shuffled_replay_of_reject_revert_reject_converges(services, acme, clock, seed):
    facts = [message("candidate.rejected", ago(clock, minutes=30)),
             message("candidate.rejection_reverted", ago(clock, minutes=20)),
             message("candidate.rejected", ago(clock, minutes=10))]
    deliveries = [(body, f"msg_{i}") for i, body in enumerate(facts)] * 3
    random.Random(seed).shuffle(deliveries)

    for body, msg_id in deliveries:
        deliver(services, body, msg_id=msg_id)

    found = profile(services, "c-1@example.jp")
    assert [e["type"] for e in found.timeline] == ["rejected", "rejection_reverted", "rejected"]
    assert found.person.roles == ("rejected",)
    totals = services.ports.counters.totals("acme")
    assert (totals["events.rejected"], totals["events.rejection_reverted"]) == (2, 1)
    assert totals["people.role.rejected"] == 1 and totals.get("people.role.applicant", 0) == 0


def test_a_revert_arriving_last_leaves_an_applicant(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=2)))
    deliver(services, message("candidate.rejection_reverted", ago(clock, minutes=1)))

    assert profile(services, "c-1@example.jp").person.roles == ("applicant",)


def test_the_same_human_from_two_applications_is_one_person(services, acme, clock):
    deliver(services, message("candidate.applied", ago(clock, days=3), application="a1"))
    deliver(services, message("candidate.rejected", ago(clock, days=1), application="a2"))

    [found] = services.people.people_by_email("acme", "c-1@example.jp")
    assert found.person.roles == ("applicant", "rejected")


def test_event_types_the_hub_does_not_use_are_acknowledged_and_ignored(services, acme, clock):
    receipt = deliver(services, message("candidate.interview_scheduled", ago(clock, minutes=1)))

    assert receipt.to_json() == {"accepted": 0, "ignored": 1, "duplicates": 0}
    assert services.people.people_by_email("acme", "c-1@example.jp") == []


def test_a_bad_signature_raises_signature_error_and_records_nothing(services, acme, clock):
    body = message("candidate.rejected", ago(clock, minutes=1))

    with pytest.raises(SignatureError):
        deliver(services, body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    with pytest.raises(SignatureError):
        services.intake.receive_webhook("acme", "standard", {}, body)

    assert services.people.people_by_email("acme", "c-1@example.jp") == []
    assert deliver(services, body).duplicates == 0  # a genuine delivery after the bad ones is kept


def test_a_secret_rotated_in_another_container_is_found_on_a_fresh_read_within_a_minute(services, acme, clock):
    deliver(services, message("candidate.applied", ago(clock, minutes=5)))  # this container caches the secret
    rotated = standard.new_secret()
    credentials(services).rotated_elsewhere("acme", "standard", rotated)
    with pytest.raises(SignatureError):  # read less than a minute ago: not read again (a flood costs nothing)
        deliver(services, message("candidate.rejected", ago(clock, minutes=1)), secret=rotated)
    clock.advance(minutes=1)

    receipt = deliver(services, message("candidate.rejected", ago(clock, minutes=1)), secret=rotated)

    assert receipt.accepted == 1
    assert types(services, "c-1@example.jp") == ["applied", "rejected"]


def test_a_rotated_secret_keeps_the_previous_one_valid_for_retries_in_flight(services, acme, clock):
    rotated = standard.new_secret()
    services.intake.connect_source("acme", "standard", rotated)

    assert deliver(services, message("candidate.applied", ago(clock, minutes=5))).accepted == 1  # the old secret
    assert deliver(services, message("candidate.rejected", ago(clock, minutes=1)), secret=rotated).accepted == 1
    clock.advance(hours=25)  # the grace of the previous secret is over
    with pytest.raises(SignatureError):
        deliver(services, message("candidate.hired", ago(clock, minutes=1), application="a2"))


def test_each_tenant_sees_only_its_people_and_its_secret(services, acme, clock):
    other_secret = standard.new_secret()
    services.intake.connect_source("other", "standard", other_secret)
    body = message("candidate.rejected", ago(clock, minutes=1))
    deliver(services, body)

    assert services.people.people_by_email("other", "c-1@example.jp") == []
    with pytest.raises(SignatureError):
        deliver(services, body, tenant="other")  # signed with acme's secret


def test_a_body_over_one_mebibyte_is_refused_before_anything_else(services, acme):
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'

    with pytest.raises(PayloadTooLarge):
        services.intake.receive_webhook("acme", "standard", standard.sign(body, SECRET), body)


def test_malformed_json_signed_correctly_is_a_payload_error(services, acme):
    body = b'{"type": "candidate.rejected", "data": '

    with pytest.raises(PayloadError):
        deliver(services, body)


@pytest.mark.parametrize("tenant,source,reason", [
    ("acme", "nosuchvendor", "unknown_source"),
    ("nobody", "standard", "unknown_tenant"),      # never connected
    ("Bad_Tenant!", "standard", "unknown_tenant"),  # not a tenant name at all
    ("acme", "greenhouse", "unknown_tenant"),       # a known source this tenant has not connected
])
def test_unknown_sources_and_tenants_are_refused_exactly_like_a_bad_signature(services, acme, clock, tenant, source, reason):
    body = message("candidate.rejected", ago(clock, minutes=1))
    with pytest.raises(Unverified) as bad_signature:
        deliver(services, body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    with pytest.raises(Unverified) as unknown:
        services.intake.receive_webhook(tenant, source, standard.sign(body, SECRET), body)

    assert (unknown.value.status, unknown.value.code, unknown.value.message) == \
        (bad_signature.value.status, bad_signature.value.code, bad_signature.value.message) == \
        (401, "invalid_signature", "the delivery could not be verified")
    assert (unknown.value.reason, bad_signature.value.reason) == (reason, "invalid_signature")  # for the logs only


@pytest.mark.parametrize("tenant", ["acme", "nobody"])
def test_twenty_bad_deliveries_cost_one_credentials_read_a_minute(services, acme, clock, tenant):
    body = message("candidate.rejected", ago(clock, minutes=1))
    forged = standard.sign(body, "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    clock.advance(minutes=5)  # nothing cached: the connection was stored long ago
    for _ in range(20):
        with pytest.raises(Unverified):
            services.intake.receive_webhook(tenant, "standard", forged, body)
        clock.advance(seconds=2)

    assert credentials(services).reads[(tenant, "standard")] == 1  # found or not, kept; the fresh read waits a minute
    for _ in range(20):
        with pytest.raises(Unverified):
            services.intake.receive_webhook(tenant, "standard", forged, body)
        clock.advance(seconds=2)
    assert credentials(services).reads[(tenant, "standard")] == 2  # the next minute: one more


def test_revoke_previous_ends_the_replaced_secret_at_once(services, acme, clock):
    rotated = standard.new_secret()
    services.intake.connect_source("acme", "standard", rotated, revoke_previous=True)

    with pytest.raises(SignatureError):
        deliver(services, message("candidate.applied", ago(clock, minutes=1)))  # the old (leaked) secret
    assert deliver(services, message("candidate.rejected", ago(clock, minutes=1)), secret=rotated).accepted == 1


def test_revoke_previous_also_ends_a_secret_still_in_its_grace(services, acme, clock):
    second, third = standard.new_secret(), standard.new_secret()
    services.intake.connect_source("acme", "standard", second)  # SECRET verifies for a day
    services.intake.connect_source("acme", "standard", third, revoke_previous=True)

    for old in (SECRET, second):
        with pytest.raises(SignatureError):
            deliver(services, message("candidate.applied", ago(clock, minutes=1)), secret=old)


@pytest.mark.parametrize("source,fields,needle", [
    ("standard", {"webhook_secret": SECRET, "revoke_previous": "yes"}, "revoke_previous"),
    ("standard", {"webhook_secret": SECRET, "revoke_previous": 1}, "revoke_previous"),
    ("herp", {"api_key": "k", "revoke_previous": True}, "polled"),
])
def test_revoke_previous_is_a_boolean_for_webhook_sources(services, source, fields, needle):
    with pytest.raises(BadRequest, match=needle):
        services.intake.connect_source("acme", source, **fields)


# -- notices announced --------------------------------------------------------------------------------

def test_a_notice_is_queued_at_once_when_there_is_no_delay(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))

    [queued] = queues(services).sent["notices"]
    assert queued.delay_s == 0
    assert queued.body == {"tenant": "acme", "person_id": person_id(services, "c-1@example.jp"),
                           "notice": queued.body["notice"]}


def test_a_notice_is_announced_with_the_configured_delay():
    clock = Clock()
    services = build(clock, notice_delay=timedelta(minutes=5))
    open_acme(services)

    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))

    assert [m.delay_s for m in queues(services).sent["notices"]] == [300]


def test_an_exit_effective_within_fifteen_minutes_waits_on_the_queue_until_then(services, acme, clock):
    deliver(services, message("employee.exited", clock.now() + timedelta(minutes=10), application="emp-1"))

    assert [m.delay_s for m in queues(services).sent["notices"]] == [600]


def test_a_notice_due_beyond_fifteen_minutes_is_not_announced_and_the_sweeper_sends_it_then(services, acme, clock):
    effective = clock.now() + timedelta(days=10)
    deliver(services, message("employee.exited", effective, application="emp-1", locale="en"))

    assert queues(services).bodies("notices") == []
    assert services.intake.release_notices() == 0
    clock.set(effective + timedelta(minutes=5))
    assert services.intake.release_notices() == 1
    assert drain(services) == ["sent"]
    assert services.intake.release_notices() == 0
    [mail] = outbox(services)
    assert mail.subject == "Thank you, from everyone at サンプル株式会社"


def test_a_notice_lost_on_the_way_to_the_queue_is_released_by_the_sweeper(services, acme, clock):
    queues(services).fail("notices")

    receipt = deliver(services, message("candidate.rejected", ago(clock, minutes=1)))

    assert receipt.accepted == 1 and queues(services).bodies("notices") == []  # stored as pending all the same
    clock.advance(minutes=3)
    assert services.intake.release_notices() == 1
    assert drain(services) == ["sent"] and len(outbox(services)) == 1
    assert services.intake.release_notices(grace_s=0) == 0


@pytest.mark.parametrize("body", [
    pytest.param(lambda clock: message("candidate.rejected", ago(clock, minutes=1), by_candidate=True), id="declined"),
    pytest.param(lambda clock: message("candidate.rejected", ago(clock, days=90)), id="old_backlog"),
    pytest.param(lambda clock: message("candidate.applied", ago(clock, minutes=1)), id="no_notice_kind"),
])
def test_facts_that_earn_no_notice_queue_nothing(services, acme, clock, body):
    deliver(services, body(clock))

    assert queues(services).bodies("notices") == []
    clock.advance(days=1)
    assert services.intake.release_notices() == 0


# -- thin notices -------------------------------------------------------------------------------------

@pytest.fixture
def vendor(services, acme) -> FakeVendorApi:
    services.intake.connect_source("acme", fakevendor.NAME, VENDOR_SECRET, "vendor-key", "https://api.acme-ats.example/api")
    apis = services.ports.vendor_apis
    assert isinstance(apis, FakeVendorApis)
    return apis.api(fakevendor.NAME)


def notify(services: Services, delivery_id: str = "d1", application_id: str = "a1", tenant: str = "acme"):
    body = json.dumps({"event": "application.archived", "id": delivery_id, "application_id": application_id}).encode()
    return services.intake.receive_webhook(tenant, fakevendor.NAME, fakevendor.sign(body, VENDOR_SECRET), body)


def enrich_queued(services: Services) -> list[int]:
    return [services.intake.enrich(Lookup.from_json(body)) for body in queues(services).take("enrich")]


def test_a_thin_notice_is_queued_once_for_enrichment_and_nothing_is_fetched_on_the_request_path(services, vendor):
    receipts = [notify(services) for _ in range(3)]  # the vendor retries

    assert [r.duplicates for r in receipts] == [0, 1, 1]
    [lookup] = queues(services).bodies("enrich")
    assert lookup["resource_id"] == "a1" and lookup["delivery_id"] == "d1" and "email" not in json.dumps(lookup)
    assert vendor.calls == [] and types(services, "c1@example.com") == []


def test_when_the_enrich_queue_fails_the_delivery_is_unmarked_so_the_vendors_retry_is_taken(services, vendor):
    queues(services).fail("enrich")

    with pytest.raises(RetryableError):
        notify(services)
    assert queues(services).bodies("enrich") == []

    assert notify(services).duplicates == 0  # the vendor's retry
    assert len(queues(services).bodies("enrich")) == 1


def test_enrichment_records_the_fetched_events_once(services, vendor):
    vendor.script("GET", "/applications/a1", APPLICATION)
    notify(services)
    [lookup] = queues(services).bodies("enrich")

    assert enrich_queued(services) == [1]
    assert services.intake.enrich(Lookup.from_json(lookup)) == 0  # the queue redelivers the message

    assert types(services, "c1@example.com") == ["rejected"]
    assert len(queues(services).bodies("notices")) == 1  # the completed rejection earned its notice, once
    assert [(method, path) for method, path, _ in vendor.calls] == [("GET", "/applications/a1")] * 2
    assert vendor.base_url == "https://api.acme-ats.example/api"
    assert vendor.headers == {"Authorization": "Bearer vendor-key"}


def test_a_vendor_fault_during_enrichment_propagates_so_the_queue_retries(services, vendor):
    vendor.script("GET", "/applications/a1", RetryableError("503 from the vendor"), APPLICATION)
    notify(services)
    [lookup] = queues(services).take("enrich")

    with pytest.raises(RetryableError):
        services.intake.enrich(Lookup.from_json(lookup))
    assert services.intake.enrich(Lookup.from_json(lookup)) == 1
    assert types(services, "c1@example.com") == ["rejected"]


def test_a_fetched_state_the_hub_does_not_act_on_records_nothing(services, vendor):
    vendor.script("GET", "/applications/a1", {**APPLICATION, "status": "hired"})
    notify(services)

    assert enrich_queued(services) == [0]
    assert services.people.people_by_email("acme", "c1@example.com") == []


def test_enrichment_of_a_source_without_thin_notices_is_refused(services, acme):
    with pytest.raises(UnknownSource):
        services.intake.enrich(Lookup(tenant="acme", source="standard", resource="application", resource_id="a1"))


# -- polling ------------------------------------------------------------------------------------------

def page(items: list[dict], next_cursor: str | None, more: bool) -> dict:
    return {"items": items, "next": next_cursor, "has_more": more}


def applicant(n: int) -> dict:
    return {**APPLICATION, "id": f"a{n}", "candidate_id": f"c{n}", "email": f"c{n}@example.com"}


def cursors_asked(vendor: FakeVendorApi) -> list[str]:
    return [kwargs["params"]["after"] for method, path, kwargs in vendor.calls if path == "/changes"]


def test_polling_walks_the_pages_and_resumes_from_the_stored_cursor(services, vendor):
    vendor.script("GET", "/changes", page([applicant(1), applicant(2)], "p2", True), page([applicant(3)], "p3", False),
                  page([], "p3", False))

    first = [r.to_json() for r in services.intake.poll_sources("acme")]
    second = [r.to_json() for r in services.intake.poll_sources("acme")]

    assert first == [{"source": "acme_ats", "pages": 2, "events": 3, "new": 3, "stopped": "done"}]
    assert second == [{"source": "acme_ats", "pages": 1, "events": 0, "new": 0, "stopped": "done"}]
    assert cursors_asked(vendor) == ["", "p2", "p3"]
    assert types(services, "c3@example.com") == ["rejected"]


def test_polling_the_same_window_again_records_nothing_twice(services, vendor):
    vendor.script("GET", "/changes", page([applicant(1)], None, False))

    assert services.intake.poll_sources("acme")[0].new == 1
    assert services.intake.poll_sources("acme")[0].new == 0
    assert types(services, "c1@example.com") == ["rejected"]


def test_polling_stops_when_the_vendor_rate_limit_is_spent(services, vendor):
    vendor.script("GET", "/changes", page([applicant(1)], "p2", True), headers={"X-Remaining": "0"})

    [report] = services.intake.poll_sources("acme")

    assert (report.pages, report.new, report.stopped) == (1, 1, "rate_limited")
    assert services.ports.tenants.poll_state("acme", "acme_ats").cursor == "p2"


def test_polling_stops_at_the_page_budget_with_the_cursor_saved(services, vendor):
    vendor.script("GET", "/changes", *[page([applicant(n)], f"p{n + 1}", True) for n in range(1, 10)])

    [report] = services.intake.poll_sources("acme", max_pages=3)

    assert (report.pages, report.events, report.stopped) == (3, 3, "budget")
    assert services.ports.tenants.poll_state("acme", "acme_ats").cursor == "p4"
    services.intake.poll_sources("acme", max_pages=1)
    assert cursors_asked(vendor)[-1] == "p4"


def test_a_run_that_lost_the_cursor_race_stops_busy(services, vendor):
    tenants = services.ports.tenants

    def another_run_moves_the_cursor(call: dict) -> dict:
        tenants.save_poll_state("acme", "acme_ats", "theirs", tenants.poll_state("acme", "acme_ats").version)
        return page([applicant(1)], "mine", True)

    vendor.script("GET", "/changes", another_run_moves_the_cursor)

    [report] = services.intake.poll_sources("acme")

    assert (report.pages, report.new, report.stopped) == (1, 1, "busy")
    assert tenants.poll_state("acme", "acme_ats").cursor == "theirs"  # the other run's cursor stands


def test_a_failing_vendor_is_reported_and_the_cursor_kept(services, vendor):
    vendor.script("GET", "/changes", page([applicant(1)], "p2", True), RetryableError("502 from the vendor"),
                  page([applicant(2)], "p3", False))

    [report] = services.intake.poll_sources("acme")
    assert report.to_json() == {"source": "acme_ats", "pages": 0, "events": 0, "new": 0, "stopped": "partner_failed"}
    assert report.detail == "try_again: 502 from the vendor"  # for the logs, never the answer
    assert services.intake.poll_sources("acme")[0].new == 1  # resumed after p2, not from the start
    assert cursors_asked(vendor) == ["", "p2", "p2"]
    assert types(services, "c1@example.com") == ["rejected"] and types(services, "c2@example.com") == ["rejected"]


def test_the_scheduled_run_polls_every_tenant_and_one_failing_source_does_not_stop_the_others(services, vendor):
    services.intake.connect_source("beta", fakevendor.NAME, VENDOR_SECRET, "beta-key")
    vendor.script("GET", "/changes", PermanentError("the vendor refused the key"), page([applicant(1)], None, False))

    reports = [r.to_json() for r in services.intake.poll_due_sources()]

    assert reports == [{"source": "acme_ats", "pages": 0, "events": 0, "new": 0, "stopped": "partner_failed"},
                       {"source": "acme_ats", "pages": 1, "events": 1, "new": 1, "stopped": "done"}]
    assert types(services, "c1@example.com", tenant="beta") == ["rejected"]
    assert types(services, "c1@example.com", tenant="acme") == []


# -- connecting sources ----------------------------------------------------------------------------

@pytest.mark.parametrize("source,fields,needle", [
    ("greenhouse", {}, "webhook_secret"),
    ("greenhouse", {"webhook_secret": 5}, "webhook_secret"),
    ("greenhouse", {"webhook_secret": "short"}, "webhook_secret"),
    ("greenhouse", {"webhook_secret": "x" * 4097}, "webhook_secret"),
    ("greenhouse", {"webhook_secret": "long-enough", "api_key": ""}, "api_key"),
    ("greenhouse", {"webhook_secret": "long-enough", "api_key": 7}, "api_key"),
    ("lever", {"webhook_secret": "long-enough", "api_base_url": "ftp://vendor.example"}, "api_base_url"),
    ("lever", {"webhook_secret": "long-enough", "api_base_url": "not a url"}, "api_base_url"),
    ("greenhouse", {"webhook_secret": "long-enough", "api_base_url": "https://harvest.greenhouse.io"}, "does not apply"),
    ("standard", {"webhook_secret": "plain-text-secret"}, "whsec_"),
    ("standard", {"webhook_secret": "whsec_c2hvcnQ="}, "whsec_"),
    ("herp", {}, "api_key is required"),
    ("herp", {"webhook_secret": "long-enough", "api_key": "k"}, "polled"),
])
def test_bad_source_connections_are_refused(services, source, fields, needle):
    with pytest.raises(BadRequest, match=needle):
        services.intake.connect_source("acme", source, **fields)
    assert services.ports.tenants.sources("acme") == []


def test_unknown_sources_and_bad_tenant_names_cannot_be_connected(services):
    with pytest.raises(UnknownSource):
        services.intake.connect_source("acme", "nosuch", "long-enough")
    with pytest.raises(UnknownTenant):
        services.intake.connect_source("UPPER", "greenhouse", "long-enough")


def test_connecting_stores_the_credentials_and_creates_the_tenant(services):
    services.intake.connect_source("acme", "greenhouse", "s3cret-value-1", "key-value-1")
    services.intake.connect_source("acme", "herp", api_key="herp-key", api_base_url="https://herp.example.test/v1",
                                   by_platform=True)  # the operator may point it anywhere the egress policy allows

    assert services.ports.tenants.tenants() == ["acme"]
    assert services.ports.tenants.sources("acme") == ["greenhouse", "herp"]
    stored = services.ports.credentials.source("acme", "greenhouse")
    assert stored.webhook_secrets == ("s3cret-value-1",) and stored.api_key == "key-value-1"
    herp = services.ports.credentials.source("acme", "herp")
    assert herp.api_key == "herp-key" and herp.api_base_url == "https://herp.example.test/v1"
    assert services.intake.is_pushed("greenhouse") and not services.intake.is_pushed("herp")


def test_rotating_a_secret_keeps_the_api_key(services):
    services.intake.connect_source("acme", "greenhouse", "first-secret", "the-key")
    services.intake.connect_source("acme", "greenhouse", "second-secret")

    stored = services.ports.credentials.source("acme", "greenhouse")
    assert stored.webhook_secrets == ("second-secret", "first-secret") and stored.api_key == "the-key"


# -- the inventory -------------------------------------------------------------------------------------

GOOD = """name,email,phone,role,occurred_at,source,tags
山田 花子,Hanako@Example.jp,090-0000-0000,rejected,2025-04-01,spreadsheet,engineer;tokyo
佐藤 太郎,taro@example.jp,,alumni,2024-03-31,spreadsheet,
Jane Roe,jane@example.com,,不採用,2025-06-01T10:00:00+09:00,old-ats,designer
"""


def test_valid_rows_become_people_with_roles_tags_and_timeline(services, acme):
    report = services.intake.import_inventory("acme", GOOD)

    assert report == {"rows": 3, "imported": 3, "duplicates": 0, "errors": []}
    hanako = profile(services, "hanako@example.jp")
    assert hanako.person.roles == ("rejected",) and hanako.person.tags == ("engineer", "tokyo")
    assert hanako.timeline[0] | {"type": "rejected", "source": "import", "origin": "spreadsheet"} == hanako.timeline[0]
    assert profile(services, "taro@example.jp").person.roles == ("alumni",)
    assert profile(services, "jane@example.com").person.roles == ("rejected",)
    assert queues(services).bodies("notices") == []  # the inventory is not mailed out of the blue


def test_a_re_import_creates_nothing_twice(services, acme):
    services.intake.import_inventory("acme", GOOD)

    assert services.intake.import_inventory("acme", GOOD) == {"rows": 3, "imported": 0, "duplicates": 3, "errors": []}
    assert len(profile(services, "hanako@example.jp").timeline) == 1


def test_row_errors_are_reported_by_line_without_their_values_and_valid_rows_kept(services, acme):
    body = GOOD + "No Mail,,,rejected,2025-01-01,,\nBad Role,bad@example.com,,boss,2025-01-01,,\n" \
                  "Bad Date,date@example.com,,alumni,someday,,\n"

    report = services.intake.import_inventory("acme", body)

    assert (report["rows"], report["imported"], report["duplicates"]) == (6, 3, 0)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(5, "email"), (6, "role"), (7, "occurred_at")]
    assert "boss" not in str(report) and "someday" not in str(report)


def test_a_spreadsheet_export_with_bom_and_crlf_is_read(services, acme):
    assert services.intake.import_inventory("acme", "\ufeff" + GOOD.replace("\n", "\r\n"))["imported"] == 3


def test_a_row_with_150_tags_is_a_row_error_and_the_rest_is_imported(services, acme):
    body = GOOD + "Many,many@example.com,,rejected,2025-01-01,," + ";".join(f"t{i}" for i in range(150)) + "\n"

    report = services.intake.import_inventory("acme", body)

    assert report == {"rows": 4, "imported": 3, "duplicates": 0,
                      "errors": [{"line": 5, "column": "tags", "error": "a person has at most 50 tags",
                                                "error_ja": "タグは1人50個までです"}]}


def test_a_row_storage_refuses_is_that_rows_error_not_the_files(services, acme, monkeypatch):
    record = services.ports.relations.record_once

    def refusing(event, **kwargs):
        if event.person.email == "taro@example.jp":
            raise PermanentError("the relations store refused the write (ValidationException)")
        return record(event, **kwargs)

    monkeypatch.setattr(services.ports.relations, "record_once", refusing)
    report = services.intake.import_inventory("acme", GOOD)

    assert (report["rows"], report["imported"]) == (3, 2)
    assert report["errors"] == [{"line": 3, "column": None, "error": "the relations store refused the write (ValidationException)",
                                 "error_ja": "この行を保存できません"}]


@pytest.mark.parametrize("body", ["name,phone\nx,y\n", "email,role,occurred_at\n" + "a@example.com,rejected,2025-01-01\n" * 2001])
def test_files_without_the_required_columns_or_with_too_many_rows_are_refused(services, acme, body):
    with pytest.raises(BadRequest):
        services.intake.import_inventory("acme", body)


# -- robustness -----------------------------------------------------------------------------------------

def test_the_same_human_from_two_sources_is_one_person(services, acme, clock):
    services.intake.connect_source("acme", "greenhouse", GREENHOUSE_SECRET)
    body = load_fixture("sources/greenhouse/reject_candidate")["body"].encode()
    services.intake.receive_webhook("acme", "greenhouse", greenhouse.sign(body, GREENHOUSE_SECRET), body)
    other = json.dumps({"type": "candidate.applied", "data": {
        "person": {"id": "x-1", "email": "ＨＥＣＴＯＲ.porter.265788@example.com"},  # full width: the same address
        "application_id": "x-app", "occurred_at": "2026-05-30"}}).encode()

    deliver(services, other)

    found = profile(services, "Hector.Porter.265788@EXAMPLE.com")
    assert found.person.roles == ("applicant", "rejected")
    assert sorted(e["source"] for e in found.timeline) == ["greenhouse", "standard"]
    assert len(found.person.identities) == 2 and "standard:x-1" in found.person.identities


def secret_of(source: str) -> str:
    return load_fixture(f"sources/{source}/{source_fixtures(source)[0]}")["secret"]


@pytest.fixture(scope="module")
def every_source() -> Services:
    """One tenant connected to every registered push source with its fixtures' secret, as the local
    stage verifies them: what sign() makes (Lever: the replay header) counts there."""
    services = build(Clock(), sources={**registry.LOCAL_SOURCES, fakevendor.NAME: fakevendor})
    for source in registry.SOURCES:
        services.intake.connect_source("fuzz", source, secret_of(source))
    return services


@pytest.mark.parametrize("source", sorted(registry.SOURCES))
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_arbitrary_bodies_signed_correctly_are_recorded_or_refused_as_bad_requests(every_source, source, data):
    # arbitrary text, or a recorded delivery with one field replaced by any JSON value
    body = data.draw(st.one_of(st.text(max_size=300).map(str.encode), mutated_fixture(registry.SOURCES[source])))
    try:
        headers = registry.SOURCES[source].sign(body, secret_of(source))
    except (HubError, ValueError):
        assume(False)  # some schemes sign a field of the body: no field, no signature
    try:
        receipt = every_source.intake.receive_webhook("fuzz", source, headers, body)
    except HubError as refused:
        assert refused.status == 400, (type(refused), refused.message)
    else:
        assert receipt.accepted + receipt.ignored >= 1


# -- sources whose signature does not cover the body ----------------------------------------------

SMARTHR_TOKEN = "smarthr-secret-token-5d7a"


@pytest.fixture
def smarthr_api(services, acme) -> FakeVendorApi:
    services.intake.connect_source("acme", "smarthr", SMARTHR_TOKEN, "smarthr-access", "https://acme.smarthr.jp/api")
    apis = services.ports.vendor_apis
    assert isinstance(apis, FakeVendorApis)
    return apis.api("smarthr")


def smarthr_delivery(crew_id: str = "crew-1", email: str = "victim@attacker.example", triggered: str = "2026-05-31T02:00:00Z"):
    body = json.dumps({"event": "crew_updated", "triggered_at": triggered,
                       "crew": {"id": crew_id, "last_name": "偽", "first_name": "名", "email": email,
                                "resigned_at": "2026-05-30"}}).encode()
    return {"X-SmartHR-Token": SMARTHR_TOKEN, "Content-Type": "application/json"}, body


def test_a_forged_smarthr_exit_records_nothing_and_mails_no_one_the_api_decides(services, smarthr_api):
    headers, body = smarthr_delivery()
    assert services.intake.receive_webhook("acme", "smarthr", headers, body).accepted == 1

    assert services.people.people_by_email("acme", "victim@attacker.example") == []
    assert queues(services).bodies("notices") == []
    smarthr_api.script("GET", "/v1/crews/crew-1", {"id": "crew-1", "resigned_at": None, "email": "real@acme.example"})
    assert enrich_queued(services) == [0]  # the API says the crew is employed: no alumnus, no mail
    assert services.people.people_by_email("acme", "victim@attacker.example") == []
    assert queues(services).bodies("notices") == []


def test_a_smarthr_exit_is_recorded_from_the_apis_crew_not_the_bodys(services, smarthr_api):
    headers, body = smarthr_delivery()
    services.intake.receive_webhook("acme", "smarthr", headers, body)
    smarthr_api.script("GET", "/v1/crews/crew-1", {"id": "crew-1", "last_name": "山田", "first_name": "花子",
                                                   "email": "hanako@acme.example", "resigned_at": "2026-05-31"})

    assert enrich_queued(services) == [1]
    assert services.people.people_by_email("acme", "victim@attacker.example") == []
    assert types(services, "hanako@acme.example") == ["exited"]


def test_one_captured_token_replayed_100_times_drives_one_look_up_per_resource_per_window(services, smarthr_api, clock):
    receipts = [services.intake.receive_webhook("acme", "smarthr", *smarthr_delivery(
        email=f"victim{i}@attacker.example", triggered=f"2026-05-31T02:{i % 60:02d}:{i // 60:02d}Z")) for i in range(100)]

    assert sum(r.duplicates for r in receipts) == 99
    assert len(queues(services).take("enrich")) == 1
    services.intake.receive_webhook("acme", "smarthr", *smarthr_delivery(crew_id="crew-2"))
    assert len(queues(services).take("enrich")) == 1  # another resource is its own look-up

    clock.advance(seconds=301)  # the next window: the resource is read again
    services.intake.receive_webhook("acme", "smarthr", *smarthr_delivery(email="again@attacker.example"))
    assert len(queues(services).take("enrich")) == 1


def test_a_teamtailor_signature_replayed_with_other_bytes_drives_one_look_up_per_window(services, acme):
    fx = load_fixture("sources/teamtailor/" + source_fixtures("teamtailor")[0])
    services.intake.connect_source("acme", "teamtailor", fx["secret"], "tt-key")
    body = json.loads(fx["body"])
    for i in range(100):  # the signature covers payload.data.id only: everything else may change
        body["replay"] = i
        services.intake.receive_webhook("acme", "teamtailor", fx["headers"], json.dumps(body).encode())

    assert len(queues(services).take("enrich")) == 1


def test_when_the_enrich_queue_fails_the_look_up_window_is_freed_for_the_vendors_retry(services, smarthr_api):
    queues(services).fail("enrich")
    with pytest.raises(RetryableError):
        services.intake.receive_webhook("acme", "smarthr", *smarthr_delivery())
    assert queues(services).bodies("enrich") == []

    assert services.intake.receive_webhook("acme", "smarthr", *smarthr_delivery()).duplicates == 0
    assert len(queues(services).bodies("enrich")) == 1


def test_look_ups_of_a_source_whose_signature_does_not_cover_the_body_are_capped_per_tenant_and_minute(services, smarthr_api, clock):
    from chalicelib.services.intake import LOOKUPS_PER_MINUTE
    for i in range(LOOKUPS_PER_MINUTE):  # a forger varying the crew id: each a resource of its own
        services.intake.receive_webhook("acme", "smarthr", *smarthr_delivery(crew_id=f"crew-{i}"))
    with pytest.raises(RetryableError):
        services.intake.receive_webhook("acme", "smarthr", *smarthr_delivery(crew_id="crew-over"))
    assert len(queues(services).take("enrich")) == LOOKUPS_PER_MINUTE

    clock.advance(seconds=60)  # the next minute: the refused delivery's retry is taken
    assert services.intake.receive_webhook("acme", "smarthr", *smarthr_delivery(crew_id="crew-over")).duplicates == 0
    assert len(queues(services).take("enrich")) == 1
