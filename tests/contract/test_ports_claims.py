"""The claim that mails a notice once (Notices.claim, docs/notices.md "Once per notice"), on the
fakes and on DynamoDB: one write claims the notice, keeps its links and checks the address against
the suppression list; a live claim keeps every other worker out, a lapsed one lets the next in; a
mail whose record failed is kept on the notice (Notices.mailed) for the retry to record."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import outbox
from chalicelib.domain.delivery import new_link_token
from chalicelib.domain.events import RejectionEvent, iso
from chalicelib.domain.records import LinkGrant, MailedNotice, SentMail
from tests.contract.port_cases import TENANT, fact
from tests.fakes import Stores

HOUR = timedelta(hours=1)
ADDRESS = "c1@example.com"


def planned(stores: Stores) -> tuple[str, str]:
    recorded = stores.relations.record_once(fact(RejectionEvent, stores.clock.now() - HOUR), delivery_id="d1")
    assert recorded is not None and recorded.notice is not None
    return recorded.person_id, recorded.notice.notice


def links(notice: str, stores: Stores) -> tuple[LinkGrant, LinkGrant]:
    until = stores.clock.now() + timedelta(days=30)
    return (LinkGrant(new_link_token(TENANT), "relay", until, notice=notice),
            LinkGrant(new_link_token(TENANT), "unsubscribe", until, notice=notice))


def claim(stores: Stores, pid: str, notice: str, grants: tuple[LinkGrant, ...] = ()) -> str:
    return stores.notices.claim(TENANT, pid, notice, email=ADDRESS, until=stores.clock.now() + outbox.CLAIM_FOR,
                                links=grants)


def test_a_claim_keeps_the_links_and_keeps_a_second_worker_out_until_it_lapses(stores: Stores) -> None:
    pid, notice = planned(stores)
    relay, unsubscribe = links(notice, stores)

    assert claim(stores, pid, notice, (relay, unsubscribe)) == "claimed"
    for link in (relay, unsubscribe):
        info = stores.tokens.resolve(link.token)
        assert info is not None and (info.person_id, info.purpose, info.notice) == (pid, link.purpose, notice)
    assert claim(stores, pid, notice) == "busy"
    stores.clock.advance(seconds=outbox.CLAIM_FOR.total_seconds() - 1)
    assert claim(stores, pid, notice) == "busy"
    stores.clock.advance(seconds=2)
    assert claim(stores, pid, notice) == "claimed"  # the first worker died: the claim lapsed


def test_a_suppressed_address_is_not_claimed_and_no_link_is_kept(stores: Stores) -> None:
    pid, notice = planned(stores)
    stores.suppressions.add(TENANT, ADDRESS, "bounced")
    relay, unsubscribe = links(notice, stores)

    assert claim(stores, pid, notice, (relay, unsubscribe)) == "suppressed"
    assert stores.tokens.resolve(relay.token) is None and stores.tokens.resolve(unsubscribe.token) is None
    view = stores.notices.view(TENANT, pid, notice)
    assert view is not None and view.status == "pending"


def test_a_decided_or_unknown_notice_is_not_claimed(stores: Stores) -> None:
    pid, notice = planned(stores)
    assert claim(stores, pid, "NOTICE#unknown") == "decided"
    assert stores.notices.decide(TENANT, pid, notice, "cancelled") is True
    assert claim(stores, pid, notice) == "decided"


def test_a_failed_attempt_releases_its_claim(stores: Stores) -> None:
    pid, notice = planned(stores)
    assert claim(stores, pid, notice) == "claimed"
    assert stores.notices.attempted(TENANT, pid, notice, "mail_unavailable") == 1
    assert claim(stores, pid, notice) == "claimed"


def test_a_mail_whose_record_failed_is_kept_for_the_retry_and_recorded_once(stores: Stores) -> None:
    pid, notice = planned(stores)
    assert claim(stores, pid, notice) == "claimed"
    sent_at = iso(stores.clock.now())
    mail = SentMail(sent_at=sent_at, message_id="m-1", template_version=2, locale="ja")
    entry = {"type": "notice_sent", "notice": "rejection", "source": "greenhouse", "occurred_at": sent_at,
             "template_version": 2, "locale": "ja", "channel": "hub_notice"}

    assert stores.notices.mailed(TENANT, pid, notice, kind="rejection", mail=mail, entry=entry) is True
    view = stores.notices.view(TENANT, pid, notice)
    assert view is not None and view.status == "pending"
    assert view.mailed == MailedNotice(kind="rejection", mail=mail, entry=entry)
    assert stores.notices.sent(TENANT, pid, notice, kind="rejection", mail=mail, entry=entry) is True
    view = stores.notices.view(TENANT, pid, notice)
    assert view is not None and view.status == "sent" and view.mailed is None
    assert stores.notices.mailed(TENANT, pid, notice, kind="rejection", mail=mail, entry=entry) is False
    assert stores.counters.totals(TENANT)["notices.sent"] == 1
