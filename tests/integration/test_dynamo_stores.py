"""What each DynamoDB store does, on in-process moto, through its port's methods only: the flows the
services rely on (referrals and the slot ledger, nurture schedules, notices, documents, tokens,
tenants, erasure). Every call goes through `Checked`, which fails on any PynamoDB item returned.

tests/contract/test_ports*.py holds the fakes and these stores to one contract; this file keeps
what is specific to the stores (the slot rule through the ledger, stored sort keys, races)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from pynamodb.models import Model

from chalicelib.domain.delivery import new_link_token
from chalicelib.domain.errors import Conflict
from chalicelib.domain.events import ApplicationEvent, PersonRef, RejectionEvent, iso
from chalicelib.domain.nurture import Schedule
from chalicelib.domain.records import Answer, Batch, DueMail, LinkGrant, Referral, SenderClaim, SentMail
from chalicelib.domain.referrals import Agency, keep_until

TENANT = "acme"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ALPHA = Agency(slug="alpha", name="Alpha", legal_name="Alpha KK", country="JP", endpoint="https://alpha.example",
               auth_type="bearer", data_items=("name", "email"), referrals_per_slot=2)
CALLED: set[tuple[str, str]] = set()  # (store class, method) seen by Checked, for the coverage test


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def holds_item(value: Any) -> bool:
    """Whether a value is, or contains, a PynamoDB model instance."""
    if isinstance(value, Model):
        return True
    if isinstance(value, dict):
        return any(holds_item(k) or holds_item(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(holds_item(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(holds_item(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


class Checked:
    """A store whose every answer is checked to hold domain values only."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._store, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            answer = method(*args, **kwargs)
            assert not holds_item(answer), f"{type(self._store).__name__}.{name} returned a PynamoDB item"
            CALLED.add((type(self._store).__name__, name))
            return answer
        return call


@dataclasses.dataclass
class Stores:
    clock: Clock
    relations: Any
    notices: Any
    tenants: Any
    counters: Any
    config: Any
    tokens: Any
    suppressions: Any
    audit: Any
    admin_tokens: Any
    referrals: Any
    nurture: Any
    sender_domains: Any


def make_stores() -> Stores:
    from chalicelib.adapters import dynamo

    clock = Clock()
    made = {name: cls(clock=clock) for name, cls in (
        ("notices", dynamo.DynamoNotices), ("tenants", dynamo.DynamoTenants), ("counters", dynamo.DynamoCounters),
        ("config", dynamo.DynamoConfig), ("tokens", dynamo.DynamoTokens), ("suppressions", dynamo.DynamoSuppressions),
        ("audit", dynamo.DynamoAudit), ("admin_tokens", dynamo.DynamoAdminTokens), ("referrals", dynamo.DynamoReferrals),
        ("nurture", dynamo.DynamoNurture), ("sender_domains", dynamo.DynamoSenderDomains))}
    relations = dynamo.DynamoRelations(clock=clock, notice_delay=timedelta(minutes=5))
    return Stores(clock=clock, relations=Checked(relations), **{k: Checked(v) for k, v in made.items()})


@pytest.fixture
def stores(aws) -> Stores:
    return make_stores()


