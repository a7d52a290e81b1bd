"""People and the facts about them (the Relations port) on DynamoDB.

A new fact costs one batch read and one transaction (its delivery's log entry inside, when given);
a duplicate, the batch read alone."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError

from chalicelib.adapters.dynamo import convert, keys, merge, reads
from chalicelib.adapters.dynamo.deliveries import log_item
from chalicelib.adapters.dynamo.erasure import erase_rest, tokens_of
from chalicelib.adapters.dynamo.models import (
    DeliveryItem,
    HubItem,
    IdentityItem,
    IndexItem,
    LookupBudgetItem,
    MarkerItem,
    NoticeItem,
    PersonItem,
    ReferralItem,
    TimelineItem,
    TombstoneItem,
)
from chalicelib.adapters.dynamo.transaction import Raced, Transaction, conditional, retry_on_race
from chalicelib.domain import consents, counters, kpis, notices, referrals
from chalicelib.domain.deliveries import LoggedDelivery
from chalicelib.domain.errors import RetryableError
from chalicelib.domain.events import HubEvent, iso
from chalicelib.domain.people import apply, new_person_id, normalise_email, track_of
from chalicelib.domain.person import Person
from chalicelib.domain.records import Held, JsonDict, Merged, NoticeRef, Profile, Recorded

DEDUPE_WINDOW = timedelta(days=35)  # vendors retry for up to 3 days; we promise at least 14
TagChange = Callable[[tuple[str, ...]], tuple[str, ...]]


class DynamoRelations:
    """Relations port: one record per person, found by identity, e-mail or search index."""

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now, notice_delay: timedelta = timedelta(minutes=5)) -> None:
        self._clock = clock
        self._notice_delay = notice_delay

    # -- intake -------------------------------------------------------------------------------

    def record_once(self, event: HubEvent, *, delivery_id: str, logged: LoggedDelivery | None = None) -> Recorded | None:
        return retry_on_race(lambda: self._record(event, delivery_id, logged))

    @staticmethod
    def _person_keys(tenant: str, person_id: str, event: HubEvent) -> list[keys.Key]:
        pk = keys.person_pk(tenant, person_id)
        return [(pk, keys.PROFILE), (pk, keys.fact_sk(event)), (pk, keys.notice_sk(track_of(event)))]

    def _record(self, event: HubEvent, delivery_id: str, logged: LoggedDelivery | None) -> Recorded | None:
        """Recorded: stored; None: known already. Raced: another writer came first, read again."""
        tenant, ref = event.tenant, event.person
        email = normalise_email(ref.email)
        guess = first_guess = new_person_id(tenant, ref.source, ref.vendor_person_id)
        delivery = keys.delivery_key(tenant, ref.source, delivery_id)
        identity_at = keys.identity_key(tenant, ref.source, ref.vendor_person_id)
        email_at = keys.email_identity_key(tenant, email) if email else None
        tombs = [keys.tombstone_key(tenant, f"{ref.source}:{ref.vendor_person_id}"),
                 *([keys.tombstone_key(tenant, email)] if email else [])]
        found = reads.batch_get([delivery, identity_at, *self._person_keys(tenant, guess, event), *tombs,
                                 *([email_at] if email_at else [])])
        if delivery in found:
            return None
        erased_at = max((found[key].erased_at for key in tombs if key in found), default=None)
        if erased_at and iso(event.occurred_at) <= erased_at:
            return None  # a fact about someone erased since (a replay, an old export): it stays out
        identity = found.get(identity_at)
        by_email = found.get(email_at) if email_at else None
        if erased_at and identity is None and by_email is None:  # back after erasure: a new person
            guess = new_person_id(tenant, ref.source, f"{ref.vendor_person_id}\x1e{erased_at}")
        linked = identity or by_email
        person_id = linked.person_id if linked is not None else guess
        person_keys = self._person_keys(tenant, person_id, event)
        if person_id != first_guess:  # known under another id (same e-mail), merged earlier, or back after erasure
            found.update(reads.batch_get(person_keys))
        into = merge.merged_into(tenant, person_id) if linked is not None and person_keys[0] not in found else None
        if into:  # an older pointer to an id merged into another person since
            person_id, person_keys = into, self._person_keys(tenant, into, event)
            found.update(reads.batch_get(person_keys))
        profile, fact, notice = (found.get(key) for key in person_keys)
        if fact is not None:
            return None

        before = convert.person(profile, tenant, person_id) if isinstance(profile, PersonItem) \
            else Person(tenant=tenant, person_id=person_id)
        now = self._clock()
        outcome = apply(before, event, now=now)
        planned = notices.plan(event, now=now, delay=self._notice_delay, track=track_of(event),
                               existing=notice.status if isinstance(notice, NoticeItem) else None)
        notice_sk = person_keys[2][1]
        with Transaction() as tx:
            tx.save(DeliveryItem(*delivery, received_at=iso(now), expires_at=now + DEDUPE_WINDOW),
                    condition=DeliveryItem.pk.does_not_exist())
            tx.save(TimelineItem(*person_keys[1], entry=outcome.entry), condition=TimelineItem.pk.does_not_exist())
            tx.save_person(before, outcome.person, updated_at=iso(now))
            if identity is None:
                tx.save(IdentityItem(*identity_at, person_id=person_id), condition=IdentityItem.pk.does_not_exist())
            if email_at and by_email is None:
                tx.save(IdentityItem(*email_at, person_id=person_id), condition=IdentityItem.pk.does_not_exist())
            if planned:
                tx.save(convert.notice_item(tenant, person_id, notice_sk, planned, event),
                        condition=NoticeItem.pk.does_not_exist() | NoticeItem.status.is_in("pending", "cancelled"))
            tx.count(tenant, iso(event.occurred_at), outcome.counters, person_id=person_id)
            if logged is not None:  # e20-sources: the delivery's log entry, in the same request
                tx.save(log_item(tenant, logged.source, logged.delivery, logged.entry))
        return Recorded(person_id=person_id,
                        notice=NoticeRef(tenant, person_id, notice_sk, planned.due_at) if planned else None)

    def mark_delivery(self, tenant: str, source: str, delivery_id: str) -> bool:
        now = self._clock()
        item = DeliveryItem(*keys.delivery_key(tenant, source, delivery_id), received_at=iso(now),
                            expires_at=now + DEDUPE_WINDOW)
        return conditional(lambda: item.save(condition=DeliveryItem.pk.does_not_exist()))

    def spend_lookup(self, tenant: str, source: str, window: str, limit: int) -> bool:
        if limit < 1:
            return False
        pk, sk = keys.lookup_budget_key(tenant, source, window)
        first = LookupBudgetItem(pk, sk, spent=1, expires_at=self._clock() + timedelta(days=1))
        if conditional(lambda: first.save(condition=LookupBudgetItem.pk.does_not_exist())):
            return True
        return conditional(lambda: LookupBudgetItem(pk, sk).update(actions=[LookupBudgetItem.spent.add(1)],
                                                                    condition=LookupBudgetItem.spent < limit))

    def unmark_delivery(self, tenant: str, source: str, delivery_id: str) -> None:
        with contextlib.suppress(DeleteError):  # it expires anyway; the vendor's retry then counts as a duplicate
            DeliveryItem(*keys.delivery_key(tenant, source, delivery_id)).delete()

    # -- reading ------------------------------------------------------------------------------

    def profile(self, tenant: str, person_id: str) -> Profile | None:
        person, timeline = None, []
        for item in HubItem.query(keys.person_pk(tenant, person_id), consistent_read=True):
            if isinstance(item, PersonItem):
                person = convert.person(item, tenant, person_id)
            elif isinstance(item, TimelineItem):
                timeline.append(item.entry)
        return Profile(person, timeline) if person else None

    def profiles(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Profile]:
        """Several people with their timelines (one query each), by id; the gone are left out."""
        found = {person_id: self.profile(tenant, person_id) for person_id in dict.fromkeys(person_ids)}
        return {person_id: profile for person_id, profile in found.items() if profile is not None}

    def people(self, tenant: str, person_ids: Sequence[str]) -> list[Person]:
        wanted = [keys.profile_key(tenant, person_id) for person_id in person_ids]
        found = reads.batch_get(wanted)
        return [convert.person(item, tenant, person_id) for key, person_id in zip(wanted, person_ids, strict=True)
                if isinstance(item := found.get(key), PersonItem)]

    def find_by_email(self, tenant: str, email: str) -> list[Profile]:
        try:
            link = IdentityItem.get(*keys.email_identity_key(tenant, email))
        except IdentityItem.DoesNotExist:
            return []
        found = self.profile(tenant, link.person_id)
        return [found] if found else []

    def search(self, tenant: str, kind: str, value: str, *, limit: int,
               after: str | None = None) -> tuple[list[str], str | None]:
        """One page of the people holding a search term (names: a prefix), in key order, and where the
        next page starts (None at the end). Reads the index items of that page only."""
        pk = keys.index_pk(tenant, kind, value)
        prefix = keys.index_start(kind, value)
        start = {"pk": {"S": pk}, "sk": {"S": after}} if after else None
        page = IndexItem.query(pk, IndexItem.sk.startswith(prefix) if prefix else None, limit=limit,
                               last_evaluated_key=start, page_size=limit)
        ids = [item.person_id for item in page]
        more = page.last_evaluated_key is not None and len(ids) == limit
        return ids, (page.last_evaluated_key["sk"]["S"] if more and page.last_evaluated_key else None)

    def set_tags(self, tenant: str, person_id: str, change: TagChange) -> Person | None:
        def attempt() -> Person | None:
            before = reads.person(tenant, person_id)
            if before is None:
                return None
            after = replace(before, tags=tuple(change(before.tags)))
            if after.tags == before.tags:
                return before
            with Transaction() as tx:
                tx.save_person(before, after, updated_at=iso(self._clock()))
            return replace(after, version=(before.version or 0) + 1)
        return retry_on_race(attempt)

    def held(self, tenant: str, person_id: str) -> Held | None:
        """Everything in the person's partition, as plain documents (a disclosure request)."""
        items = list(HubItem.query(keys.person_pk(tenant, person_id), consistent_read=True))
        profile = next((item for item in items if isinstance(item, PersonItem)), None)
        if profile is None:
            return None
        return Held(person=convert.person(profile, tenant, person_id),
                    timeline=[item.entry for item in items if isinstance(item, TimelineItem)],
                    notices=[convert.notice_document(item) for item in items if isinstance(item, NoticeItem)],
                    referrals=[convert.referral_document(item) for item in items if isinstance(item, ReferralItem)],
                    links=[convert.link_document(token) for token in tokens_of(tenant, items)])

    def erase(self, tenant: str, person_id: str) -> bool:
        """Erase a person: profile, timeline, notices, links, search and identity items go; tombstones
        keep replays of their old facts out; counters stay (retained drops by one); referrals the
        agency already has stay, minimal, and the agency is told. False when there is no such person.

        The profile goes first, in one transaction with the tombstones and counters (nothing can mail
        or refer them after it); the rest follows and a repeated call finishes it."""
        now = iso(self._clock())

        def attempt() -> tuple[bool, list[HubItem]]:
            items = list(HubItem.query(keys.person_pk(tenant, person_id), consistent_read=True))
            profile = next((item for item in items if isinstance(item, PersonItem)), None)
            if profile is None:
                return False, items
            person = convert.person(profile, tenant, person_id)
            gone = replace(person, milestones={**person.milestones, "erased_at": now})
            with Transaction() as tx:
                tx.delete(PersonItem(*keys.profile_key(tenant, person_id), version=person.version))  # on its version
                tx.save(MarkerItem(*keys.marker_key(tenant, person_id), erased_at=now))  # a merge is refused
                for identity in [*person.identities, *([person.email] if person.email else [])]:
                    tx.save(TombstoneItem(*keys.tombstone_key(tenant, identity), erased_at=now))
                for pointer in convert.pointers(person):  # what finds them: identities, search terms
                    tx.delete(pointer)
                tx.count(tenant, now, {counters.PEOPLE_ERASED: 1, **kpis.deltas(person, gone)})
            return True, items

        erased, items = retry_on_race(attempt)
        if not erased and all(isinstance(item, (ReferralItem, MarkerItem)) for item in items):
            return False
        erase_rest(tenant, items, now)  # (when not erased now: a previous call stopped half way)
        return True

    def merge(self, tenant: str, person_id: str, other: str) -> Merged:
        """Make other part of person_id, in re-runnable steps (adapters/dynamo/merge.py)."""
        return merge.merge(tenant, person_id, other, lambda: iso(self._clock()))

    def merged_into(self, tenant: str, person_id: str) -> str | None:
        return merge.merged_into(tenant, person_id)

    # -- contact and consent -------------------------------------------------------------------

    def record_contact_event(self, tenant: str, person_id: str, entry: JsonDict, counters: Mapping[str, int]) -> None:
        """A timeline entry made by the hub itself (link opened, ...), with its counters; once."""
        key = (keys.person_pk(tenant, person_id), keys.contact_sk(entry))

        def attempt() -> None:
            try:
                with Transaction() as tx:
                    tx.save(TimelineItem(*key, entry=entry), condition=TimelineItem.pk.does_not_exist())
                    tx.count(tenant, entry["occurred_at"], counters)
            except Raced:
                if key in reads.batch_get([key]):
                    return  # recorded before
                raise
        retry_on_race(attempt)

    def record_decision(self, tenant: str, person_id: str, choices: Mapping[str, bool], *, at: datetime,
                        version: str, score: int | None, token_ref: str | None,
                        agencies: Mapping[str, str], link_channel: str | None = None) -> consents.Decision:
        """Store consent choices; each agency the decision queues gets its referral queued under the
        agency version consented now (new, or queued/held under another version: queued again, once);
        a withdrawal stops queued and held ones and marks sent ones for a withdrawal notice (the
        agency has the data: APPI Art. 35)."""
        when = iso(at)
        slugs = list(agencies)
        referral_keys = [keys.referral_key(tenant, person_id, agency) for agency in slugs]

        def attempt() -> consents.Decision:
            found = reads.batch_get([keys.profile_key(tenant, person_id), *referral_keys])
            profile = found.get(keys.profile_key(tenant, person_id))
            if not isinstance(profile, PersonItem):
                raise RetryableError("the person is gone")
            before = convert.person(profile, tenant, person_id)
            decision = consents.decide(before, dict(choices), at=at, version=version, agencies=agencies, score=score,
                                       token_ref=token_ref, link_channel=link_channel)
            if not decision.entries:
                return decision
            with Transaction() as tx:
                tx.save_person(before, decision.person, updated_at=when)
                for index, entry in enumerate(decision.entries):
                    tx.save(TimelineItem(keys.person_pk(tenant, person_id), keys.decision_sk(when, index, entry.get("consent", "")),
                                         entry=entry))
                for agency, key in zip(slugs, referral_keys, strict=True):
                    referral = found.get(key)
                    status = referral.status if isinstance(referral, ReferralItem) else None
                    delivered = isinstance(referral, ReferralItem) and referral.batch_id is not None
                    if agency in decision.queue and status in (None, "withdrawn"):
                        tx.save(convert.queued_referral_item(tenant, person_id, agency, when, agencies[agency], version))
                    elif agency in decision.queue and status in ("queued", referrals.HELD):
                        tx.update(ReferralItem(*key), actions=[
                            ReferralItem.status.set("queued"), ReferralItem.consent_at.set(when),
                            ReferralItem.consent_version.set(agencies[agency]), ReferralItem.text_version.set(version),
                            ReferralItem.gsi1pk.set(keys.queued_pk(tenant, agency)),
                            ReferralItem.gsi1sk.set(keys.waiting_person_sk(when, person_id))],
                            condition=ReferralItem.status == status)
                    elif decision.relay_withdrawn and (status == "queued" or (status == referrals.HELD and not delivered)):
                        tx.update(ReferralItem(*key), actions=[
                            ReferralItem.status.set("withdrawn"), ReferralItem.decided_at.set(when),
                            ReferralItem.gsi1pk.remove(), ReferralItem.gsi1sk.remove()],
                            condition=ReferralItem.status == status)
                    elif decision.relay_withdrawn and status in ("sending", "accepted", "declined", "failed", referrals.HELD):
                        tx.update(ReferralItem(*key), actions=[  # (held after a batch tried it: it may have arrived)
                            ReferralItem.gsi1pk.set(keys.withdrawals_pk(tenant, agency)),
                            ReferralItem.gsi1sk.set(keys.waiting_person_sk(when, person_id))],
                            condition=ReferralItem.status == status)
                tx.count(tenant, when, decision.counters)
            return decision
        return retry_on_race(attempt)

    def opt_out(self, tenant: str, person_id: str, *, at: datetime) -> None:
        """Record an opt-out of all mail on the person and the timeline (the suppression list stops the mail)."""
        when = iso(at)

        def attempt() -> None:
            person = reads.person(tenant, person_id)
            if person is None or person.consents.get("mail", {}).get("opted_out"):
                return
            updated = replace(person, consents={**person.consents, "mail": {"opted_out": True, "at": when}})
            entry = {"type": "consent_withdrawn", "consent": "mail", "occurred_at": when, "channel": "unsubscribe_link"}
            with Transaction() as tx:
                tx.save_person(person, updated, updated_at=when)
                tx.save(TimelineItem(keys.person_pk(tenant, person_id), keys.opt_out_sk(when), entry=entry))
                tx.count(tenant, when, {counters.PEOPLE_OPTED_OUT: 1, **kpis.deltas(person, updated)})
        retry_on_race(attempt)
