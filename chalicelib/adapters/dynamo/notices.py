"""Planned notices (the Notices port): pending in the person's partition and in its tenant's OUTBOX#<tenant> index
until sent, cancelled or suppressed; every decision is conditional on "still pending"."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime

from chalicelib.adapters.dynamo import convert, keys, reads
from chalicelib.adapters.dynamo.models import HubItem, NoticeItem, PersonItem, SuppressionItem, TenantItem, TimelineItem
from chalicelib.adapters.dynamo.tokens import link_items
from chalicelib.adapters.dynamo.transaction import Raced, Transaction, conditional, retry_on_race
from chalicelib.domain import counters, kpis, notices
from chalicelib.domain.events import iso, utc
from chalicelib.domain.outbox import Claim
from chalicelib.domain.records import JsonDict, LinkGrant, NoticeRef, NoticeView, SentMail


class DynamoNotices:
    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock
        self._viewed = threading.local()  # the person the last view read: `sent` starts from it

    def view(self, tenant: str, person_id: str, notice: str) -> NoticeView | None:
        profile_key, notice_key = keys.profile_key(tenant, person_id), (keys.person_pk(tenant, person_id), notice)
        found = reads.batch_get([profile_key, notice_key])
        profile, item = found.get(profile_key), found.get(notice_key)
        if not isinstance(profile, PersonItem) or not isinstance(item, NoticeItem):
            return None
        person = convert.person(profile, tenant, person_id)
        self._viewed.person = person
        return convert.notice_view(item, person)

    def claim(self, tenant: str, person_id: str, notice: str, *, email: str, until: datetime,
              links: Sequence[LinkGrant]) -> Claim:
        """One transaction: the notice claimed (pending, no live claim), the address checked against
        the suppression list (a ConditionCheck: nothing read), the mail's links kept. Only when it is
        cancelled are the notice and the suppression read, to tell why."""
        pk, now = keys.person_pk(tenant, person_id), self._clock()

        def attempt() -> Claim:
            lapsed = NoticeItem.claimed_until.does_not_exist() | (NoticeItem.claimed_until < iso(now))
            try:
                with Transaction("the notice store") as tx:
                    tx.update(NoticeItem(pk, notice), actions=[NoticeItem.claimed_until.set(iso(until))],
                              condition=(NoticeItem.status == "pending") & lapsed)
                    tx.condition_check(SuppressionItem, keys.suppression_key(tenant, email), SuppressionItem.pk.does_not_exist())
                    for link in links:
                        for item in link_items(tenant, person_id, link, now):
                            tx.save(item)
            except Raced:
                return self._unclaimed(pk, notice, keys.suppression_key(tenant, email), now)
            return "claimed"
        return retry_on_race(attempt, what="the notice store")

    @staticmethod
    def _unclaimed(pk: str, notice: str, suppression: keys.Key, now: datetime) -> Claim:
        """Why a claim was cancelled; Raced again when nothing explains it (another transaction held an item)."""
        try:
            item = NoticeItem.get(pk, notice, consistent_read=True)
        except NoticeItem.DoesNotExist:
            return "decided"
        if item.status != "pending":
            return "decided"
        if item.claimed_until and item.claimed_until >= iso(now):
            return "busy"
        try:
            SuppressionItem.get(*suppression, consistent_read=True)
            return "suppressed"
        except SuppressionItem.DoesNotExist:
            pass
        raise Raced("the notice store lost a race (TransactionConflict)")

    def mailed(self, tenant: str, person_id: str, notice: str, *, kind: str, mail: SentMail, entry: JsonDict) -> bool:
        item = NoticeItem(keys.person_pk(tenant, person_id), notice)
        return conditional(lambda: item.update(
            actions=[NoticeItem.mailed.set({"kind": kind, "mail": asdict(mail), "entry": entry})],
            condition=NoticeItem.status == "pending"))

    def decide(self, tenant: str, person_id: str, notice: str, status: str, reason: str | None = None) -> bool:
        """Close a pending notice without sending (cancelled, suppressed, or failed for a reason); False if
        decided already."""
        now = iso(self._clock())
        item = NoticeItem(keys.person_pk(tenant, person_id), notice)
        reasons = [NoticeItem.reason.set(reason)] if reason else []
        decided = conditional(lambda: item.update(
            actions=[NoticeItem.status.set(status), NoticeItem.decided_at.set(now), NoticeItem.waiting.remove(), *reasons,
                     NoticeItem.gsi1pk.remove(), NoticeItem.gsi1sk.remove()],
            condition=NoticeItem.status == "pending"))
        if decided:
            with Transaction() as tx:
                tx.count(tenant, now, {counters.notices(status): 1}, person_id=person_id)
        return decided

    def sent(self, tenant: str, person_id: str, notice: str, *, kind: str, mail: SentMail, entry: JsonDict) -> bool:
        """Record a sent notice: its status, a notice_sent timeline entry, counters, last contact; once.
        False when it was decided already (a redelivered message finished first)."""
        pk = keys.person_pk(tenant, person_id)
        viewed, self._viewed.person = getattr(self._viewed, "person", None), None
        if viewed is not None and (viewed.tenant, viewed.person_id) != (tenant, person_id):
            viewed = None

        def attempt() -> bool:
            nonlocal viewed
            # the person as the notice's view read them (no second read; the save is conditional on
            # their version, so a change since loses the race and the next attempt reads afresh)
            found = reads.contacted_from(viewed, mail.sent_at) if viewed is not None else \
                reads.contacted(tenant, person_id, mail.sent_at)
            viewed = None
            if found is None:
                return False
            before, after = found
            try:
                with Transaction() as tx:
                    tx.update(NoticeItem(pk, notice), actions=[
                        NoticeItem.status.set("sent"), NoticeItem.decided_at.set(mail.sent_at),
                        NoticeItem.message_id.set(mail.message_id), NoticeItem.template_version.set(mail.template_version),
                        NoticeItem.locale.set(mail.locale), NoticeItem.waiting.remove(),
                        NoticeItem.claimed_until.remove(), NoticeItem.mailed.remove(),
                        NoticeItem.gsi1pk.remove(), NoticeItem.gsi1sk.remove()],
                        condition=NoticeItem.status == "pending")
                    tx.save(TimelineItem(pk, keys.sent_notice_sk(mail.sent_at, notice), entry=entry),
                            condition=TimelineItem.pk.does_not_exist())
                    tx.save_person(before, after, updated_at=mail.sent_at)
                    tx.count(tenant, mail.sent_at, {**notices.sent_counters(kind), **kpis.deltas(before, after)},
                             person_id=person_id)
            except Raced:
                if self._status(pk, notice) != "pending":
                    return False  # decided already
                raise  # the person changed meanwhile: read again
            return True
        return retry_on_race(attempt)

    @staticmethod
    def _status(pk: str, notice: str) -> str | None:
        try:
            return NoticeItem.get(pk, notice, consistent_read=True).status
        except NoticeItem.DoesNotExist:
            return None

    def due(self, before: datetime, per_tenant: int = notices.SWEEP_BUDGET) -> list[NoticeRef]:
        """Pending notices due before the moment: each tenant's oldest (OUTBOX#<tenant>, at most per_tenant),
        and those stored under the global OUTBOX before it was per tenant; taken in turns, one tenant's
        backlog takes no other's place."""
        partitions = [keys.OUTBOX, *(keys.outbox_pk(item.sk) for item in TenantItem.query(keys.TENANTS))]
        found: list[list[NoticeRef]] = []
        for pk in partitions:
            refs = []
            for item in HubItem.gsi1.query(pk, HubItem.gsi1sk < iso(before), limit=per_tenant):
                due, tenant, person_id, notice = keys.outbox_entry(item.gsi1sk)
                refs.append(NoticeRef(tenant, person_id, notice, utc(due)))
            found.append(refs)
        return notices.in_turns(found)

    def postpone(self, tenant: str, person_id: str, notice: str, due_at: datetime) -> bool:
        """A new due time for a pending notice that does not wait for its sender (its outbox entry moves too)."""
        due = iso(due_at)
        item = NoticeItem(keys.person_pk(tenant, person_id), notice)
        return conditional(lambda: item.update(
            actions=[NoticeItem.due_at.set(due), NoticeItem.gsi1pk.set(keys.outbox_pk(tenant)),
                     NoticeItem.gsi1sk.set(keys.outbox_sk(due, tenant, person_id, notice))],
            condition=(NoticeItem.status == "pending") & NoticeItem.waiting.does_not_exist()))

    def attempted(self, tenant: str, person_id: str, notice: str, reason: str) -> int:
        """Count a failed send of a pending notice, with its reason; the count (0: not pending)."""
        item = NoticeItem(keys.person_pk(tenant, person_id), notice)
        if not conditional(lambda: item.update(
                actions=[NoticeItem.attempts.add(1), NoticeItem.reason.set(reason), NoticeItem.claimed_until.remove()],
                condition=NoticeItem.status == "pending")):
            return 0
        return int(item.attempts or 0)

    def requeue(self, tenant: str, person_id: str) -> int:
        """The person's failed notices pending again, due now, their attempts forgotten; how many."""
        failed = [item for item in HubItem.query(keys.person_pk(tenant, person_id), consistent_read=True)
                  if isinstance(item, NoticeItem) and item.status == "failed"]
        return sum(1 for item in failed if self._requeue(tenant, person_id, item.sk))

    def _requeue(self, tenant: str, person_id: str, notice: str) -> bool:
        now = iso(self._clock())
        item = NoticeItem(keys.person_pk(tenant, person_id), notice)
        return conditional(lambda: item.update(
            actions=[NoticeItem.status.set("pending"), NoticeItem.due_at.set(now), NoticeItem.attempts.remove(),
                     NoticeItem.reason.remove(), NoticeItem.decided_at.remove(),
                     NoticeItem.gsi1pk.set(keys.outbox_pk(tenant)),
                     NoticeItem.gsi1sk.set(keys.outbox_sk(now, tenant, person_id, notice))],
            condition=NoticeItem.status == "failed"))

    # -- notices waiting for their tenant's sender ------------------------------------------------

    def wait(self, tenant: str, person_id: str, notice: str, reason: str) -> bool:
        """Keep a pending notice pending with its reason, its index entry moved from OUTBOX to NWAIT#<tenant>."""
        pk = keys.person_pk(tenant, person_id)
        try:
            item = NoticeItem.get(pk, notice, consistent_read=True)
        except NoticeItem.DoesNotExist:
            return False
        return conditional(lambda: item.update(
            actions=[NoticeItem.waiting.set(reason), NoticeItem.gsi1pk.set(keys.waiting_pk(tenant)),
                     NoticeItem.gsi1sk.set(keys.outbox_sk(item.due_at, tenant, person_id, notice))],
            condition=NoticeItem.status == "pending"))

    def waiting_tenants(self) -> list[str]:
        """One index entry read per tenant (the tenants are few; the sweeper asks every few minutes)."""
        return [tenant for tenant in (item.sk for item in TenantItem.query(keys.TENANTS))
                if list(HubItem.gsi1.query(keys.waiting_pk(tenant), limit=1))]

    def waiting(self, tenant: str, limit: int = 1000) -> list[NoticeRef]:
        refs = []
        for item in HubItem.gsi1.query(keys.waiting_pk(tenant), limit=limit):
            due, _, person_id, notice = keys.outbox_entry(item.gsi1sk)
            refs.append(NoticeRef(tenant, person_id, notice, utc(due)))
        return refs

    def resume(self, tenant: str, limit: int = 500) -> list[NoticeRef]:
        """Back under OUTBOX with the entry they had (the sweeper queues them); each only while it still waits."""
        resumed = []
        for ref in self.waiting(tenant, limit):
            item = NoticeItem(keys.person_pk(tenant, ref.person_id), ref.notice)
            if conditional(lambda item=item, ref=ref: item.update(
                    actions=[NoticeItem.waiting.remove(), NoticeItem.gsi1pk.set(keys.outbox_pk(tenant)),
                             NoticeItem.gsi1sk.set(keys.outbox_sk(iso(ref.due_at), tenant, ref.person_id, ref.notice))],
                    condition=(NoticeItem.status == "pending") & NoticeItem.waiting.exists())):
                resumed.append(ref)
        return resumed
