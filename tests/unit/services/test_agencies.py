"""Agencies: Career Relay batch runs against a scripted agency client. Every consented referral
arrives once, retries keep their Idempotency-Key, nobody without consent is sent, failures park or
pause, and the slot ledger equals floor(accepted / referrals_per_slot)."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.errors import BadRequest, Conflict, NotFound, PermanentError, RetryableError
from chalicelib.domain.events import iso
from chalicelib.domain.records import ReferralResult
from chalicelib.services import Services
from tests.fakes import Clock, FakeAgencyClient, FakeAgencyClients, FakeCredentials, FakeSleep
from tests.unit.services.support import AGENCY_TOKEN as TOKEN
from tests.unit.services.support import ENDPOINT, LEGAL_NAME, agency_client, build, configure, open_acme, person_id, profile, queues


def sleeps(services: Services) -> list[float]:
    sleep = services.ports.sleep
    assert isinstance(sleep, FakeSleep)
    return sleep.waits


def candidates(services: Services, n: int, start: int = 0) -> list[str]:
    """n rejected candidates from the inventory; their person ids, in order."""
    rows = "".join(f"候補者 {i},c-{i}@example.jp,rejected,2026-05-01\n" for i in range(start, start + n))
    services.intake.import_inventory("acme", "name,email,role,occurred_at\n" + rows)
    people = [person_id(services, f"c-{i}@example.jp") for i in range(start, start + n)]
    return [p for p in people if p is not None]


def decide(services: Services, clock: Clock, person: str, *, relay: bool) -> None:
    """The person's choice on the Career Relay page (RelayPages.decide stores it through this port)."""
    clock.advance(seconds=1)
    agencies = {a["slug"]: a["consent_version"] for a in services.configuration.agency_documents("acme")}
    services.ports.relations.record_decision("acme", person, {"relay": relay, "openings": False}, at=clock(),
                                             version="ja-test", score=None, token_ref=None, agencies=agencies)


def consented(services: Services, clock: Clock, n: int, start: int = 0) -> list[str]:
    people = candidates(services, n, start)
    for person in people:
        decide(services, clock, person, relay=True)
    return people


def run(services: Services) -> list[dict]:
    return services.agencies.run_agency_batches("acme")


def statuses(services: Services, people: Sequence[str], agency: str = "sandbox") -> list[str]:
    found = []
    for person in people:
        held = services.ports.relations.held("acme", person)
        assert held is not None
        found.append(next(r["status"] for r in held.referrals if r["agency"] == agency))
    return found


def referral_ids(services: Services, people: Sequence[str], agency: str = "sandbox") -> list[str]:
    found = []
    for person in people:
        held = services.ports.relations.held("acme", person)
        assert held is not None
        found.append(next(r["referral_id"] for r in held.referrals if r["agency"] == agency))
    return found


def ids_sent(client: FakeAgencyClient) -> list[list[str]]:
    return [[r["referral_id"] for r in batch.referrals] for batch in client.sent]


def answer_only_the_first(count: int):
    def answer(referrals: Sequence[Mapping[str, Any]]) -> list[ReferralResult]:
        return [ReferralResult(str(r["referral_id"]), "accepted", f"ref-{r['referral_id']}") for r in referrals[:count]]
    return answer


@pytest.fixture
def sandbox(services, acme) -> FakeAgencyClient:
    configure(services)
    return agency_client(services)


# -- sending -----------------------------------------------------------------------------------------

def test_a_run_sends_the_queued_referrals_in_batches_and_settles_every_answer(services, clock, sandbox):
    people = consented(services, clock, 25)

    [report] = run(services)

    assert report == {"agency": "sandbox", "batches": 3, "sent": 25, "accepted": 25, "declined": 0, "withdrawals": 0,
                      "failed_batches": 0, "parked": 0, "held": 0, "status": "ok"}
    assert [len(batch.referrals) for batch in sandbox.sent] == [10, 10, 5]
    assert len({batch.idempotency_key for batch in sandbox.sent}) == 3
    sent = sandbox.sent[0].referrals[0]
    assert set(sent) == {"referral_id", "name", "email", "consent"}  # only its data items (no roles to tell)
    assert sent["consent"]["text_version"] == "ja-test"
    assert sandbox.sent[0].referrer == {"company_name": "サンプル株式会社", "contact": "careers@example.com"}
    assert set(statuses(services, people)) == {"accepted"}
    assert [e["type"] for e in profile(services, "c-0@example.jp").timeline][-2:] == ["referred", "referral_accepted"]
    assert run(services)[0]["sent"] == 0 and len(sandbox.sent) == 3  # nothing left: nothing twice


