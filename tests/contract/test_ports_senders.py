"""The contract of SenderDomains and of the Notices methods that make a notice wait for its sender,
on both sides (`stores`): one tenant per sender domain, and a waiting notice that is neither due nor
lost, and comes back due at its own time."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.events import RejectionEvent, iso
from chalicelib.domain.records import NoticeRef, SenderClaim
from tests.contract.port_cases import OTHER, TENANT, fact, ref
from tests.fakes import Stores

HOUR = timedelta(hours=1)


def planned(stores: Stores, vid: str, tenant: str = TENANT) -> NoticeRef:
    recorded = stores.relations.record_once(fact(RejectionEvent, stores.clock.now() - HOUR, tenant=tenant, app=f"a-{vid}",
                                                 person=ref(vid, email=f"{vid}@example.com")), delivery_id=f"d-{vid}")
    assert recorded is not None and recorded.notice is not None
    stores.tenants.add_tenant(tenant)
    return recorded.notice


# -- SenderDomains -------------------------------------------------------------------------------------

def test_a_sender_domain_is_held_by_the_first_tenant_to_claim_it(stores: Stores) -> None:
    domains = stores.sender_domains
    assert domains.get("acme.example") is None

    assert domains.claim("acme.example", TENANT) is True
    assert domains.claim("acme.example", TENANT) is True  # theirs already: PUT settings again
    assert domains.claim("acme.example", OTHER) is False
    claim = domains.get("acme.example")
    assert claim is not None and (claim.domain, claim.tenant, claim.status, claim.dkim_tokens, claim.checked_at) == (
        "acme.example", TENANT, "pending", (), None)
    assert claim.claimed_at == iso(stores.clock.now())


def test_the_status_read_is_saved_by_the_holder_only(stores: Stores) -> None:
    domains = stores.sender_domains
    domains.claim("acme.example", TENANT)
    claim = domains.get("acme.example")
    assert claim is not None
    verified = SenderClaim("acme.example", TENANT, claim.claimed_at, "verified", ("tok1", "tok2", "tok3"),
                           iso(stores.clock.now()))

    assert domains.save(verified) is True and domains.get("acme.example") == verified
    assert domains.save(SenderClaim("acme.example", OTHER, claim.claimed_at, "failed", (), iso(stores.clock.now()))) is False
    assert domains.get("acme.example") == verified
    assert domains.save(SenderClaim("nobody.example", TENANT, claim.claimed_at, "verified")) is False


def test_a_claim_is_released_by_its_holder_only(stores: Stores) -> None:
    domains = stores.sender_domains
    domains.claim("acme.example", TENANT)

    domains.release("acme.example", OTHER)
    assert domains.claim("acme.example", OTHER) is False
    domains.release("acme.example", TENANT)
    assert domains.get("acme.example") is None
    assert domains.claim("acme.example", OTHER) is True


# -- Notices: waiting for the sender ---------------------------------------------------------------------

def test_a_waiting_notice_stays_pending_with_its_reason_and_is_not_due(stores: Stores) -> None:
    notice = planned(stores, "c1")
    later = stores.clock.now() + HOUR

    assert stores.notices.wait(TENANT, notice.person_id, notice.notice, "sender_pending") is True
    assert stores.notices.due(later) == []
    view = stores.notices.view(TENANT, notice.person_id, notice.notice)
    assert view is not None and (view.status, view.waiting) == ("pending", "sender_pending")
    assert stores.notices.waiting(TENANT) == [notice] and stores.notices.waiting(OTHER) == []
    assert stores.notices.waiting_tenants() == [TENANT]
    held = stores.relations.held(TENANT, notice.person_id)
    assert held is not None and [(n["status"], n.get("waiting")) for n in held.notices] == [("pending", "sender_pending")]


def test_resumed_notices_are_due_again_at_their_own_time_once(stores: Stores) -> None:
    first, second = planned(stores, "c1"), planned(stores, "c2")
    other = planned(stores, "c3", tenant=OTHER)
    for notice in (first, second, other):
        stores.notices.wait(notice.tenant, notice.person_id, notice.notice, "sender_pending")
    assert stores.notices.waiting_tenants() == sorted([TENANT, OTHER])

    assert sorted(n.notice for n in stores.notices.resume(TENANT)) == sorted([first.notice, second.notice])
    assert stores.notices.resume(TENANT) == []
    assert stores.notices.waiting(TENANT) == [] and stores.notices.waiting_tenants() == [OTHER]
    due = stores.notices.due(stores.clock.now() + HOUR)
    assert sorted(due, key=lambda n: n.notice) == sorted([first, second], key=lambda n: n.notice)
    view = stores.notices.view(TENANT, first.person_id, first.notice)
    assert view is not None and (view.status, view.waiting) == ("pending", None)


def test_a_decided_notice_neither_waits_nor_stays_waiting(stores: Stores) -> None:
    waiting, decided = planned(stores, "c1"), planned(stores, "c2")
    stores.notices.decide(TENANT, decided.person_id, decided.notice, "cancelled")
    assert stores.notices.wait(TENANT, decided.person_id, decided.notice, "sender_pending") is False

    stores.notices.wait(TENANT, waiting.person_id, waiting.notice, "sender_pending")
    assert stores.notices.decide(TENANT, waiting.person_id, waiting.notice, "suppressed") is True
    assert stores.notices.waiting(TENANT) == [] and stores.notices.waiting_tenants() == []
    assert stores.notices.wait(TENANT, waiting.person_id, "NOTICE#nope", "sender_pending") is False
