"""The contract of the Referrals port on both sides (`stores`): every move of a referral happens
once, the ledger credits a slot at each multiple of the agency's rule, records outlive erasure."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chalicelib.domain.events import iso
from chalicelib.domain.records import AgencyState, Answer, Batch, Referral
from chalicelib.domain.referrals import Agency
from tests.contract.port_cases import ALPHA, MISSING, TENANT, consent, consented, provisions
from tests.fakes import Stores

EMPTY_LEDGER = {"referrals_sent": 0, "referrals_accepted": 0, "referrals_declined": 0, "slots_earned": 0, "slots_used": 0,
                "referrals_held": 0}


def claimed_batch(stores: Stores, agency: Agency = ALPHA) -> tuple[Batch, dict[str, Referral]]:
    """Every queued referral of the agency claimed into one new batch; the batch and its members by person."""
    queued = stores.referrals.queued(TENANT, agency.slug, 100)
    batch = stores.referrals.new_batch(TENANT, agency.slug)
    stores.referrals.claim(TENANT, queued, batch, agency, provisions(stores, queued, agency))
    return batch, {m.person_id: m for m in stores.referrals.members(TENANT, batch)}


def test_a_referral_moves_from_queued_through_a_batch_to_its_answer(stores: Stores) -> None:
    referrals = stores.referrals
    a, b, c = consented(stores, "a1"), consented(stores, "b1"), consented(stores, "c1")
    queued = referrals.queued(TENANT, "alpha", 10)
    assert sorted(r.person_id for r in queued) == sorted([a, b, c]) and {r.status for r in queued} == {"queued"}
    assert len({r.referral_id for r in queued}) == 3
    batch = referrals.new_batch(TENANT, "alpha")
    assert (batch.tenant, batch.agency, batch.status, batch.members, batch.attempts) == (TENANT, "alpha", "sending", [], 0)
    assert batch.batch_id and batch.idempotency_key
    assert [open_.batch_id for open_ in referrals.open_batches(TENANT, "alpha")] == [batch.batch_id]

    claimed = referrals.claim(TENANT, queued, batch, ALPHA, provisions(stores, queued))
    assert sorted(claimed) == sorted([a, b, c]) and sorted(batch.members) == sorted(claimed)
    assert referrals.queued(TENANT, "alpha", 10) == []
    assert referrals.claim(TENANT, queued, batch, ALPHA, provisions(stores, queued)) == []  # claimed already
    members = {m.person_id: m for m in referrals.members(TENANT, batch)}
    assert set(members) == {a, b, c}
    assert {(m.status, m.batch_id) for m in members.values()} == {("sending", batch.batch_id)}
    assert referrals.ledger_counts(TENANT, "alpha") == {**EMPTY_LEDGER, "referrals_sent": 3}
    [record] = referrals.provisions(TENANT, a)
    assert (record["person_id"], record["agency"], record["batch_id"], record["idempotency_key"]) == (
        a, "alpha", batch.batch_id, batch.idempotency_key)
    assert record["referral_id"] == members[a].referral_id and record["agency_answer"] is None
    assert record["recipient"]["legal_name"] == ALPHA.legal_name and record["data_items"] == ["name", "email"]
    assert record["consent"]["version"] == members[a].consent_version == ALPHA.consent_version and record["keep_until"]
    assert record["consent"]["text_version"] == members[a].text_version == "ja-0123456789abcdef"
    [sent] = [e for e in referrals.ledger_entries(TENANT, "alpha") if e["type"] == "referrals_sent"]
    assert (sent["batch_id"], sent["referrals"], sent["consent_version"]) == (batch.batch_id, 3, ALPHA.consent_version)
    profile = stores.relations.profile(TENANT, a)
    assert profile is not None and "referred" in [e["type"] for e in profile.timeline]

    answers = [Answer(members[a], "accepted", "AG-1"), Answer(members[b], "declined"), Answer(members[c], "duplicate", "AG-3")]
    assert referrals.settle(TENANT, ALPHA, answers) == ["accepted", "declined", "accepted"]
    assert referrals.settle(TENANT, ALPHA, answers[:1]) == [None]
    assert referrals.ledger_counts(TENANT, "alpha") == {
        **EMPTY_LEDGER, "referrals_sent": 3, "referrals_accepted": 2, "referrals_declined": 1}
    assert {m.person_id: m.status for m in referrals.members(TENANT, batch)} == {a: "accepted", b: "declined", c: "accepted"}
    assert [r["agency_answer"] for r in referrals.provisions(TENANT, c)] == ["duplicate"]
    assert [r["agency_answer"] for r in referrals.provisions(TENANT, a)] == ["accepted"]
    totals = stores.counters.totals(TENANT)
    assert totals["referrals.sent"] == 3 and totals["referrals.sent.alpha"] == 3
    assert totals["referrals.accepted"] == 2 and totals["referrals.declined"] == 1
    held = stores.relations.held(TENANT, a)
    assert held is not None and [r["status"] for r in held.referrals] == ["accepted"]

    referrals.close_batch(batch)
    assert referrals.open_batches(TENANT, "alpha") == []


def test_a_slot_is_credited_at_every_tenth_accepted_exactly_once(stores: Stores) -> None:
    people = [consented(stores, f"p{i:02d}") for i in range(12)]
    _, members = claimed_batch(stores)
    answers = [Answer(members[pid], "accepted", f"AG-{i}") for i, pid in enumerate(people)]

    assert stores.referrals.settle(TENANT, ALPHA, answers[:9]) == ["accepted"] * 9
    assert stores.referrals.ledger_counts(TENANT, "alpha")["slots_earned"] == 0
    assert stores.referrals.settle(TENANT, ALPHA, [answers[0], *answers[9:]]) == [None, "accepted", "accepted", "accepted"]
    assert stores.referrals.settle(TENANT, ALPHA, answers) == [None] * 12
    assert stores.referrals.ledger_counts(TENANT, "alpha") == {
        **EMPTY_LEDGER, "referrals_sent": 12, "referrals_accepted": 12, "slots_earned": 1}
    earned = [e for e in stores.referrals.ledger_entries(TENANT, "alpha") if e["type"] == "slot_earned"]
    assert [e["accepted_total"] for e in earned] == [10]
    assert stores.counters.totals(TENANT)["slots.earned"] == 1


def test_a_claim_takes_only_referrals_whose_consent_still_stands(stores: Stores) -> None:
    a, b, c = consented(stores, "a1"), consented(stores, "b1"), consented(stores, "c1")
    queued = stores.referrals.queued(TENANT, "alpha", 10)  # read before the changes below
    stores.clock.advance(minutes=1)
    consent(stores, b, relay=False)
    assert stores.relations.erase(TENANT, c)

    batch = stores.referrals.new_batch(TENANT, "alpha")
    assert stores.referrals.claim(TENANT, queued, batch, ALPHA, provisions(stores, queued)) == [a]
    assert batch.members == [a]
    assert [m.person_id for m in stores.referrals.members(TENANT, batch)] == [a]
    assert stores.referrals.provisions(TENANT, b) == [] and stores.referrals.provisions(TENANT, c) == []
    assert stores.referrals.ledger_counts(TENANT, "alpha")["referrals_sent"] == 1
    assert stores.referrals.queued(TENANT, "alpha", 10) == []


def statuses(stores: Stores, *people: str) -> list[str]:
    found = []
    for person_id in people:
        held = stores.relations.held(TENANT, person_id)
        assert held is not None
        found.append(next(r["status"] for r in held.referrals if r["agency"] == "alpha"))
    return found


def test_a_claim_holds_referrals_consented_under_another_version_and_a_renewal_queues_them_once(stores: Stores) -> None:
    a, b = consented(stores, "a1"), consented(stores, "b1")
    moved = replace(ALPHA, legal_name="Another Entity KK")  # what a run sends under after the edit
    queued = stores.referrals.queued(TENANT, "alpha", 10)
    assert {r.consent_version for r in queued} == {ALPHA.consent_version} != {moved.consent_version}

    batch = stores.referrals.new_batch(TENANT, "alpha")
    assert stores.referrals.claim(TENANT, queued, batch, moved, provisions(stores, queued, moved)) == []
    assert batch.members == [] and stores.referrals.members(TENANT, batch) == []
    assert statuses(stores, a, b) == ["reconsent_needed"] * 2 and stores.referrals.queued(TENANT, "alpha", 10) == []
    assert stores.referrals.provisions(TENANT, a) == []
    assert stores.referrals.ledger_counts(TENANT, "alpha") == {**EMPTY_LEDGER, "referrals_held": 2}
    assert stores.counters.totals(TENANT).get("referrals.sent", 0) == 0

    for _ in range(2):
        stores.clock.advance(seconds=1)
        stores.relations.record_decision(TENANT, a, {"relay": True, "openings": True, "renew": True},
                                         at=stores.clock.now(), version="ja-fedcba9876543210", score=None,
                                         token_ref=None, agencies={"alpha": moved.consent_version})
    [requeued] = stores.referrals.queued(TENANT, "alpha", 10)
    assert (requeued.person_id, requeued.consent_version, requeued.text_version) == (
        a, moved.consent_version, "ja-fedcba9876543210")
    again = stores.referrals.new_batch(TENANT, "alpha")
    assert stores.referrals.claim(TENANT, [requeued], again, moved, provisions(stores, [requeued], moved)) == [a]
    [record] = stores.referrals.provisions(TENANT, a)
    assert record["consent"]["version"] == moved.consent_version and record["recipient"]["legal_name"] == "Another Entity KK"
    assert statuses(stores, a, b) == ["sending", "reconsent_needed"]


def test_hold_moves_a_referral_once_from_queued_or_sending_as_read(stores: Stores) -> None:
    a, b = consented(stores, "a1"), consented(stores, "b1")
    _, members = claimed_batch(stores)
    c = consented(stores, "c1")
    [queued] = stores.referrals.queued(TENANT, "alpha", 10)

    assert stores.referrals.hold(TENANT, queued) is True and stores.referrals.hold(TENANT, queued) is False
    assert stores.referrals.hold(TENANT, replace(members[b], consent_version="r-0000000000000000")) is False
    assert stores.referrals.hold(TENANT, members[a]) is True  # an open batch's member, not sent again
    assert statuses(stores, a, b, c) == ["reconsent_needed", "sending", "reconsent_needed"]
    assert [r["agency_answer"] for r in stores.referrals.provisions(TENANT, a)] == ["held: reconsent_needed"]
    assert stores.referrals.queued(TENANT, "alpha", 10) == []
    assert stores.referrals.ledger_counts(TENANT, "alpha")["referrals_held"] == 2
    assert stores.referrals.settle(TENANT, ALPHA, [Answer(members[a], "accepted")]) == [None]  # held: not settled

    stores.clock.advance(minutes=1)
    consent(stores, c, relay=False)  # held before any batch: nothing left the hub
    consent(stores, a, relay=False)  # held after a batch tried it: it may have arrived, the agency is told
    assert statuses(stores, a, c) == ["reconsent_needed", "withdrawn"]
    assert [r.person_id for r in stores.referrals.pending_withdrawals(TENANT, "alpha")] == [a]


def test_a_failed_referral_is_failed_once_and_never_settled(stores: Stores) -> None:
    a, b = consented(stores, "a1"), consented(stores, "b1")
    batch, members = claimed_batch(stores)
    waiting = consented(stores, "c1")
    [queued] = stores.referrals.queued(TENANT, "alpha", 10)

    stores.referrals.fail(TENANT, members[a], "partner_refused")
    stores.referrals.fail(TENANT, members[a], "again")
    stores.referrals.fail(TENANT, queued, "not sent")  # only a referral being sent can fail
    assert {m.person_id: m.status for m in stores.referrals.members(TENANT, batch)} == {a: "failed", b: "sending"}
    assert [r["agency_answer"] for r in stores.referrals.provisions(TENANT, a)] == ["failed: partner_refused"]
    assert stores.referrals.settle(TENANT, ALPHA, [Answer(members[a], "accepted"), Answer(members[b], "accepted")]) == [
        None, "accepted"]
    assert [r.person_id for r in stores.referrals.queued(TENANT, "alpha", 10)] == [waiting]


def test_a_batch_stays_open_until_closed_or_parked(stores: Stores) -> None:
    referrals = stores.referrals
    first = referrals.new_batch(TENANT, "alpha")
    stores.clock.advance(seconds=1)
    second = referrals.new_batch(TENANT, "alpha")
    assert first.batch_id != second.batch_id and first.idempotency_key != second.idempotency_key
    assert [b.batch_id for b in referrals.open_batches(TENANT, "alpha")] == [first.batch_id, second.batch_id]

    referrals.batch_attempted(first, "timeout")
    assert first.attempts == 1
    assert [(b.batch_id, b.attempts) for b in referrals.open_batches(TENANT, "alpha")] == [
        (first.batch_id, 1), (second.batch_id, 0)]
    referrals.batch_attempted(first, "timeout", park=True)
    assert [b.batch_id for b in referrals.open_batches(TENANT, "alpha")] == [second.batch_id]
    referrals.close_batch(second, "empty")
    assert referrals.open_batches(TENANT, "alpha") == [] and referrals.open_batches(TENANT, "beta") == []


def test_a_run_lease_is_held_until_released_or_lapsed(stores: Stores) -> None:
    referrals = stores.referrals
    assert referrals.acquire(TENANT, "alpha", 600) is True
    assert referrals.acquire(TENANT, "alpha", 600) is False
    assert referrals.acquire(TENANT, "beta", 600) is True
    referrals.release(TENANT, "alpha")
    assert referrals.acquire(TENANT, "alpha", 600) is True
    stores.clock.advance(seconds=599)
    assert referrals.acquire(TENANT, "alpha", 600) is False
    stores.clock.advance(seconds=2)
    assert referrals.acquire(TENANT, "alpha", 600) is True  # the run that held it died


def test_an_agencys_circuit_state_is_kept(stores: Stores) -> None:
    referrals = stores.referrals
    assert referrals.state(TENANT, "alpha") == AgencyState(0, None)
    paused_until = iso(stores.clock.now() + timedelta(minutes=15))

    referrals.save_state(TENANT, "alpha", 3, paused_until)
    assert referrals.acquire(TENANT, "alpha", 60) is True
    assert referrals.state(TENANT, "alpha") == AgencyState(3, paused_until)
    referrals.save_state(TENANT, "alpha", 0, None)
    assert referrals.state(TENANT, "alpha") == AgencyState(0, None)
    assert referrals.state(TENANT, "beta") == AgencyState(0, None)


def test_a_slot_is_used_until_the_balance_is_zero(stores: Stores) -> None:
    per_one = replace(ALPHA, referrals_per_slot=1)
    a, b = consented(stores, "a1"), consented(stores, "b1")
    _, members = claimed_batch(stores, per_one)
    assert stores.referrals.settle(TENANT, per_one, [Answer(members[a], "accepted"), Answer(members[b], "accepted")]) == [
        "accepted", "accepted"]
    assert stores.referrals.use_slot(TENANT, "beta", note=None, by="admin") is None

    first = stores.referrals.use_slot(TENANT, "alpha", note="hired via Alpha", by="admin")
    stores.clock.advance(seconds=1)
    second = stores.referrals.use_slot(TENANT, "alpha", note=None, by="admin")
    assert first is not None and second is not None
    assert (first["type"], first["note"], first["by"], first["balance_after"]) == ("slot_used", "hired via Alpha", "admin", 1)
    assert second["balance_after"] == 0
    assert stores.referrals.use_slot(TENANT, "alpha", note=None, by="admin") is None
    assert stores.referrals.ledger_counts(TENANT, "alpha") == {
        **EMPTY_LEDGER, "referrals_sent": 2, "referrals_accepted": 2, "slots_earned": 2, "slots_used": 2}
    assert sorted(e["type"] for e in stores.referrals.ledger_entries(TENANT, "alpha")
                  if e["type"] != "referrals_sent") == ["slot_earned"] * 2 + ["slot_used"] * 2
    assert stores.counters.totals(TENANT)["slots.used"] == 2


def test_erasure_keeps_provision_records_and_tells_the_agency(stores: Stores) -> None:
    sent = consented(stores, "a1")
    _, members = claimed_batch(stores)
    stores.referrals.settle(TENANT, ALPHA, [Answer(members[sent], "accepted", "AG-1")])
    waiting = consented(stores, "b1")
    stores.clock.advance(minutes=1)

    assert stores.relations.erase(TENANT, sent) and stores.relations.erase(TENANT, waiting)
    assert [(r["agency"], r["agency_answer"]) for r in stores.referrals.provisions(TENANT, sent)] == [("alpha", "accepted")]
    assert stores.referrals.queued(TENANT, "alpha", 10) == []  # nothing of the queued one left the hub
    [withdrawal] = stores.referrals.pending_withdrawals(TENANT, "alpha")
    assert (withdrawal.person_id, withdrawal.referral_id) == (sent, members[sent].referral_id)
    stores.referrals.withdrawal_sent(withdrawal)
    assert stores.referrals.pending_withdrawals(TENANT, "alpha") == []
    assert stores.referrals.provisions(TENANT, MISSING) == []


def test_withdrawing_consent_after_sending_asks_the_agency_to_forget(stores: Stores) -> None:
    pid = consented(stores, "a1")
    _, members = claimed_batch(stores)
    stores.clock.advance(minutes=1)

    consent(stores, pid, relay=False)
    [withdrawal] = stores.referrals.pending_withdrawals(TENANT, "alpha")
    assert (withdrawal.person_id, withdrawal.referral_id, withdrawal.status) == (pid, members[pid].referral_id, "sending")
    withdrawn_at = stores.clock.advance(minutes=1)
    stores.referrals.withdrawal_sent(withdrawal)
    assert stores.referrals.pending_withdrawals(TENANT, "alpha") == []
    held = stores.relations.held(TENANT, pid)
    assert held is not None and [r["withdrawn_at"] for r in held.referrals] == [iso(withdrawn_at)]