def test_the_client_is_built_with_the_stored_auth_and_the_timeouts(services, clock, sandbox):
    consented(services, clock, 1)

    run(services)

    factory = services.ports.agency_clients["career_relay"]
    assert isinstance(factory, FakeAgencyClients)
    assert factory.built == [(ENDPOINT, {"type": "bearer", "token": TOKEN}, (3.05, 15.0))]


def test_each_provision_record_names_recipient_items_consent_answer_and_three_years(services, clock, sandbox):
    [person] = consented(services, clock, 1)

    run(services)

    [record] = services.agencies.provisions("acme", person)
    assert record["recipient"]["legal_name"] == LEGAL_NAME and record["agency_answer"] == "accepted"
    assert record["data_items"] == ["name", "email", "desired_roles"]
    assert record["consent"]["text_version"] == "ja-test" and record["idempotency_key"] == sandbox.sent[0].idempotency_key
    assert record["keep_until"][:4] == "2029"
    with pytest.raises(BadRequest):
        services.agencies.provisions("acme", "")


def test_declined_and_duplicate_answers_are_recorded_as_such(services, clock, sandbox):
    people = consented(services, clock, 3)

    def answer(referrals: Sequence[Mapping[str, Any]]) -> list[ReferralResult]:
        verdicts = ["accepted", "declined", "duplicate"]
        return [ReferralResult(str(r["referral_id"]), verdicts[i]) for i, r in enumerate(referrals)]

    sandbox.script(answer)
    [report] = run(services)

    assert (report["accepted"], report["declined"]) == (2, 1)
    assert statuses(services, people) == ["accepted", "declined", "accepted"]  # a duplicate was delivered before
    ledger = services.agencies.ledger("acme", "sandbox")
    assert (ledger["referrals_accepted"], ledger["referrals_declined"]) == (2, 1)


def test_answers_the_agency_repeats_are_recorded_once(services, clock, sandbox):
    consented(services, clock, 4)
    sandbox.script(lambda referrals: [ReferralResult(str(r["referral_id"]), "accepted") for r in referrals] * 2)

    [report] = run(services)

    assert report["accepted"] == 4
    assert services.agencies.ledger("acme", "sandbox")["referrals_accepted"] == 4


# -- faults ------------------------------------------------------------------------------------------

def test_a_retry_within_the_run_reuses_the_idempotency_key(services, clock, sandbox):
    consented(services, clock, 2)
    sandbox.script(RetryableError("503 from the agency"), "accepted")

    [report] = run(services)

    assert report["accepted"] == 2 and report["failed_batches"] == 0
    assert len(sandbox.sent) == 2
    assert len({(b.batch_id, b.idempotency_key) for b in sandbox.sent}) == 1
    assert ids_sent(sandbox)[0] == ids_sent(sandbox)[1]


def test_retry_after_is_honoured_through_the_sleep_port(services, clock, sandbox):
    consented(services, clock, 1)
    sandbox.script(RetryableError("429 from the agency", retry_after_s=3), "accepted")
    started = clock.now()

    [report] = run(services)

    assert report["accepted"] == 1
    assert sleeps(services) == [3.0]
    assert (clock.now() - started).total_seconds() == 3.0  # the wait passed on the clock, not in real time


def test_a_retry_after_longer_than_the_longest_wait_pauses_the_agency_without_sleeping_and_a_later_run_sends_once(
        services, clock, sandbox):
    consented(services, clock, 1)
    sandbox.script(RetryableError("429 from the agency", retry_after_s=7200), "accepted")

    [report] = run(services)

    assert report["status"] == "paused" and report["accepted"] == 0 and sleeps(services) == []
    assert services.agencies.agency_view("acme", "sandbox")["paused_until"] == iso(clock.now() + timedelta(seconds=7200))
    assert run(services)[0]["status"] == "paused" and len(sandbox.sent) == 1
    clock.advance(seconds=7201)
    [report] = run(services)
    assert report["status"] == "ok" and report["accepted"] == 1 and len(sandbox.sent) == 2
    assert len({(b.batch_id, b.idempotency_key) for b in sandbox.sent}) == 1


