"""Career Relay referrals, batches, provision records and the slot ledger on DynamoDB.

Every state change is a conditional write, so a referral moves queued -> sending -> accepted |
declined | failed exactly once, whatever runs twice; the ledger credits a slot exactly when the
accepted count crosses a multiple of the agency's rule."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import TransactWriteError

from chalicelib.adapters.dynamo import (
    AgencyStateItem, BatchItem, HubItem, LedgerEntryItem, PersonItem, ProvisionItem, ReferralItem, TimelineItem,
    _backoff, _raced, _Transaction, _to_person, person_pk,
)
from chalicelib.domain.errors import RetryableError
from chalicelib.domain.events import iso
from chalicelib.domain.person import Person

_ATTEMPTS = 8
LEDGER_FIELDS = ("referrals_sent", "referrals_accepted", "referrals_declined", "slots_earned", "slots_used")


CLAIM_GROUP = 20   # referrals per claim transaction (4 actions each; DynamoDB takes 100 per transaction)
SETTLE_GROUP = 25  # answers per settle transaction (3 actions each, and the ledger's)


def _groups(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _person_of(referral: ReferralItem) -> str:
    return referral.pk.split("#P#", 1)[1]


def _add(counts: dict[str, int], name: str) -> None:
    counts[name] = counts.get(name, 0) + 1


def _agency_pk(tenant: str, agency: str) -> str:
    return f"T#{tenant}#AGY#{agency}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DynamoReferrals:
    # -- selection (sparse indexes: reads grow with the work, not with the people stored) --------

    def queued(self, tenant: str, agency: str, limit: int) -> list[ReferralItem]:
        return list(HubItem.gsi1.query(f"REFQ#{tenant}#{agency}", limit=limit))

    def open_batches(self, tenant: str, agency: str) -> list[BatchItem]:
        return list(HubItem.gsi1.query(f"OPENB#{tenant}#{agency}", limit=50))

    def pending_withdrawals(self, tenant: str, agency: str) -> list[ReferralItem]:
        return list(HubItem.gsi1.query(f"WDQ#{tenant}#{agency}", limit=100))

    def profiles(self, tenant: str, person_ids: list[str]) -> dict[str, tuple[Person, list[dict]]]:
        """Profiles with their timelines, for building payloads (one query per member)."""
        found = {}
        for person_id in person_ids:
            person, timeline = None, []
            for item in HubItem.query(person_pk(tenant, person_id), consistent_read=True):
                if isinstance(item, PersonItem):
                    person = (item, _to_person(item, tenant, person_id))
                elif isinstance(item, TimelineItem):
                    timeline.append(item.entry)
            if person:
                found[person_id] = (person[1], timeline, person[0].relay_consent_at)
        return found

    # -- batches -----------------------------------------------------------------------------------

    def new_batch(self, tenant: str, agency: str) -> BatchItem:
        batch_id = "b_" + uuid.uuid4().hex
        now = iso(_now())
        batch = BatchItem(_agency_pk(tenant, agency), f"BATCH#{batch_id}", agency=agency, status="sending", members=[],
                          idempotency_key=batch_id, attempts=0, created_at=now,
                          gsi1pk=f"OPENB#{tenant}#{agency}", gsi1sk=f"{now}#{batch_id}")
        batch.save()
        return batch

    def claim(self, tenant: str, queued: list[ReferralItem], batch: BatchItem, agency, provisions: dict[str, dict]) -> list[str]:
        """The transaction before any data leaves, for a group of referrals: consent still stands
        (checked on each person), the provision records are written, the referrals move queued ->
        sending, the batch lists them. When any condition fails, each is claimed on its own, so one
        withdrawal or another run's claim costs only its own referral. The person ids claimed."""
        claimed: list[str] = []
        for group in _groups(queued, CLAIM_GROUP):
            if len(group) > 1 and self._claim_group(tenant, group, batch, agency, provisions):
                claimed += [_person_of(referral) for referral in group]
                continue
            claimed += [_person_of(referral) for referral in group if self._claim_group(tenant, [referral], batch, agency, provisions)]
        return claimed

    def _claim_group(self, tenant: str, group: list[ReferralItem], batch: BatchItem, agency, provisions: dict[str, dict]) -> bool:
        now = iso(_now())
        batch_id = batch.sk.split("#", 1)[1]
        people = [_person_of(referral) for referral in group]
        try:
            with _Transaction(connection=HubItem._get_connection().connection) as tx:
                for referral, person_id in zip(group, people):
                    pk, provision_sk = person_pk(tenant, person_id), f"{now}#{agency.slug}#{batch_id}"
                    tx.condition_check(PersonItem, pk, "PROFILE", condition=PersonItem.relay_consent_at.exists())
                    tx.update(ReferralItem(pk, referral.sk), actions=[
                        ReferralItem.status.set("sending"), ReferralItem.batch_id.set(batch_id),
                        ReferralItem.idempotency_key.set(batch.idempotency_key), ReferralItem.provision_sk.set(provision_sk),
                        ReferralItem.gsi1pk.remove(), ReferralItem.gsi1sk.remove()], condition=ReferralItem.status == "queued")
                    tx.save(ProvisionItem(f"T#{tenant}#PROV#{person_id}", provision_sk, person_id=person_id, agency=agency.slug,
                                          batch_id=batch_id, idempotency_key=batch.idempotency_key,
                                          referral_id=referral.referral_id, provided_at=now, **provisions[person_id]))
                    tx.save(TimelineItem(pk, f"TL#{now}#ref{agency.slug}", entry={
                        "type": "referred", "agency": agency.slug, "occurred_at": now, "referral_id": referral.referral_id}))
                tx.update(BatchItem(batch.pk, batch.sk), actions=[BatchItem.members.set(BatchItem.members.append(people))],
                          condition=BatchItem.status == "sending")
                tx.add_counters(_agency_pk(tenant, agency.slug), "LEDGER", {"referrals_sent": len(group)})
                tx.count(tenant, now[:10], {"referrals.sent": len(group), f"referrals.sent.{agency.slug}": len(group)})
        except TransactWriteError as error:
            if _raced(error):
                if len(group) == 1:
                    self._drop_if_unconsented(tenant, people[0], group[0])
                return False
        batch.members = list(batch.members or []) + people
        return True

    def _drop_if_unconsented(self, tenant: str, person_id: str, referral: ReferralItem) -> None:
        try:
            person = PersonItem.get(person_pk(tenant, person_id), "PROFILE", consistent_read=True)
        except PersonItem.DoesNotExist:
            person = None
        if person is None or not person.relay_consent_at:
            try:
                ReferralItem(referral.pk, referral.sk).update(actions=[
                    ReferralItem.status.set("withdrawn"), ReferralItem.decided_at.set(iso(_now())),
                    ReferralItem.gsi1pk.remove(), ReferralItem.gsi1sk.remove()], condition=ReferralItem.status == "queued")
            except Exception:  # noqa: BLE001 - someone else moved it: nothing to do
                pass

    def members(self, tenant: str, batch: BatchItem) -> list[ReferralItem]:
        agency = batch.agency
        keys = [(person_pk(tenant, pid), f"REF#{agency}") for pid in batch.members or []]
        return [item for item in HubItem.batch_get(keys, consistent_read=True)] if keys else []

    def batch_attempted(self, batch: BatchItem, error: str | None, *, park: bool = False) -> None:
        actions = [BatchItem.attempts.add(1), BatchItem.last_error.set(error)]
        if park:
            actions += [BatchItem.status.set("parked"), BatchItem.gsi1pk.remove(), BatchItem.gsi1sk.remove()]
        BatchItem(batch.pk, batch.sk).update(actions=actions)
        batch.attempts = (batch.attempts or 0) + 1

    def close_batch(self, batch: BatchItem, status: str = "done") -> None:
        BatchItem(batch.pk, batch.sk).update(actions=[BatchItem.status.set(status), BatchItem.gsi1pk.remove(),
                                                      BatchItem.gsi1sk.remove()])

    # -- outcomes ----------------------------------------------------------------------------------

    def settle(self, tenant: str, agency, answers: list[tuple[ReferralItem, str, str | None]]) -> list[str | None]:
        """Record answers exactly once (referral, timeline, provision record's answer, counters, and
        the ledger, crediting a slot each time the accepted count crosses the agency's rule), a group
        per transaction on one read of the ledger; a group that meets a changed ledger or an answer
        recorded already goes again one by one, reading afresh. Per answer: its outcome, or None
        when it was recorded before."""
        outcomes: list[str | None] = []
        ledger = self.ledger_counts(tenant, agency.slug)["referrals_accepted"]
        for group in _groups(answers, SETTLE_GROUP):
            if len(group) > 1:
                done = self._settle_group(tenant, agency, group, ledger)
                if done is not None:
                    outcomes += done
                    ledger += done.count("accepted")
                    continue
            for answer in group:
                outcome = self._settle_one(tenant, agency, answer)
                outcomes.append(outcome)
            ledger = self.ledger_counts(tenant, agency.slug)["referrals_accepted"]
        return outcomes

    def _settle_one(self, tenant: str, agency, answer: tuple[ReferralItem, str, str | None]) -> str | None:
        referral = answer[0]
        for attempt in range(_ATTEMPTS):
            try:
                current = ReferralItem.get(referral.pk, referral.sk, consistent_read=True)
            except ReferralItem.DoesNotExist:
                return None
            if current.status != "sending":
                return None
            done = self._settle_group(tenant, agency, [(current, *answer[1:])],
                                      self.ledger_counts(tenant, agency.slug)["referrals_accepted"])
            if done is not None:
                return done[0]
            _backoff(attempt)
        raise RetryableError("the ledger is busy; try again")

    def _settle_group(self, tenant: str, agency, group: list[tuple[ReferralItem, str, str | None]], accepted: int) -> list[str] | None:
        now = iso(_now())
        outcomes = ["accepted" if status in ("accepted", "duplicate") else "declined" for _, status, _ in group]
        deltas: dict[str, int] = {}
        counters: dict[str, int] = {}
        ledger_pk = _agency_pk(tenant, agency.slug)
        try:
            with _Transaction(connection=HubItem._get_connection().connection) as tx:
                running = accepted
                for (referral, status, agency_ref), outcome in zip(group, outcomes):
                    tx.update(ReferralItem(referral.pk, referral.sk), actions=[
                        ReferralItem.status.set(outcome), ReferralItem.agency_ref.set(agency_ref),
                        ReferralItem.decided_at.set(now)], condition=ReferralItem.status == "sending")
                    tx.save(TimelineItem(referral.pk, f"TL#{now}#res{agency.slug}", entry={
                        "type": f"referral_{outcome}", "agency": agency.slug, "occurred_at": now,
                        "referral_id": referral.referral_id, "agency_answer": status}))
                    if referral.provision_sk:
                        tx.update(ProvisionItem(f"T#{tenant}#PROV#{_person_of(referral)}", referral.provision_sk),
                                  actions=[ProvisionItem.agency_answer.set(status)])
                    _add(deltas, f"referrals_{outcome}")
                    _add(counters, f"referrals.{outcome}")
                    if outcome == "accepted":
                        running += 1
                        if running % agency.referrals_per_slot == 0:
                            _add(deltas, "slots_earned")
                            _add(counters, "slots.earned")
                            tx.save(LedgerEntryItem(ledger_pk, f"LE#{now}#earn{running}", entry={
                                "type": "slot_earned", "at": now, "accepted_total": running,
                                "rule": f"{agency.referrals_per_slot} accepted referrals = 1 slot"}))
                tx.add_ledger(ledger_pk, deltas, expected_accepted=accepted)
                tx.count(tenant, now[:10], counters)
        except TransactWriteError as error:
            if _raced(error):
                return None
        for (referral, status, _), outcome in zip(group, outcomes):
            if not referral.provision_sk:  # claimed before provision records were linked from the referral
                self._answer_provision(tenant, _person_of(referral), agency.slug, referral.batch_id, status)
        return outcomes

    def fail(self, tenant: str, referral: ReferralItem, error: str) -> None:
        try:
            ReferralItem(referral.pk, referral.sk).update(actions=[
                ReferralItem.status.set("failed"), ReferralItem.decided_at.set(iso(_now()))],
                condition=ReferralItem.status == "sending")
        except Exception:  # noqa: BLE001 - settled meanwhile
            return
        self._answer_provision(tenant, referral.pk.split("#P#", 1)[1], referral.agency, referral.batch_id, f"failed: {error}")

    def _answer_provision(self, tenant: str, person_id: str, agency: str, batch_id: str, answer: str) -> None:
        for item in ProvisionItem.query(f"T#{tenant}#PROV#{person_id}",
                                        filter_condition=(ProvisionItem.batch_id == batch_id) & (ProvisionItem.agency == agency)):
            ProvisionItem(item.pk, item.sk).update(actions=[ProvisionItem.agency_answer.set(answer)])

    def withdrawal_sent(self, referral: ReferralItem) -> None:
        ReferralItem(referral.pk, referral.sk).update(actions=[
            ReferralItem.withdrawn_at.set(iso(_now())), ReferralItem.gsi1pk.remove(), ReferralItem.gsi1sk.remove()])

    # -- the ledger and the circuit -----------------------------------------------------------------

    def ledger_counts(self, tenant: str, agency: str) -> dict[str, int]:
        raw = HubItem._get_connection().get_item(_agency_pk(tenant, agency), range_key="LEDGER", consistent_read=True).get("Item", {})
        return {field: int(raw.get(field, {}).get("N", "0")) for field in LEDGER_FIELDS}

    def ledger_entries(self, tenant: str, agency: str) -> list[dict]:
        return [item.entry for item in LedgerEntryItem.query(_agency_pk(tenant, agency), LedgerEntryItem.sk.startswith("LE#"))]

    def use_slot(self, tenant: str, agency: str, *, note: str | None, by: str) -> dict | None:
        """Record one slot used; None when the balance is 0."""
        for attempt in range(_ATTEMPTS):
            counts = self.ledger_counts(tenant, agency)
            if counts["slots_earned"] - counts["slots_used"] <= 0:
                return None
            now = iso(_now())
            entry = {"type": "slot_used", "at": now, "note": note, "by": by, "balance_after": counts["slots_earned"] - counts["slots_used"] - 1}
            try:
                with _Transaction(connection=HubItem._get_connection().connection) as tx:
                    tx.use_slot(_agency_pk(tenant, agency), expected_used=counts["slots_used"])
                    tx.save(LedgerEntryItem(_agency_pk(tenant, agency), f"LE#{now}#use{counts['slots_used'] + 1}", entry=entry))
                    tx.count(tenant, now[:10], {"slots.used": 1})
            except TransactWriteError as error:
                if _raced(error, "the ledger"):
                    _backoff(attempt)
                    continue
            return entry
        raise RetryableError("the ledger is busy; try again")

    def state(self, tenant: str, agency: str) -> AgencyStateItem:
        try:
            return AgencyStateItem.get(_agency_pk(tenant, agency), "STATE", consistent_read=True)
        except AgencyStateItem.DoesNotExist:
            return AgencyStateItem(_agency_pk(tenant, agency), "STATE", consecutive_failures=0, updated_at=iso(_now()))

    def save_state(self, tenant: str, agency: str, failures: int, paused_until: str | None) -> None:
        AgencyStateItem(_agency_pk(tenant, agency), "STATE").update(actions=[
            AgencyStateItem.consecutive_failures.set(failures), AgencyStateItem.updated_at.set(iso(_now())),
            AgencyStateItem.kind.set(AgencyStateItem),
            AgencyStateItem.paused_until.set(paused_until) if paused_until else AgencyStateItem.paused_until.remove()])

    def acquire(self, tenant: str, agency: str, seconds: int) -> bool:
        """Take the agency's run lease (it lapses by itself if a run dies); False while another run holds it."""
        now = _now()
        until = iso(now + timedelta(seconds=seconds))
        try:
            AgencyStateItem(_agency_pk(tenant, agency), "STATE").update(
                actions=[AgencyStateItem.lease_until.set(until), AgencyStateItem.updated_at.set(iso(now)),
                         AgencyStateItem.kind.set(AgencyStateItem)],
                condition=AgencyStateItem.lease_until.does_not_exist() | (AgencyStateItem.lease_until < iso(now)))
        except Exception as error:  # noqa: BLE001
            if getattr(error, "cause_response_code", "") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, tenant: str, agency: str) -> None:
        AgencyStateItem(_agency_pk(tenant, agency), "STATE").update(actions=[AgencyStateItem.lease_until.remove()])

    def provisions(self, tenant: str, person_id: str) -> list[dict]:
        return [{"person_id": item.person_id, "agency": item.agency, "recipient": item.recipient,
                 "data_items": list(item.data_items), "consent": item.consent, "provided_at": item.provided_at,
                 "batch_id": item.batch_id, "idempotency_key": item.idempotency_key, "referral_id": item.referral_id,
                 "agency_answer": item.agency_answer, "keep_until": item.keep_until}
                for item in ProvisionItem.query(f"T#{tenant}#PROV#{person_id}")]
