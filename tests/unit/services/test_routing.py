"""Routing on the fakes (docs/routing.md): what a rejection's notice becomes by its reason, when it
goes (the tenant's delay, the invitation's days), what its page offers, and the funnel by channel."""
from __future__ import annotations

import pytest

from chalicelib.domain.delivery import Delivery
from chalicelib.domain.errors import BadRequest
from chalicelib.services.relay import RelayPage
from tests.unit.services.support import ago, deliver, drain, links, message, outbox, profile, types

EMAIL = "c-1@example.jp"
AGENCY = {"slug": "tokyo_careers", "name": "東京キャリア", "legal_name": "東京キャリア株式会社", "country": "JP",
          "data_items": ["name", "email"]}


def consent_text(page: RelayPage) -> str:
    return f"[{page.locale}] 提供先: " + "、".join(agency["legal_name"] for agency in page.agencies)


@pytest.fixture
def agency(services, acme):
    services.ports.config.put("acme", "agency", (AGENCY["slug"],), AGENCY)


def invitation(services, days: int) -> None:
    """The source's delivery setting, as the source PUT stores it."""
    services.writeback.save_delivery("acme", "standard", Delivery(mode="invitation", invitation_delay_days=days))


def sent_entry(services) -> dict:
    [entry] = [e for e in profile(services, EMAIL).timeline if e["type"] == "notice_sent"]
    return entry


def test_a_position_filled_rejection_is_nurture_only_tagged_and_its_page_offers_no_agency(services, acme, agency, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), reason="採用枠充足"))
    assert drain(services) == ["sent"]

    entry = sent_entry(services)
    assert (entry["action"], entry["rule"], entry["chosen_by"]) == ("nurture_only", None, "default: position filled")
    assert "silver-medalist" in profile(services, EMAIL).person.tags
    token = links(outbox(services)[0])["relay"]
    page = services.relay.relay_page(token)
    assert page.action == "nurture_only" and page.agencies == [] and page.offers == ("openings",)
    # a forged relay=yes is not taken: the page did not offer it
    saved = services.relay.decide(token, {"relay": "yes", "openings": "yes", "csrf": page.info.csrf}, consent_text=consent_text)
    assert saved.current == {"relay": False, "openings": True}


def test_a_tenant_rule_chooses_before_the_defaults_and_the_timeline_names_it(services, acme, clock):
    services.routing.put_rules("acme", {"rules": [{"match": {"reason": "spam"}, "action": "none"},
                                                  {"match": {"stage": "一次面接"}, "action": "relay"}]})
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), reason="Position filled", stage="一次面接"))
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), person="c-2", reason="SPAM"))

    assert sorted(drain(services)) == ["cancelled", "sent"]
    assert (sent_entry(services)["action"], sent_entry(services)["chosen_by"]) == ("relay", "rule 1")
    [routed] = [e for e in profile(services, "c-2@example.jp").timeline if e["type"] == "notice_routed"]
    assert (routed["action"], routed["rule"], routed["chosen_by"]) == ("none", 0, "rule 0")
    assert [m.to for m in outbox(services)] == [EMAIL]


def test_a_withdrawal_earns_no_mail(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), by_candidate=True, reason="他社に決定"))
    assert drain(services) == [] and outbox(services) == []
    assert "notice_sent" not in types(services, EMAIL)


def test_the_invitation_goes_out_the_given_days_after_the_rejection_and_not_before(services, acme, clock):
    invitation(services, 2)
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), reason="Too junior"))
    assert drain(services) == ["postponed"] and outbox(services) == []

    clock.advance(days=1, hours=23)
    services.intake.release_notices(grace_s=0)
    assert drain(services) == [] and outbox(services) == []

    clock.advance(hours=1)
    services.intake.release_notices(grace_s=0)
    assert drain(services) == ["sent"]
    [mail] = outbox(services)
    assert "キャリアリレーのご案内" in mail.subject and "山田 花子 様" in mail.text and "配信停止" in mail.text
    assert services.ports.tokens.resolve(links(mail)["relay"]).channel == "invitation"
    assert sent_entry(services)["notice"] == "relay_invitation" and sent_entry(services)["channel"] == "invitation"
    services.intake.release_notices(grace_s=0)
    assert drain(services) == []  # once


def test_the_tenant_notice_delay_holds_the_hub_notice(services, acme, clock):
    services.configuration.put_settings("acme", {**_settings(), "notice_delay_minutes": 60})
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    assert drain(services) == ["postponed"]
    clock.advance(minutes=61)
    services.intake.release_notices(grace_s=0)
    assert drain(services) == ["sent"]


def test_the_notice_delay_setting_is_checked(services, acme):
    for bad in (-1, 10_081, "5", True, 1.5):
        with pytest.raises(BadRequest, match="notice_delay_minutes"):
            services.configuration.put_settings("acme", {**_settings(), "notice_delay_minutes": bad})
    assert services.configuration.put_settings("acme", {**_settings(), "notice_delay_minutes": 0})["notice_delay_minutes"] == 0


def test_the_funnel_counts_each_step_by_channel(services, acme, agency, clock):
    invitation(services, 0)
    deliver(services, message("candidate.rejected", ago(clock, minutes=1)))
    assert drain(services) == ["sent"]
    token = links(outbox(services)[0])["relay"]
    page = services.relay.relay_page(token)
    services.relay.decide(token, {"relay": "yes", "csrf": page.info.csrf}, consent_text=consent_text)

    totals = services.ports.counters.totals("acme")
    assert totals["notices.sent.channel.invitation"] == 1 and totals["links.opened.channel.invitation"] == 1
    assert totals["consents.relay.given.channel.invitation"] == 1 and "notices.sent.channel.hub_notice" not in totals
    current = services.kpis.kpis("acme", None, None)["current"]
    assert current["career_relay_by_channel"]["invitation"] == {"notices_sent": 1, "links_opened": 1, "consents": 1}
    assert current["career_relay_by_channel"]["hub_notice"] == {"notices_sent": 0, "links_opened": 0, "consents": 0}


def _settings() -> dict:
    from tests.unit.services.support import SETTINGS
    return dict(SETTINGS)