def test_a_batch_failing_a_whole_run_stays_open_and_the_next_run_resends_it_with_the_same_key(services, clock, sandbox):
    people = consented(services, clock, 2)
    sandbox.script(*[RetryableError("503 from the agency")] * 3, "accepted")

    first = run(services)[0]
    assert (first["failed_batches"], first["sent"], first["parked"]) == (1, 0, 0)
    assert len(sandbox.sent) == 3 and len(sleeps(services)) == 2  # three tries, two waits between them
    assert statuses(services, people) == ["sending", "sending"]

    second = run(services)[0]
    assert (second["accepted"], second["batches"]) == (2, 1)
    assert len({b.idempotency_key for b in sandbox.sent}) == 1 and len(sandbox.sent) == 4
    assert statuses(services, people) == ["accepted", "accepted"]


def test_a_partial_answer_leaves_the_batch_open_and_the_next_run_sends_the_rest_with_the_same_key(services, clock, sandbox):
    people = consented(services, clock, 3)
    sandbox.script(answer_only_the_first(1), "accepted")

    assert run(services)[0]["accepted"] == 1
    assert statuses(services, people) == ["accepted", "sending", "sending"]

    assert run(services)[0]["accepted"] == 2
    first, second = ids_sent(sandbox)
    assert second == first[1:]
    assert sandbox.sent[0].idempotency_key == sandbox.sent[1].idempotency_key
    assert statuses(services, people) == ["accepted"] * 3
    assert run(services)[0]["sent"] == 0


def test_an_agency_replaying_its_first_answer_to_the_repeated_key_settles_the_rest(services, clock, sandbox):
    people = consented(services, clock, 3)
    first: list[ReferralResult] = []

    def remember_and_answer_one(referrals: Sequence[Mapping[str, Any]]) -> list[ReferralResult]:
        first.extend(ReferralResult(str(r["referral_id"]), "accepted", "A-1") for r in referrals)
        return first[:1]

    sandbox.script(remember_and_answer_one, lambda referrals: first)  # the whole first answer, for the key

    run(services)
    [report] = run(services)

    assert report["accepted"] == 2
    assert statuses(services, people) == ["accepted"] * 3
    assert services.agencies.ledger("acme", "sandbox")["referrals_accepted"] == 3


def test_a_permanent_error_parks_the_batch_fails_its_referrals_and_dead_letters_it(services, clock, sandbox):
    people = consented(services, clock, 2)
    sandbox.script(PermanentError("401 from the agency"))

    [report] = run(services)

    assert (report["parked"], report["failed_batches"], report["accepted"]) == (1, 1, 0)
    assert len(sandbox.sent) == 1  # a permanent refusal is not retried
    [parked] = queues(services).bodies("agency_dead_letters")
    assert parked | {"tenant": "acme", "agency": "sandbox", "error": "partner_refused", "referrals": 2} == parked
    assert parked["batch"] == sandbox.sent[0].batch_id
    assert statuses(services, people) == ["failed", "failed"]
    # the admin reads one code whatever the agency answered (the dead letter keeps the detail)
    assert services.agencies.provisions("acme", people[0])[0]["agency_answer"] == "failed: partner_failed"
    assert services.agencies.ledger("acme", "sandbox")["referrals_accepted"] == 0
    assert run(services)[0]["sent"] == 0 and len(sandbox.sent) == 1  # parked: not sent again


def test_a_batch_failing_five_runs_is_parked(services, clock, sandbox):
    people = consented(services, clock, 1)
    sandbox.script(RetryableError("503 from the agency"))

    reports = []
    for _ in range(5):
        reports.append(run(services)[0])
        clock.advance(hours=7)  # past any pause of the circuit

    assert [r["parked"] for r in reports] == [0, 0, 0, 0, 1]
    assert statuses(services, people) == ["failed"]
    assert len(queues(services).bodies("agency_dead_letters")) == 1


