"""Career Relay referrals, batches, provision records, the slot ledger and each agency's circuit
(the Referrals port).

Every state change is a conditional write, so a referral moves queued -> sending -> accepted |
declined | failed exactly once, whatever runs twice; the ledger credits a slot exactly when the
accepted count crosses the agency's rule (chalicelib.domain.referrals.slots_for)."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from pynamodb.attributes import UnicodeAttribute
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamo import convert, keys, keys_ledger, reads
from chalicelib.adapters.dynamo.models import (
    AgencyStateItem,
    BatchItem,
    HubItem,
    LedgerEntryItem,
    PersonItem,
    ProvisionItem,
    ReferralItem,
    TimelineItem,
)
from chalicelib.adapters.dynamo.transaction import Raced, Transaction, conditional, retry_on_race
from chalicelib.domain import counters, referrals
from chalicelib.domain.events import iso
from chalicelib.domain.records import AgencyState, Answer, Batch, JsonDict, Referral
from chalicelib.domain.referrals import Agency, slots_for

CLAIM_GROUP = 20   # referrals per claim transaction (4 actions each; DynamoDB takes 100 per transaction)
# answers per settle transaction: up to 5 actions each (the referral, its timeline entry, its provision
# record, its accepted entry, a slot entry when it earns one), the ledger's and the counters' (<= 100)
SETTLE_GROUP = 18
_WHAT = "the referrals store"
T = TypeVar("T")


def _groups(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _add(counts: dict[str, int], name: str) -> None:
    counts[name] = counts.get(name, 0) + 1


def _set_or_remove(attribute: UnicodeAttribute, value: str | None) -> Action:
    return attribute.set(value) if value is not None else attribute.remove()


def _item(referral: Referral) -> ReferralItem:
    return ReferralItem(*keys.referral_key(referral.tenant, referral.person_id, referral.agency))


def _batch_item(batch: Batch) -> BatchItem:
    return BatchItem(*keys.batch_key(batch.tenant, batch.agency, batch.batch_id))


class DynamoReferrals:
    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def _now(self) -> str:
        return iso(self._clock())

    # -- selection (sparse indexes: reads grow with the work, not with the people stored) --------

    def queued(self, tenant: str, agency: str, limit: int) -> list[Referral]:
        return [convert.referral(item, tenant) for item in HubItem.gsi1.query(keys.queued_pk(tenant, agency), limit=limit)
                if isinstance(item, ReferralItem)]

    def open_batches(self, tenant: str, agency: str) -> list[Batch]:
        return [convert.batch(item, tenant) for item in HubItem.gsi1.query(keys.open_batches_pk(tenant, agency), limit=50)
                if isinstance(item, BatchItem)]

    def pending_withdrawals(self, tenant: str, agency: str) -> list[Referral]:
        return [convert.referral(item, tenant) for item in HubItem.gsi1.query(keys.withdrawals_pk(tenant, agency), limit=100)
                if isinstance(item, ReferralItem)]

    def withdrawal_sent(self, referral: Referral) -> None:
        _item(referral).update(actions=[ReferralItem.withdrawn_at.set(self._now()), ReferralItem.gsi1pk.remove(),
                                        ReferralItem.gsi1sk.remove()])

    # -- batches -----------------------------------------------------------------------------------

    def new_batch(self, tenant: str, agency: str) -> Batch:
        item = convert.new_batch_item(tenant, agency, "b_" + uuid.uuid4().hex, self._now())
        item.save()
        return convert.batch(item, tenant)

    def claim(self, tenant: str, queued: Sequence[Referral], batch: Batch, agency: Agency,
              provisions: Mapping[str, JsonDict]) -> list[str]:
        """The transaction before any data leaves, for a group of referrals: consent still stands
        (checked on each person), the provision records are written, the referrals move queued ->
        sending, the batch lists them. When any condition fails, each is claimed on its own, so one
        withdrawal or another run's claim costs only its own referral. The person ids claimed."""
        claimed: list[str] = []
        for group in _groups(queued, CLAIM_GROUP):
            if len(group) > 1 and self._claim_group(tenant, group, batch, agency, provisions):
                claimed += [referral.person_id for referral in group]
                continue
            claimed += [referral.person_id for referral in group
                        if self._claim_group(tenant, [referral], batch, agency, provisions)]
        return claimed

    def _claim_group(self, tenant: str, group: list[Referral], batch: Batch, agency: Agency,
                     provisions: Mapping[str, JsonDict]) -> bool:
        now = self._now()
        people = [referral.person_id for referral in group]
        version = agency.consent_version
        try:
            with Transaction(_WHAT) as tx:
                for referral in group:
                    provision = convert.provision_item(referral, batch, now, provisions[referral.person_id])
                    tx.condition_check(PersonItem, keys.profile_key(tenant, referral.person_id),
                                       PersonItem.relay_consent_at.exists())
                    tx.update(_item(referral), actions=[
                        ReferralItem.status.set("sending"), ReferralItem.batch_id.set(batch.batch_id),
                        ReferralItem.idempotency_key.set(batch.idempotency_key), ReferralItem.provision_sk.set(provision.sk),
                        ReferralItem.gsi1pk.remove(), ReferralItem.gsi1sk.remove()],
                        condition=(ReferralItem.status == "queued") & (ReferralItem.consent_version == version))
                    tx.save(provision)
                    tx.save(TimelineItem(keys.person_pk(tenant, referral.person_id), keys.referred_sk(now, agency.slug), entry={
                        "type": "referred", "agency": agency.slug, "occurred_at": now, "referral_id": referral.referral_id,
                        "consent_version": version}))
                tx.update(_batch_item(batch), actions=[BatchItem.members.set(BatchItem.members.append(people))],
                          condition=BatchItem.status == "sending")
                tx.add_ledger(tenant, agency.slug, {counters.LEDGER_SENT: len(group)})
                tx.save(LedgerEntryItem(keys.agency_pk(tenant, agency.slug), keys.sent_sk(now, batch.batch_id, people[0]),
                                        entry={"type": "referrals_sent", "at": now, "batch_id": batch.batch_id,
                                               "referrals": len(group), "consent_version": version}))
                tx.count(tenant, now, {counters.REFERRALS_SENT: len(group),
                                            counters.referrals_sent_to(agency.slug): len(group)})
        except Raced:
            if len(group) == 1:
                self._settle_unclaimed(group[0], agency)
            return False
        batch.members = list(batch.members) + people
        return True

    def _settle_unclaimed(self, referral: Referral, agency: Agency) -> None:
        """A referral its claim refused: withdrawn when consent is gone, held when it was consented
        under another version of the agency; else someone else moved it, nothing to do."""
        try:
            person = PersonItem.get(*keys.profile_key(referral.tenant, referral.person_id), consistent_read=True)
        except PersonItem.DoesNotExist:
            person = None
        if person is None or not person.relay_consent_at:
            conditional(lambda: _item(referral).update(actions=[
                ReferralItem.status.set("withdrawn"), ReferralItem.decided_at.set(self._now()),
                ReferralItem.gsi1pk.remove(), ReferralItem.gsi1sk.remove()], condition=ReferralItem.status == "queued"),
                _WHAT)  # False: someone else moved it, nothing to do
        elif referral.consent_version != agency.consent_version:
            self.hold(referral.tenant, referral)

    def hold(self, tenant: str, referral: Referral) -> bool:
        """queued | sending (as read, under the version read) -> reconsent_needed, out of the queue,
        counted in the ledger; a provision record written for it says it was held."""
        now = self._now()
        try:
            with Transaction(_WHAT) as tx:
                tx.update(_item(referral), actions=[
                    ReferralItem.status.set(referrals.HELD), ReferralItem.decided_at.set(now),
                    ReferralItem.gsi1pk.remove(), ReferralItem.gsi1sk.remove()],
                    condition=(ReferralItem.status == referral.status)
                    & (ReferralItem.consent_version == referral.consent_version))
                tx.add_ledger(tenant, referral.agency, {counters.LEDGER_HELD: 1})
        except Raced:
            return False
        if referral.status == "sending":
            self._answer_provision(referral, f"held: {referrals.HELD}")
        return True

    def members(self, tenant: str, batch: Batch) -> list[Referral]:
        wanted = [keys.referral_key(tenant, person_id, batch.agency) for person_id in batch.members]
        found = reads.batch_get(wanted)
        return [convert.referral(item, tenant) for key in wanted if isinstance(item := found.get(key), ReferralItem)]

    def batch_attempted(self, batch: Batch, error: str | None, *, park: bool = False) -> None:
        actions: list[Action] = [BatchItem.attempts.add(1), _set_or_remove(BatchItem.last_error, error)]
        if park:
            actions += [BatchItem.status.set("parked"), BatchItem.gsi1pk.remove(), BatchItem.gsi1sk.remove()]
        _batch_item(batch).update(actions=actions)
        batch.attempts += 1
        if park:
            batch.status = "parked"

    def close_batch(self, batch: Batch, status: str = "done") -> None:
        _batch_item(batch).update(actions=[BatchItem.status.set(status), BatchItem.gsi1pk.remove(), BatchItem.gsi1sk.remove()])
        batch.status = status

    # -- outcomes ----------------------------------------------------------------------------------

    def settle(self, tenant: str, agency: Agency, answers: Sequence[Answer]) -> list[str | None]:
        """Record answers exactly once (referral, timeline, provision record's answer, counters, and
        the ledger), a group per transaction on one read of the ledger; a group that meets a changed
        ledger or an answer recorded already goes again one by one, reading afresh. Per answer: its
        outcome, or None when it was recorded before."""
        outcomes: list[str | None] = []
        accepted = self.ledger_counts(tenant, agency.slug)[counters.LEDGER_ACCEPTED]
        for group in _groups(answers, SETTLE_GROUP):
            if len(group) > 1:
                try:
                    done = self._settle_group(tenant, agency, group, accepted)
                except Raced:
                    pass
                else:
                    outcomes += done
                    accepted += done.count("accepted")
                    continue
            outcomes += [self._settle_one(tenant, agency, answer) for answer in group]
            accepted = self.ledger_counts(tenant, agency.slug)[counters.LEDGER_ACCEPTED]
        return outcomes

    def _settle_one(self, tenant: str, agency: Agency, answer: Answer) -> str | None:
        def attempt() -> str | None:
            try:
                current = ReferralItem.get(*keys.referral_key(tenant, answer.referral.person_id, answer.referral.agency),
                                           consistent_read=True)
            except ReferralItem.DoesNotExist:
                return None
            if current.status != "sending":
                return None  # recorded before
            accepted = self.ledger_counts(tenant, agency.slug)[counters.LEDGER_ACCEPTED]
            fresh = Answer(convert.referral(current, tenant), answer.status, answer.agency_ref)
            return self._settle_group(tenant, agency, [fresh], accepted)[0]
        return retry_on_race(attempt, what="the ledger")

    def _settle_group(self, tenant: str, agency: Agency, group: list[Answer], accepted: int) -> list[str]:
        """Raced when an answer was recorded meanwhile or the ledger moved on from `accepted`."""
        now = self._now()
        outcomes = ["accepted" if answer.status in ("accepted", "duplicate") else "declined" for answer in group]
        ledger: dict[str, int] = {}
        counts: dict[str, int] = {}
        per_slot = agency.referrals_per_slot
        with Transaction(_WHAT) as tx:
            running = accepted
            for answer, outcome in zip(group, outcomes, strict=True):
                referral = answer.referral
                tx.update(_item(referral), actions=[
                    ReferralItem.status.set(outcome), _set_or_remove(ReferralItem.agency_ref, answer.agency_ref),
                    ReferralItem.decided_at.set(now)], condition=ReferralItem.status == "sending")
                tx.save(TimelineItem(keys.person_pk(tenant, referral.person_id), keys.answered_sk(now, agency.slug), entry={
                    "type": f"referral_{outcome}", "agency": agency.slug, "occurred_at": now,
                    "referral_id": referral.referral_id, "agency_answer": answer.status}))
                if referral.provision:
                    tx.update(ProvisionItem(keys.provision_pk(tenant, referral.person_id), referral.provision),
                              actions=[ProvisionItem.agency_answer.set(answer.status)])
                _add(ledger, counters.ledger(outcome))
                _add(counts, counters.referrals(outcome))
                if outcome == "accepted":
                    running += 1
                    tx.save(LedgerEntryItem(keys.agency_pk(tenant, agency.slug), keys_ledger.accepted_sk(running), entry={
                        "type": "referral_accepted", "n": running, "at": now, "referral_id": referral.referral_id,
                        "person_id": referral.person_id, "batch_id": referral.batch_id}))
                    if slots_for(running, per_slot) > slots_for(running - 1, per_slot):
                        _add(ledger, counters.LEDGER_SLOTS_EARNED)
                        _add(counts, counters.SLOTS_EARNED)
                        tx.save(LedgerEntryItem(keys.agency_pk(tenant, agency.slug), keys.slot_earned_sk(now, running), entry={
                            "type": "slot_earned", "at": now, "accepted_total": running,
                            "rule": f"{per_slot} accepted referrals = 1 slot"}))
            tx.add_ledger(tenant, agency.slug, ledger, expected_accepted=accepted)
            tx.count(tenant, now, counts)
        for answer in group:
            if not answer.referral.provision:  # claimed before provision records were linked from the referral
                self._answer_provision(answer.referral, answer.status)
        return outcomes

    def fail(self, tenant: str, referral: Referral, error: str) -> None:
        failed = conditional(lambda: _item(referral).update(actions=[
            ReferralItem.status.set("failed"), ReferralItem.decided_at.set(self._now())],
            condition=ReferralItem.status == "sending"), _WHAT)
        if failed:  # (not: settled meanwhile)
            self._answer_provision(referral, f"failed: {error}")

    def _answer_provision(self, referral: Referral, answer: str) -> None:
        for item in ProvisionItem.query(keys.provision_pk(referral.tenant, referral.person_id),
                                        filter_condition=(ProvisionItem.batch_id == referral.batch_id)
                                        & (ProvisionItem.agency == referral.agency)):
            ProvisionItem(item.pk, item.sk).update(actions=[ProvisionItem.agency_answer.set(answer)])

    def provisions(self, tenant: str, person_id: str) -> list[JsonDict]:
        return [convert.provision_document(item) for item in ProvisionItem.query(keys.provision_pk(tenant, person_id))]

    # -- the ledger and the circuit -----------------------------------------------------------------

    def ledger_counts(self, tenant: str, agency: str) -> dict[str, int]:
        found = convert.numbers(reads.raw_item(keys.ledger_key(tenant, agency)))
        return {name: found.get(name, 0) for name in counters.LEDGER_FIELDS}

    def ledger_entries(self, tenant: str, agency: str) -> list[JsonDict]:
        return [item.entry for item in LedgerEntryItem.query(
            keys.agency_pk(tenant, agency), LedgerEntryItem.sk.startswith(keys.LEDGER_ENTRY_PREFIX))]

    # -- e20-programs: which referrals earned which slot, and the recent batches --------------------
    def accepted_referrals(self, tenant: str, agency: str, first: int, last: int) -> list[JsonDict]:
        """The first..last accepted referrals of the agency (n, at, referral_id, person_id, batch_id)."""
        if last < first:
            return []
        return [item.entry for item in LedgerEntryItem.query(
            keys.agency_pk(tenant, agency), LedgerEntryItem.sk.between(keys_ledger.accepted_sk(first), keys_ledger.accepted_sk(last)))]

    def recent_batches(self, tenant: str, agency: str, limit: int) -> list[JsonDict]:
        """The agency's batches, newest first (at most `limit`): status, members, attempts, last error."""
        found = [item for item in BatchItem.query(keys.agency_pk(tenant, agency), BatchItem.sk.startswith(keys_ledger.batches_prefix()),
                                                  limit=1000) if isinstance(item, BatchItem)]
        found.sort(key=lambda item: item.created_at, reverse=True)
        return [{"batch_id": keys.batch_id_of(item.sk), "created_at": item.created_at, "status": item.status,
                 "members": len(item.members or []), "attempts": int(item.attempts or 0), "last_error": item.last_error}
                for item in found[:limit]]
    # -- end e20-programs

    def use_slot(self, tenant: str, agency: str, *, note: str | None, by: str) -> JsonDict | None:
        """Record one slot used; None when the balance is 0."""
        def attempt() -> JsonDict | None:
            counts = self.ledger_counts(tenant, agency)
            used, balance = counts[counters.LEDGER_SLOTS_USED], counts[counters.LEDGER_SLOTS_EARNED] - counts[counters.LEDGER_SLOTS_USED]
            if balance <= 0:
                return None
            now = self._now()
            entry = {"type": "slot_used", "at": now, "note": note, "by": by, "balance_after": balance - 1}
            with Transaction("the ledger") as tx:
                tx.use_slot(tenant, agency, expected_used=used)
                tx.save(LedgerEntryItem(keys.agency_pk(tenant, agency), keys.slot_used_sk(now, used + 1), entry=entry))
                tx.count(tenant, now, {counters.SLOTS_USED: 1})
            return entry
        return retry_on_race(attempt, what="the ledger")

    def state(self, tenant: str, agency: str) -> AgencyState:
        try:
            item = AgencyStateItem.get(*keys.state_key(tenant, agency), consistent_read=True)
        except AgencyStateItem.DoesNotExist:
            return AgencyState()
        return AgencyState(consecutive_failures=int(item.consecutive_failures or 0), paused_until=item.paused_until)

    def save_state(self, tenant: str, agency: str, failures: int, paused_until: str | None) -> None:
        AgencyStateItem(*keys.state_key(tenant, agency)).update(actions=[
            AgencyStateItem.consecutive_failures.set(failures), AgencyStateItem.updated_at.set(self._now()),
            AgencyStateItem.kind.set(AgencyStateItem),
            AgencyStateItem.paused_until.set(paused_until) if paused_until else AgencyStateItem.paused_until.remove()])

    def acquire(self, tenant: str, agency: str, seconds: int) -> bool:
        """Take the agency's run lease (it lapses by itself if a run dies); False while another run holds it."""
        now = self._clock()
        return conditional(lambda: AgencyStateItem(*keys.state_key(tenant, agency)).update(
            actions=[AgencyStateItem.lease_until.set(iso(now + timedelta(seconds=seconds))),
                     AgencyStateItem.updated_at.set(iso(now)), AgencyStateItem.kind.set(AgencyStateItem)],
            condition=AgencyStateItem.lease_until.does_not_exist() | (AgencyStateItem.lease_until < iso(now))), _WHAT)

    def release(self, tenant: str, agency: str) -> None:
        AgencyStateItem(*keys.state_key(tenant, agency)).update(actions=[AgencyStateItem.lease_until.remove()])