def raw_keys(pk_part: str) -> set[tuple[str, str]]:
    """(pk, sk) of every stored item whose pk contains pk_part, read past the stores."""
    items = boto3.client("dynamodb").scan(TableName="relations-hub-test")["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]) for i in items if pk_part in i["pk"]["S"]}


def applied(s: Stores, vid: str, *, tags: tuple[str, ...] = (), name: str | None = None) -> str:
    person = PersonRef(source="greenhouse", vendor_person_id=vid, name=name or f"Person {vid}", email=f"{vid}@example.com")
    event = ApplicationEvent(tenant=TENANT, person=person, occurred_at=s.clock.now - timedelta(days=1),
                             application_id=f"app-{vid}", tags=tags)
    recorded = s.relations.record_once(event, delivery_id=f"d-{vid}")
    assert recorded is not None
    return recorded.person_id


def consent(s: Stores, person_id: str, relay: bool = True) -> None:
    s.relations.record_decision(TENANT, person_id, {"relay": relay}, at=s.clock.now, version="ja-0123456789abcdef",
                                score=None, token_ref=None, agencies={"alpha": ALPHA.consent_version})


def provisions(s: Stores, queued: list[Referral]) -> dict[str, dict]:
    return {r.person_id: {"recipient": {"legal_name": ALPHA.legal_name, "country": ALPHA.country},
                          "data_items": list(ALPHA.data_items), "keep_until": iso(keep_until(s.clock.now)),
                          "consent": {"given_at": r.consent_at, "version": r.consent_version,
                                      "text_version": r.text_version},
                          "expires_at": keep_until(s.clock.now), "person_name": "N"} for r in queued}


# -- Career Relay ---------------------------------------------------------------------------------------

def flow_referrals(s: Stores) -> None:
    people = [applied(s, f"r{i}") for i in range(3)]
    for person_id in people:
        consent(s, person_id)
    queued = s.referrals.queued(TENANT, "alpha", 10)
    assert sorted(r.person_id for r in queued) == sorted(people)
    assert {(r.tenant, r.agency, r.status, r.batch_id) for r in queued} == {(TENANT, "alpha", "queued", None)}

    batch = s.referrals.new_batch(TENANT, "alpha")
    assert isinstance(batch, Batch) and batch.status == "sending" and batch.members == []
    assert sorted(s.referrals.claim(TENANT, queued, batch, ALPHA, provisions(s, queued))) == sorted(people)
    assert sorted(batch.members) == sorted(people) and s.referrals.queued(TENANT, "alpha", 10) == []
    [listed] = s.referrals.open_batches(TENANT, "alpha")
    assert (listed.batch_id, sorted(listed.members), listed.idempotency_key) == (batch.batch_id, sorted(people), batch.idempotency_key)
    members = s.referrals.members(TENANT, batch)
    assert [m.person_id for m in members] == batch.members
    assert all(m.status == "sending" and m.batch_id == batch.batch_id and m.provision for m in members)

    answers = [Answer(members[0], "accepted", "A-1"), Answer(members[1], "duplicate"), Answer(members[2], "declined")]
    assert s.referrals.settle(TENANT, ALPHA, answers) == ["accepted", "accepted", "declined"]
    assert s.referrals.settle(TENANT, ALPHA, answers) == [None, None, None]  # once
    assert s.referrals.ledger_counts(TENANT, "alpha") == {
        "referrals_sent": 3, "referrals_accepted": 2, "referrals_declined": 1, "slots_earned": 1, "slots_used": 0,
        "referrals_held": 0}
    [earned] = [e for e in s.referrals.ledger_entries(TENANT, "alpha") if e["type"] != "referrals_sent"]
    assert (earned["type"], earned["accepted_total"]) == ("slot_earned", 2)
    accepted = s.referrals.accepted_referrals(TENANT, "alpha", 1, 2)  # the referrals that earned it, in order
    assert [(e["n"], e["person_id"]) for e in accepted] == [(1, members[0].person_id), (2, members[1].person_id)]
    assert s.referrals.accepted_referrals(TENANT, "alpha", 3, 9) == []
    assert [b["batch_id"] for b in s.referrals.recent_batches(TENANT, "alpha", 5)] == [batch.batch_id]
    assert [p["agency_answer"] for p in s.referrals.provisions(TENANT, members[0].person_id)] == ["accepted"]
    used = s.referrals.use_slot(TENANT, "alpha", note="hired", by="admin")
    assert used is not None and used["balance_after"] == 0
    assert s.referrals.use_slot(TENANT, "alpha", note=None, by="admin") is None
    totals = s.counters.totals(TENANT)
    assert (totals["referrals.sent"], totals["referrals.sent.alpha"], totals["referrals.accepted"]) == (3, 3, 2)
    assert (totals["slots.earned"], totals["slots.used"]) == (1, 1)
    s.referrals.close_batch(batch)
    assert batch.status == "done" and s.referrals.open_batches(TENANT, "alpha") == []

    consent(s, members[0].person_id, relay=False)  # the agency has the data: it is told of the withdrawal
    [withdrawal] = s.referrals.pending_withdrawals(TENANT, "alpha")
    assert withdrawal.person_id == members[0].person_id and withdrawal.status == "accepted"
    s.referrals.withdrawal_sent(withdrawal)
    assert s.referrals.pending_withdrawals(TENANT, "alpha") == []

    late = applied(s, "r9")
    consent(s, late)
    second = s.referrals.new_batch(TENANT, "alpha")
    queued = s.referrals.queued(TENANT, "alpha", 10)
    assert s.referrals.claim(TENANT, queued, second, ALPHA, provisions(s, queued)) == [late]
    [member] = s.referrals.members(TENANT, second)
    s.referrals.fail(TENANT, member, "timeout")
    assert s.referrals.members(TENANT, second)[0].status == "failed"
    assert s.referrals.provisions(TENANT, late)[0]["agency_answer"] == "failed: timeout"
    s.referrals.batch_attempted(second, "timeout", park=True)
    assert (second.attempts, second.status) == (1, "parked") and s.referrals.open_batches(TENANT, "alpha") == []

    waiting_person = applied(s, "r8")
    consent(s, waiting_person)
    [waiting] = s.referrals.queued(TENANT, "alpha", 10)
    assert s.referrals.hold(TENANT, waiting) is True and s.referrals.queued(TENANT, "alpha", 10) == []
    assert s.referrals.ledger_counts(TENANT, "alpha")["referrals_held"] == 1


def test_referrals_move_once_and_the_ledger_credits_slots_by_the_domain_rule(stores: Stores) -> None:
    flow_referrals(stores)


def test_a_referral_whose_consent_went_before_its_claim_is_not_claimed(stores: Stores) -> None:
    s = stores
    kept, gone = applied(s, "k"), applied(s, "g")
    consent(s, kept)
    consent(s, gone)
    queued = s.referrals.queued(TENANT, "alpha", 10)
    consent(s, gone, relay=False)  # after the run read the queue
    batch = s.referrals.new_batch(TENANT, "alpha")
    assert s.referrals.claim(TENANT, queued, batch, ALPHA, provisions(s, queued)) == [kept]
    assert batch.members == [kept] and s.referrals.provisions(TENANT, gone) == []


def flow_circuit(s: Stores) -> None:
    assert s.referrals.state(TENANT, "alpha").consecutive_failures == 0
    s.referrals.save_state(TENANT, "alpha", 3, "2026-11-02T10:00:00.000000Z")
    state = s.referrals.state(TENANT, "alpha")
    assert (state.consecutive_failures, state.paused_until) == (3, "2026-11-02T10:00:00.000000Z")
    assert s.referrals.acquire(TENANT, "alpha", 60) is True
    assert s.referrals.acquire(TENANT, "alpha", 60) is False
    s.clock.advance(seconds=61)
    assert s.referrals.acquire(TENANT, "alpha", 60) is True  # a dead run's lease lapses
    s.referrals.release(TENANT, "alpha")
    assert s.referrals.acquire(TENANT, "alpha", 60) is True
    assert s.referrals.state(TENANT, "alpha").consecutive_failures == 3  # the lease leaves the circuit alone


def test_an_agency_run_holds_a_lease_and_the_circuit_keeps_its_state(stores: Stores) -> None:
    flow_circuit(stores)


# -- nurture ------------------------------------------------------------------------------------------------

def flow_nurture(s: Stores) -> None:
    person_id = applied(s, "n1")
    due = iso(s.clock.now - timedelta(hours=1))
    planned = Schedule(campaign="winback", enrolled_at=iso(s.clock.now), occurrence=due, next_due=due)
    assert s.nurture.schedule(TENANT, person_id, "winback") is None
    assert s.nurture.plan(TENANT, person_id, planned, expected=None, counters={"nurture.campaign.winback.enrolled": 1})
    assert not s.nurture.plan(TENANT, person_id, planned, expected=None)  # someone planned it first
    assert s.nurture.schedules(TENANT, "winback", [person_id, "p_missing"]) == {person_id: planned}
    assert s.nurture.due(TENANT, s.clock.now) == [DueMail(person_id=person_id, campaign="winback", due=due)]
    assert s.nurture.due(TENANT, s.clock.now - timedelta(hours=2)) == []

    key = f"nurture:{person_id}:winback:{due}"
    assert s.nurture.claim(TENANT, person_id, "winback", due, key, now=s.clock.now, interval_days=90) == ("claimed", None)
    assert s.nurture.claim(TENANT, person_id, "winback", due, key, now=s.clock.now, interval_days=90) == ("claimed", None)
    after = dataclasses.replace(planned, occurrence=None, next_due=None, last_done=due, last_outcome="sent")
    entry = {"type": "nurture_sent", "campaign": "winback", "occurred_at": iso(s.clock.now)}
    sent_at = iso(s.clock.now)
    assert s.nurture.sent(TENANT, person_id, due, after, sent_at=sent_at, entry=entry, counters={"nurture.sent": 1})
    assert not s.nurture.sent(TENANT, person_id, due, after, sent_at=sent_at, entry=entry, counters={"nurture.sent": 1})
    assert s.nurture.schedule(TENANT, person_id, "winback") == after and s.nurture.due(TENANT, s.clock.now) == []
    assert s.nurture.claim(TENANT, person_id, "winback", due, key + "x", now=s.clock.now, interval_days=0)[0] == "stale"
    profile = s.relations.profile(TENANT, person_id)
    assert profile.person.last_contact_at == sent_at and profile.timeline[-1]["type"] == "nurture_sent"
    assert s.counters.totals(TENANT)["nurture.sent"] == 1


def test_a_nurture_schedule_moves_and_mails_once(stores: Stores) -> None:
    flow_nurture(stores)


# -- notices ----------------------------------------------------------------------------------------------

def flow_notices(s: Stores) -> None:
    s.tenants.add_tenant(TENANT)  # (the sweep reads the outbox of each registered tenant, OUTBOX#<tenant>)
    person = PersonRef(source="greenhouse", vendor_person_id="x1", name="N", email="x1@example.com")
    recorded = [s.relations.record_once(RejectionEvent(tenant=TENANT, person=person, occurred_at=s.clock.now - timedelta(hours=1),
                                                       application_id=app), delivery_id=f"d-{app}") for app in ("a1", "a2")]
    first, second = (r.notice for r in recorded)
    assert first is not None and second is not None and first.notice != second.notice
    s.clock.advance(minutes=6)
    assert {n.notice for n in s.notices.due(s.clock.now)} == {first.notice, second.notice}
    view = s.notices.view(TENANT, first.person_id, first.notice)
    assert (view.kind, view.status, view.person.person_id) == ("rejection", "pending", first.person_id)
    mail = SentMail(sent_at=iso(s.clock.now), message_id="m-1", template_version=1, locale="ja")
    entry = {"type": "notice_sent", "kind": "rejection", "occurred_at": mail.sent_at}
    link = LinkGrant(new_link_token(TENANT), "relay", s.clock.now + timedelta(days=30), notice=first.notice)
    assert s.notices.claim(TENANT, first.person_id, first.notice, email="x1@example.com",
                           until=s.clock.now + timedelta(minutes=2), links=[link]) == "claimed"
    assert s.tokens.resolve(link.token).notice == first.notice
    assert s.notices.mailed(TENANT, first.person_id, first.notice, kind="rejection", mail=mail, entry=entry)
    assert s.notices.view(TENANT, first.person_id, first.notice).mailed.mail == mail
    assert s.notices.sent(TENANT, first.person_id, first.notice, kind="rejection", mail=mail, entry=entry)
    assert not s.notices.sent(TENANT, first.person_id, first.notice, kind="rejection", mail=mail, entry=entry)
    assert s.notices.attempted(TENANT, second.person_id, second.notice, "try_again") == 1
    assert s.notices.requeue(TENANT, second.person_id) == 0  # pending, not failed
    assert s.notices.decide(TENANT, second.person_id, second.notice, "cancelled")
    assert not s.notices.decide(TENANT, second.person_id, second.notice, "suppressed")
    assert not s.notices.sent(TENANT, second.person_id, second.notice, kind="rejection", mail=mail, entry=entry)
    assert s.notices.due(s.clock.now) == [] and s.notices.view(TENANT, first.person_id, "NOTICE#nope") is None
    totals = s.counters.totals(TENANT)
    assert (totals["notices.sent"], totals["notices.sent.rejection"], totals["notices.cancelled"]) == (1, 1, 1)
    assert s.relations.profile(TENANT, first.person_id).person.last_contact_at == mail.sent_at

    later = s.relations.record_once(RejectionEvent(tenant=TENANT, person=person, occurred_at=s.clock.now - timedelta(hours=1),
                                                   application_id="a3"), delivery_id="d-a3").notice
    s.clock.advance(minutes=6)
    assert s.notices.postpone(TENANT, later.person_id, later.notice, s.clock.now + timedelta(days=2))  # an invitation's days
    assert s.notices.due(s.clock.now) == []
    assert [n.notice for n in s.notices.due(s.clock.now + timedelta(days=2, minutes=1))] == [later.notice]
    assert not s.notices.postpone(TENANT, second.person_id, second.notice, s.clock.now)  # decided: stays as it is


def test_a_notice_is_sent_or_decided_once(stores: Stores) -> None:
    flow_notices(stores)


def flow_senders(s: Stores) -> None:
    """A notice waits for its sender under NWAIT#<tenant>, out of the OUTBOX, and comes back with its
    own entry; a sender domain is claimed by one tenant under SENDER#<domain>."""
    person = PersonRef(source="greenhouse", vendor_person_id="w1", name="N", email="w1@example.com")
    recorded = s.relations.record_once(RejectionEvent(tenant=TENANT, person=person, occurred_at=s.clock.now - timedelta(hours=1),
                                                      application_id="a1"), delivery_id="d-a1")
    ref = recorded.notice
    s.tenants.add_tenant(TENANT)
    s.tenants.add_tenant("beta")
    s.clock.advance(minutes=6)
    outbox = raw_index(f"OUTBOX#{TENANT}")
    assert s.notices.wait(TENANT, ref.person_id, ref.notice, "sender_pending")
    assert s.notices.due(s.clock.now) == [] and s.notices.waiting_tenants() == [TENANT]
    assert s.notices.view(TENANT, ref.person_id, ref.notice).waiting == "sender_pending"
    assert raw_index(f"NWAIT#{TENANT}") == outbox and raw_index(f"OUTBOX#{TENANT}") == set()
    assert [(w.person_id, w.notice, w.due_at) for w in s.notices.waiting(TENANT)] == [(ref.person_id, ref.notice, ref.due_at)]
    assert [w.notice for w in s.notices.resume(TENANT)] == [ref.notice] and s.notices.resume(TENANT) == []
    assert raw_index(f"OUTBOX#{TENANT}") == outbox and s.notices.waiting_tenants() == []
    assert [n.notice for n in s.notices.due(s.clock.now)] == [ref.notice]

    assert s.sender_domains.claim("acme.example", TENANT) and s.sender_domains.claim("acme.example", TENANT)
    assert not s.sender_domains.claim("acme.example", "beta")
    claim = s.sender_domains.get("acme.example")
    assert (claim.tenant, claim.status, claim.checked_at) == (TENANT, "pending", None)
    checked = SenderClaim("acme.example", TENANT, claim.claimed_at, "verified", ("t1", "t2"), iso(s.clock.now))
    assert s.sender_domains.save(checked) and s.sender_domains.get("acme.example") == checked
    assert not s.sender_domains.save(SenderClaim("acme.example", "beta", claim.claimed_at, "failed"))
    s.sender_domains.release("acme.example", "beta")  # not theirs: stays
    assert raw_keys("SENDER#") == {("SENDER#acme.example", "SENDER")}
    s.sender_domains.release("acme.example", TENANT)
    assert s.sender_domains.get("acme.example") is None and s.sender_domains.claim("acme.example", "beta")


def raw_index(gsi1pk: str) -> set[str]:
    items = boto3.client("dynamodb").scan(TableName="relations-hub-test")["Items"]
    return {i["gsi1sk"]["S"] for i in items if i.get("gsi1pk", {}).get("S") == gsi1pk}


def test_a_waiting_notice_leaves_the_outbox_and_a_sender_domain_has_one_tenant(stores: Stores) -> None:
    flow_senders(stores)


# -- documents, tenants, tokens, suppressions, audit ----------------------------------------------------------

def flow_documents(s: Stores) -> None:
    assert s.config.get(TENANT, "settings") is None
    assert s.config.put(TENANT, "settings", (), {"company_name": "A"}) == 1
    assert s.config.put(TENANT, "settings", (), {"company_name": "B"}, expected_version=1) == 2
    with pytest.raises(Conflict):
        s.config.put(TENANT, "settings", (), {"company_name": "C"}, expected_version=1)
    assert s.config.get(TENANT, "settings").data == {"company_name": "B"}
    s.config.put(TENANT, "template", ("rejection", "ja"), {"subject": "s"})
    for kind, slug in (("agency", "alpha"), ("agency", "beta"), ("segment", "eng"), ("campaign", "winback")):
        s.config.put(TENANT, kind, (slug,), {"slug": slug})
    s.config.put_once(TENANT, "consent_text", ("ja-1",), {"text": "first"})
    s.config.put_once(TENANT, "consent_text", ("ja-1",), {"text": "second"})
    assert s.config.get(TENANT, "consent_text", ("ja-1",)).data == {"text": "first"}
    assert sorted(d.data["slug"] for d in s.config.list(TENANT, "agency")) == ["alpha", "beta"]
    assert [d.data for d in s.config.list(TENANT, "template")] == [{"subject": "s"}]
    # issue 18, the admin API's lists: a page of one kind's documents with their names, and the next
    assert [name for name, _ in s.config.page(TENANT, "agency", limit=1)[0]] == ["alpha"]
    assert s.config.page(TENANT, "agency", limit=1) == ([("alpha", s.config.get(TENANT, "agency", ("alpha",)))], "alpha")
    assert [name for name, _ in s.config.page(TENANT, "agency", limit=1, after="alpha")[0]] == ["beta"]
    assert s.config.page(TENANT, "segment", limit=5)[1] is None
    # the sort keys documents had before the ports named them by kind: stored data stays readable
    assert {sk for _, sk in raw_keys(f"T#{TENANT}#CONF")} == {
        "SETTINGS", "TEMPLATE#rejection#ja", "AGENCY#alpha", "AGENCY#beta", "SEGMENT#eng", "CAMPAIGN#winback",
        "CONSENT_TEXT#ja-1"}

    s.tenants.add_source(TENANT, "greenhouse")
    s.tenants.add_tenant(TENANT)
    assert s.tenants.tenants() == [TENANT] and s.tenants.sources(TENANT) == ["greenhouse"]
    assert s.tenants.poll_state(TENANT, "workday").cursor is None
    version = s.tenants.save_poll_state(TENANT, "workday", "c1", None)
    assert version is not None and s.tenants.save_poll_state(TENANT, "workday", "c1b", None) is None  # lost the race
    assert s.tenants.save_poll_state(TENANT, "workday", "c2", version) == version + 1
    assert s.tenants.poll_state(TENANT, "workday").cursor == "c2"


def test_documents_keep_their_sort_keys_and_their_versions(stores: Stores) -> None:
    flow_documents(stores)


def flow_access(s: Stores) -> None:
    person_id = applied(s, "t1")
    token = s.tokens.issue(TENANT, person_id, "relay", s.clock.now + timedelta(days=1), notice="NOTICE#x")
    kept = LinkGrant(new_link_token(TENANT), "unsubscribe", s.clock.now + timedelta(days=1))
    s.tokens.keep(TENANT, person_id, [kept])
    assert s.tokens.resolve(kept.token).purpose == "unsubscribe"
    info = s.tokens.resolve(token)
    assert (info.tenant, info.person_id, info.purpose, info.notice, info.opened_at) == (TENANT, person_id, "relay", "NOTICE#x", None)
    assert s.tokens.mark_opened(token) is True and s.tokens.mark_opened(token) is False
    assert s.tokens.resolve(token).opened_at is not None and s.tokens.mark_opened("acme.unknown") is False
    assert s.tokens.resolve("no-dot") is None
    s.clock.advance(days=2)
    assert s.tokens.resolve(token) is None  # expired: as dead as unknown

    token_id, admin = s.admin_tokens.issue(TENANT, by="root", valid_until=s.clock.now + timedelta(days=90))
    assert s.admin_tokens.find(admin).id == token_id
    assert s.admin_tokens.find(admin[:-1] + ("A" if admin[-1] != "A" else "B")) is None
    assert s.admin_tokens.revoke(TENANT, token_id) is True and s.admin_tokens.revoke(TENANT, token_id) is False
    assert s.admin_tokens.find(admin) is None
    kept_id, _ = s.admin_tokens.issue(TENANT, by="root", valid_until=s.clock.now + timedelta(days=30))
    s.admin_tokens.mark_used(TENANT, kept_id, s.clock.now)
    [listed] = s.admin_tokens.tokens(TENANT)
    assert (listed.id, listed.created_by, listed.last_used_at is not None) == (kept_id, "root", True)
    principal = "arn:aws:iam::123456789012:role/hr-acme"
    assert s.admin_tokens.has_grants(principal) is False
    grant = s.admin_tokens.grant(TENANT, principal, by="root")
    assert [g.principal for g in s.admin_tokens.grants(TENANT)] == [principal]
    assert s.admin_tokens.granted(TENANT, principal) and s.admin_tokens.has_grants(principal)
    assert not s.admin_tokens.granted("beta", principal)
    assert s.admin_tokens.revoke_grant(TENANT, grant.id) is True and s.admin_tokens.revoke_grant(TENANT, grant.id) is False
    assert s.admin_tokens.granted(TENANT, principal) is False and s.admin_tokens.grants(TENANT) == []

    s.suppressions.add(TENANT, "x@example.com", "bounced")
    s.suppressions.add(TENANT, "x@example.com", "bounced")
    s.suppressions.add(TENANT, "x@example.com", "opted_out")
    assert s.suppressions.reasons(TENANT, "x@example.com") == ["bounced", "opted_out"]
    assert s.suppressions.reasons(TENANT, "y@example.com") == []

    for n in range(3):
        s.clock.advance(seconds=1)
        s.audit.record(TENANT, who="root", action=f"a{n}", target=None)
    page, after = s.audit.entries(TENANT, limit=2, before=None)
    assert [e["action"] for e in page] == ["a2", "a1"] and after is not None
    rest, end = s.audit.entries(TENANT, limit=2, before=after)
    assert [e["action"] for e in rest] == ["a0"] and end is None

    day = iso(s.clock.now)[:10]
    assert s.counters.save_snapshot(TENANT, day, {"kpis": 1}) is True
    assert s.counters.save_snapshot(TENANT, day, {"kpis": 2}) is False
    assert s.counters.snapshots(TENANT, day, day) == {day: {"kpis": 1}}


def test_tokens_suppressions_audit_and_snapshots(stores: Stores) -> None:
    flow_access(stores)


# -- people: search, tags, contact events, opt-out, disclosure, erasure ---------------------------------------

def flow_people(s: Stores) -> None:
    ids = [applied(s, f"s{i}", tags=("engineer",), name=f"Suzuki {i}") for i in range(5)]
    assert [p.person_id for p in s.relations.people(TENANT, [ids[2], "p_missing", ids[0]])] == [ids[2], ids[0]]
    assert set(s.relations.profiles(TENANT, ids[:2] + ["p_missing"])) == set(ids[:2])
    page, after = s.relations.search(TENANT, "tag", "engineer", limit=3)
    rest, end = s.relations.search(TENANT, "tag", "engineer", limit=3, after=after)
    assert len(page) == 3 and end is None and sorted(page + rest) == sorted(ids)
    person = s.relations.set_tags(TENANT, ids[0], lambda tags: (*tags, "python"))
    assert person.tags == ("engineer", "python") and s.relations.set_tags(TENANT, "p_missing", lambda t: t) is None
    assert s.relations.search(TENANT, "tag", "python", limit=10) == ([ids[0]], None)
    assert [p.person.person_id for p in s.relations.find_by_email(TENANT, "s1@example.com")] == [ids[1]]

    entry = {"type": "link_opened", "occurred_at": iso(s.clock.now), "purpose": "relay"}
    s.relations.record_contact_event(TENANT, ids[1], entry, {"links.opened": 1})
    s.relations.record_contact_event(TENANT, ids[1], entry, {"links.opened": 1})  # once
    s.relations.opt_out(TENANT, ids[1], at=s.clock.now)
    s.relations.opt_out(TENANT, ids[1], at=s.clock.now + timedelta(minutes=1))
    s.relations.opt_out(TENANT, "p_missing", at=s.clock.now)
    assert [e["type"] for e in s.relations.profile(TENANT, ids[1]).timeline] == ["applied", "link_opened", "consent_withdrawn"]
    totals = s.counters.totals(TENANT)
    assert (totals["links.opened"], totals["people.opted_out"]) == (1, 1)
    today = iso(s.clock.now)[:10]
    assert s.counters.days(TENANT, today, today)[today]["links.opened"] == 1

    assert s.relations.mark_delivery(TENANT, "lever", "d-1") and not s.relations.mark_delivery(TENANT, "lever", "d-1")
    s.relations.unmark_delivery(TENANT, "lever", "d-1")
    assert s.relations.mark_delivery(TENANT, "lever", "d-1")
    assert [s.relations.spend_lookup(TENANT, "smarthr", "2026-12-01T10:00", 2) for _ in range(3)] == [True, True, False]
    assert s.relations.spend_lookup(TENANT, "smarthr", "2026-12-01T10:01", 2)  # a new window, a new budget
    assert s.relations.spend_lookup(TENANT, "lever", "2026-12-01T10:00", 2)  # each source its own

    s.tokens.issue(TENANT, ids[2], "unsubscribe", s.clock.now + timedelta(days=1))
    made = f"{TENANT}.{'m' * 43}"  # a link token the caller computed (the ats_field links): kept hashed, once
    assert s.tokens.register(TENANT, made, ids[3], "relay", s.clock.now + timedelta(days=30), channel="ats_field")
    assert not s.tokens.register(TENANT, made, ids[3], "relay", s.clock.now + timedelta(days=30), channel="ats_field")
    assert s.tokens.resolve(made).person_id == ids[3]
    held = s.relations.held(TENANT, ids[2])
    assert held.person.person_id == ids[2] and len(held.links) == 1 and held.timeline[0]["type"] == "applied"
    assert s.relations.held(TENANT, "p_missing") is None
    assert s.relations.erase(TENANT, ids[2]) is True and s.relations.erase(TENANT, ids[2]) is False
    assert s.relations.profile(TENANT, ids[2]) is None and s.relations.find_by_email(TENANT, "s2@example.com") == []
    assert raw_keys(f"#P#{ids[2]}") == {(f"T#{TENANT}#P#{ids[2]}", "MARK")}  # erased: the id and the time only
    assert s.counters.totals(TENANT)["people.erased"] == 1

    merged = s.relations.merge(TENANT, ids[3], ids[4])  # two of one tenant become one
    assert (merged.person_id, merged.merged) == (ids[3], ids[4])
    assert s.relations.merged_into(TENANT, ids[4]) == ids[3] and s.relations.merged_into(TENANT, ids[3]) is None
    assert s.relations.profile(TENANT, ids[4]) is None
    assert {e["type"] for e in s.relations.profile(TENANT, ids[3]).timeline} == {"applied"}


def test_people_are_found_tagged_contacted_opted_out_and_erased(stores: Stores) -> None:
    flow_people(stores)


FLOWS = (flow_referrals, flow_circuit, flow_nurture, flow_notices, flow_senders, flow_documents, flow_access, flow_people)