def test_three_failed_runs_open_the_circuit_and_a_paused_agency_is_not_called(services, clock, sandbox):
    consented(services, clock, 2)
    sandbox.script(RetryableError("500 from the agency"))

    assert [run(services)[0]["status"] for _ in range(3)] == ["ok", "ok", "circuit_open"]
    calls = len(sandbox.sent)
    assert run(services)[0]["status"] == "paused" and len(sandbox.sent) == calls
    assert services.ports.referrals.state("acme", "sandbox").consecutive_failures == 3

    clock.advance(minutes=16)  # the first pause is 15 minutes
    run(services)
    assert len(sandbox.sent) > calls


def test_a_success_closes_the_circuit_again(services, clock, sandbox):
    consented(services, clock, 1)
    sandbox.script(*[RetryableError("500 from the agency")] * 6, "accepted")

    run(services)
    run(services)
    assert services.ports.referrals.state("acme", "sandbox").consecutive_failures == 2
    assert run(services)[0]["accepted"] == 1
    assert services.ports.referrals.state("acme", "sandbox").consecutive_failures == 0


def test_a_failing_agency_does_not_hold_up_another(services, clock, acme):
    configure(services, "broken", "https://broken.example.test")
    configure(services, "healthy", "https://healthy.example.test")
    agency_client(services, "https://broken.example.test").script(RetryableError("500 from the agency"))
    consented(services, clock, 3)

    for _ in range(3):
        reports = {r["agency"]: r for r in run(services)}

    assert reports["broken"]["status"] == "circuit_open"
    assert len(agency_client(services, "https://healthy.example.test").sent) == 1
    assert services.agencies.ledger("acme", "healthy")["referrals_accepted"] == 3


# -- consent --------------------------------------------------------------------------------------------

def test_a_consent_withdrawn_while_queued_is_never_sent(services, clock, sandbox):
    [person] = consented(services, clock, 1)
    decide(services, clock, person, relay=False)

    [report] = run(services)

    assert (report["sent"], report["withdrawals"]) == (0, 0)
    assert sandbox.sent == [] and sandbox.withdrawals == []
    assert statuses(services, [person]) == ["withdrawn"]


def test_a_consent_withdrawn_before_an_open_batch_is_resent_fails_that_referral(services, clock, sandbox):
    stays, leaves = consented(services, clock, 2)
    sandbox.script(*[RetryableError("503 from the agency")] * 3, "accepted")
    run(services)  # the batch stays open: both are "sending"
    decide(services, clock, leaves, relay=False)

    [report] = run(services)

    assert report["accepted"] == 1
    assert ids_sent(sandbox)[-1] == [ids_sent(sandbox)[0][0]]  # the other one only, with the batch's key
    assert statuses(services, [stays, leaves]) == ["accepted", "failed"]
    assert [rid for rid, _ in sandbox.withdrawals] == [ids_sent(sandbox)[0][1]]  # it may have reached the agency


def test_a_withdrawal_after_sending_is_sent_to_the_agency_once(services, clock, sandbox):
    [person] = consented(services, clock, 1)
    run(services)
    [referral_id] = ids_sent(sandbox)[0]
    decide(services, clock, person, relay=False)

    [report] = run(services)

    assert report["withdrawals"] == 1 and report["sent"] == 0
    assert sandbox.withdrawals == [(referral_id, iso(clock.now()))]
    assert run(services)[0]["withdrawals"] == 0  # told once


def test_a_withdrawal_the_agency_does_not_take_is_retried_on_the_next_run(services, clock, sandbox):
    [person] = consented(services, clock, 1)
    run(services)
    decide(services, clock, person, relay=False)
    sandbox.fail_withdrawals(RetryableError("503 from the agency"))

    assert run(services)[0]["status"] == "partner_failed"
    assert sandbox.withdrawals == []
    assert run(services)[0]["withdrawals"] == 1
    assert len(sandbox.withdrawals) == 1


# -- consent bound to its recipient ----------------------------------------------------------------------

def renew(services: Services, clock: Clock, person: str) -> None:
    """The person ticks "consent again" for the agencies that changed (RelayPages.decide stores it so)."""
    clock.advance(seconds=1)
    agencies = {a["slug"]: a["consent_version"] for a in services.configuration.agency_documents("acme")}
    services.ports.relations.record_decision("acme", person, {"relay": True, "openings": False, "renew": True},
                                             at=clock(), version="ja-again", score=None, token_ref=None, agencies=agencies)


def test_after_10_consents_a_new_legal_name_sends_nothing_until_people_consent_again_then_once_each(services, clock, sandbox):
    people = consented(services, clock, 10)
    before = services.agencies.agency("acme", "sandbox").consent_version
    configure(services, legal_name="Another Entity K.K.")  # the slug now names another legal entity
    after = services.agencies.agency("acme", "sandbox").consent_version
    assert after != before

    [report] = run(services)

    assert (report["sent"], report["held"], report["batches"]) == (0, 10, 0) and sandbox.sent == []
    assert statuses(services, people) == ["reconsent_needed"] * 10  # held, not failed
    book = services.agencies.ledger("acme", "sandbox")
    assert (book["referrals_sent"], book["referrals_held"]) == (0, 10)
    assert services.agencies.provisions("acme", people[0]) == []  # nothing provided, nothing recorded
    assert run(services)[0]["held"] == 0 and sandbox.sent == []  # out of the queue: held once, never sent

    for person in people[:4]:
        renew(services, clock, person)
    [report] = run(services)
    for person in people[:4]:
        renew(services, clock, person)  # the same consent again: nothing more is queued
    assert run(services)[0]["sent"] == 0

    assert report["sent"] == 4 and len(sandbox.sent) == 1
    sent = sandbox.sent[0].referrals
    assert sorted(r["referral_id"] for r in sent) == sorted(referral_ids(services, people[:4]))
    assert {r["consent"]["version"] for r in sent} == {after} and {r["consent"]["text_version"] for r in sent} == {"ja-again"}
    assert statuses(services, people) == ["accepted"] * 4 + ["reconsent_needed"] * 6
    [record] = services.agencies.provisions("acme", people[0])
    assert record["consent"]["version"] == after and record["recipient"]["legal_name"] == "Another Entity K.K."
    entries = [e for e in services.agencies.ledger("acme", "sandbox")["entries"] if e["type"] == "referrals_sent"]
    assert [(e["referrals"], e["consent_version"]) for e in entries] == [(4, after)]


@pytest.mark.parametrize("edit", [{"country": "SG", "foreign_regime_note": "PDPA"}, {"data_items": ["name", "email", "phone"]},
                                  {"purpose": "広告配信"}, {"endpoint": "https://collector.elsewhere.example"}],
                         ids=["country", "data_items", "purpose", "endpoint_owner"])
def test_each_edit_to_what_the_candidate_was_told_holds_the_referrals(services, clock, sandbox, edit):
    people = consented(services, clock, 2)
    configure(services, **edit)

    [report] = run(services)

    assert (report["sent"], report["held"]) == (0, 2)
    assert sandbox.sent == [] and agency_client(services, "https://collector.elsewhere.example").sent == []
    assert statuses(services, people) == ["reconsent_needed"] * 2


def test_an_edit_that_tells_the_candidate_nothing_new_keeps_sending(services, clock, sandbox):
    consented(services, clock, 3)
    version = services.agencies.agency("acme", "sandbox").consent_version
    configure(services, endpoint=ENDPOINT + "/v2/referrals", batch_size=2, referrals_per_slot=3)  # the same host

    reports = run(services)

    assert services.agencies.agency("acme", "sandbox").consent_version == version
    assert (reports[0]["sent"], reports[0]["held"]) == (3, 0)
    assert len(agency_client(services, ENDPOINT + "/v2/referrals").sent) == 2


def test_an_open_batch_is_not_resent_after_the_agency_moved_to_another_owner(services, clock, sandbox):
    people = consented(services, clock, 2)
    sandbox.script(*[RetryableError("503 from the agency")] * 3)
    run(services)  # the batch stays open: both are "sending"
    moved = "https://collector.elsewhere.example"
    configure(services, endpoint=moved)

    [report] = run(services)

    assert (report["sent"], report["held"]) == (0, 2) and agency_client(services, moved).sent == []
    assert statuses(services, people) == ["reconsent_needed"] * 2
    assert services.agencies.provisions("acme", people[0])[0]["agency_answer"] == "held: reconsent_needed"
    assert services.ports.referrals.open_batches("acme", "sandbox") == []

    renew(services, clock, people[0])
    [report] = run(services)
    [batch] = agency_client(services, moved).sent
    assert report["sent"] == 1 and batch.idempotency_key != sandbox.sent[0].idempotency_key  # a new batch
    assert [r["referral_id"] for r in batch.referrals] == referral_ids(services, people[:1])


def test_a_person_who_withdraws_while_held_is_never_sent_and_a_new_consent_sends_once(services, clock, sandbox):
    [person] = consented(services, clock, 1)
    configure(services, legal_name="Another Entity K.K.")
    run(services)
    decide(services, clock, person, relay=False)
    assert statuses(services, [person]) == ["withdrawn"]
    assert run(services)[0]["withdrawals"] == 0  # nothing reached the agency: nothing to withdraw

    decide(services, clock, person, relay=True)  # a new consent, to the version shown now
    [report] = run(services)

    assert report["sent"] == 1 and len(sandbox.sent) == 1
    assert sandbox.sent[0].referrals[0]["consent"]["version"] == services.agencies.agency("acme", "sandbox").consent_version


def test_each_version_an_agency_had_stays_retrievable(services, acme):
    first = configure(services)["consent_version"]
    second = configure(services, data_items=["name", "email", "desired_roles", "phone"])["consent_version"]

    assert first != second and services.agencies.agency("acme", "sandbox").to_json()["consent_version"] == second
    old = services.configuration.consent_text("acme", first)
    assert old["kind"] == "recipient" and old["facts"]["data_items"] == ["desired_roles", "email", "name"]
    assert services.configuration.consent_text("acme", second)["facts"]["data_items"] == [
        "desired_roles", "email", "name", "phone"]
    assert old["facts"]["legal_name"] == LEGAL_NAME and old["facts"]["endpoint_owner"] == "agency.example.test"
    with pytest.raises(NotFound):
        services.configuration.consent_text("acme", "r-0000000000000000")
    with pytest.raises(NotFound):
        services.configuration.consent_text("acme", "../../etc")


# -- the slot ledger --------------------------------------------------------------------------------

def test_the_ledger_credits_one_slot_per_ten_accepted(services, clock, sandbox):
    consented(services, clock, 25)

    run(services)
    run(services)

    book = services.agencies.ledger("acme", "sandbox")
    assert (book["referrals_sent"], book["referrals_accepted"], book["slots_earned"], book["slot_balance"]) == (25, 25, 2, 2)
    assert [e["type"] for e in book["entries"] if e["type"] != "referrals_sent"] == ["slot_earned", "slot_earned"]
    assert book["referrals_per_slot"] == 10


def test_a_slot_is_credited_exactly_once_when_answers_come_in_parts_and_again(services, clock, sandbox):
    consented(services, clock, 10)
    sandbox.script(answer_only_the_first(5), "accepted")  # then every one, the first five again

    for _ in range(3):
        run(services)

    book = services.agencies.ledger("acme", "sandbox")
    assert (book["referrals_accepted"], book["slots_earned"]) == (10, 1)
    assert [e["type"] for e in book["entries"] if e["type"] != "referrals_sent"] == ["slot_earned"]
    assert services.ports.counters.totals("acme")["slots.earned"] == 1


def test_slots_are_used_while_the_balance_lasts_then_conflict(services, clock, acme):
    configure(services, referrals_per_slot=2)
    consented(services, clock, 4)
    run(services)

    used = [services.agencies.use_slot("acme", "sandbox", {"note": "hire"}, by="admin") for _ in range(2)]

    assert [entry["balance_after"] for entry in used] == [1, 0]
    assert used[0] | {"type": "slot_used", "note": "hire", "by": "admin"} == used[0]
    with pytest.raises(Conflict):
        services.agencies.use_slot("acme", "sandbox", {}, by="admin")
    book = services.agencies.ledger("acme", "sandbox")
    assert (book["slots_earned"], book["slots_used"], book["slot_balance"]) == (2, 2, 0)
    assert sorted(e["type"] for e in book["entries"] if e["type"] != "referrals_sent") == ["slot_earned"] * 2 + ["slot_used"] * 2


def test_using_a_slot_needs_a_known_agency_and_a_short_note(services, sandbox):
    with pytest.raises(NotFound):
        services.agencies.use_slot("acme", "nobody", {}, by="admin")
    with pytest.raises(BadRequest):
        services.agencies.use_slot("acme", "sandbox", {"note": "x" * 501}, by="admin")
    with pytest.raises(NotFound):
        services.agencies.ledger("acme", "nobody")


# -- the run lease ------------------------------------------------------------------------------------

def test_a_run_holding_the_lease_makes_another_run_busy(services, clock, sandbox):
    consented(services, clock, 2)
    meanwhile: list[dict] = []

    def answer_while_another_run_starts(referrals: Sequence[Mapping[str, Any]]) -> list[ReferralResult]:
        meanwhile.extend(run(services))  # the schedule and an admin's click at once
        return [ReferralResult(str(r["referral_id"]), "accepted") for r in referrals]

    sandbox.script(answer_while_another_run_starts, "accepted")

    [report] = run(services)

    assert [r["status"] for r in meanwhile] == ["busy"] and meanwhile[0]["sent"] == 0
    assert report["accepted"] == 2 and len(sandbox.sent) == 1
    assert run(services)[0]["status"] == "ok"  # the lease was released


def test_a_dead_runs_lease_lapses(services, clock, sandbox):
    consented(services, clock, 1)
    assert services.ports.referrals.acquire("acme", "sandbox", 600)  # a run that died holding it

    assert run(services)[0]["status"] == "busy" and sandbox.sent == []
    clock.advance(seconds=601)
    assert run(services)[0]["accepted"] == 1


def test_the_scheduled_run_serves_every_tenant(services, clock, sandbox):
    consented(services, clock, 1)

    reports = services.agencies.run_all_agency_batches()

    assert [(r["agency"], r["accepted"]) for r in reports] == [("sandbox", 1)]


# -- configuration ----------------------------------------------------------------------------------

@pytest.mark.parametrize("change,needle", [
    ({"country": "Japan"}, "country"), ({"endpoint": "ftp://x"}, "endpoint"), ({"data_items": ["salary"]}, "data_items"),
    ({"batch_size": 0}, "batch_size"), ({"auth": {"type": "basic"}}, "auth"),
    ({"auth": {"type": "standard_webhooks", "secret": "not-whsec-secret"}}, "whsec"), ({"extra": 1}, "unknown"),
    ({"client": "nobody"}, "client"),
])
def test_bad_agency_configurations_are_refused(services, acme, change, needle):
    with pytest.raises(BadRequest, match=needle):
        configure(services, "a", **change)
    assert services.configuration.agency_documents("acme") == []


def test_agency_secrets_are_kept_with_the_credentials_not_in_the_configuration(services, acme):
    answer = configure(services)

    assert TOKEN not in json.dumps(answer)
    assert TOKEN not in json.dumps(services.ports.config.get("acme", "agency", ("sandbox",)).data)
    assert services.ports.credentials.agency_auth("acme", "sandbox") == {"type": "bearer", "token": TOKEN}
    assert services.agencies.agency("acme", "sandbox").legal_name == LEGAL_NAME


def test_once_the_circuit_opens_the_run_calls_the_agency_no_more(services, clock, sandbox):
    consented(services, clock, 40)  # four batches of ten
    sandbox.script(RetryableError("500 from the agency"))

    [report] = run(services)

    assert report["status"] == "circuit_open"
    assert len(sandbox.sent) == 3 * 3  # three batches failed three tries each; the circuit is open


def test_an_agency_whose_credentials_cannot_be_read_does_not_hold_up_another():
    clock = Clock()
    services = build(clock, credentials=CredentialsStoreDownFor("broken", clock=clock))
    open_acme(services)
    configure(services, "broken", "https://broken.example.test")
    configure(services, "healthy", "https://healthy.example.test")
    consented(services, clock, 2)

    reports = {r["agency"]: r for r in run(services)}

    assert reports["healthy"]["accepted"] == 2
    assert reports["broken"]["status"] == "try_again"


class CredentialsStoreDownFor(FakeCredentials):
    """Secrets Manager does not answer for one agency's credentials."""

    def __init__(self, agency: str, *, clock: Clock) -> None:
        super().__init__(clock=clock)
        self._down = agency

    def agency_auth(self, tenant: str, agency: str) -> dict[str, str]:
        if agency == self._down:
            raise RetryableError("the credentials store did not answer")
        return super().agency_auth(tenant, agency)
