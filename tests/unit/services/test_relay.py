"""RelayPages: the Career Relay consent page a notice links to, and the one-click unsubscribe."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.errors import BadRequest, Conflict, FormRefused
from chalicelib.services.relay import RelayPage
from tests.unit.services.support import ago, deliver, drain, links, message, outbox, person_id, profile, types

AGENCIES = [
    {"slug": "tokyo_careers", "name": "東京キャリア", "legal_name": "東京キャリア株式会社", "country": "JP",
     "data_items": ["name", "email", "desired_roles"]},
    {"slug": "global_talent", "name": "Global Talent", "legal_name": "Global Talent Ltd.", "country": "SG",
     "data_items": ["name", "email"], "foreign_regime_note": "シンガポールのPDPAが適用されます。"},
]
EMAIL = "c-1@example.jp"


def consent_text(page: RelayPage) -> str:
    """What the page showed, as the handler renders it: the recipients by legal name."""
    return f"[{page.locale}] 提供先: " + "、".join(agency["legal_name"] for agency in page.agencies)


@pytest.fixture
def link(services, acme, clock) -> dict[str, str]:
    """A rejected candidate's notice went out; its relay and unsubscribe tokens."""
    for agency in AGENCIES:  # partner agencies as the agency admin API stores them
        services.ports.config.put("acme", "agency", (agency["slug"],), agency)
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), locale="ja"))
    assert drain(services) == ["sent"]
    return links(outbox(services)[0])


def form(services, token: str, **choices: str) -> dict[str, str]:
    page = services.relay.relay_page(token)
    return {**choices, "csrf": page.info.csrf}


def referral_statuses(services) -> dict[str, str]:
    held = services.ports.relations.held("acme", person_id(services, EMAIL))
    return {r["agency"]: r["status"] for r in held.referrals}


def test_the_page_names_the_agencies_and_nothing_is_ticked(services, link):
    page = services.relay.relay_page(link["relay"])

    assert [a["slug"] for a in page.agencies] == ["global_talent", "tokyo_careers"]
    assert page.current == {"relay": False, "openings": False} and page.score is None and not page.saved
    assert page.locale == "ja" and page.settings.company_name == "サンプル株式会社"
    assert page.person.email == EMAIL


def test_the_page_seen_by_a_browser_records_link_opened_once_and_changes_nothing_else(services, link):
    for _ in range(3):  # the page's beacon, loaded again on each reload
        assert services.relay.seen(link["relay"])

    assert types(services, EMAIL).count("link_opened") == 1
    assert profile(services, EMAIL).person.consents == {}
    assert services.ports.counters.totals("acme")["links.opened"] == 1
    assert services.ports.tokens.resolve(link["relay"]).opened_at is not None


def test_a_page_read_as_a_mail_scanner_reads_it_records_nothing(services, link):
    for _ in range(3):
        services.relay.relay_page(link["relay"])

    assert "link_opened" not in types(services, EMAIL)
    assert services.ports.tokens.resolve(link["relay"]).opened_at is None


def test_the_first_form_posted_from_the_page_counts_as_opened(services, link):
    services.relay.decide(link["relay"], form(services, link["relay"], openings="yes"), consent_text=consent_text)

    assert types(services, EMAIL).count("link_opened") == 1
    assert services.ports.counters.totals("acme")["links.opened"] == 1


def test_a_forged_form_does_not_count_as_opened(services, link):
    with pytest.raises(FormRefused):
        services.relay.decide(link["relay"], {"csrf": "forged"}, consent_text=consent_text)

    assert "link_opened" not in types(services, EMAIL)


def test_an_unknown_token_seen_is_false_and_records_nothing(services, link):
    assert services.relay.seen("acme.no-such-token") is False


def test_consent_given_records_each_decision_with_its_text_version_and_queues_a_referral_per_agency(services, link):
    page = services.relay.decide(link["relay"], form(services, link["relay"], relay="yes", openings="yes", score="9"),
                                 consent_text=consent_text)

    assert page.saved and page.current == {"relay": True, "openings": True} and page.score == 9
    found = profile(services, EMAIL)
    given = [e for e in found.timeline if e["type"] == "consent_given"]
    assert sorted(e["consent"] for e in given) == ["openings", "relay"]
    version = found.person.consents["relay"]["text_version"]
    assert version.startswith("ja-") and found.person.consents["relay"]["channel"] == "career_relay_link"
    stored = services.ports.config.get("acme", "consent_text", (version,)).data
    assert "東京キャリア株式会社" in stored["text"] and stored["locale"] == "ja"  # the exact text shown, by version
    assert referral_statuses(services) == {"tokyo_careers": "queued", "global_talent": "queued"}
    assert [r.person_id for r in services.ports.referrals.queued("acme", "tokyo_careers", 10)] == [found.person.person_id]
    totals = services.ports.counters.totals("acme")
    assert totals["consents.relay.given"] == 1 and totals["survey.score_sum"] == 9 and totals["survey.promoters"] == 1


def test_giving_the_same_consent_twice_queues_one_referral(services, link):
    for _ in range(2):
        services.relay.decide(link["relay"], form(services, link["relay"], relay="yes"), consent_text=consent_text)

    assert len(services.ports.referrals.queued("acme", "tokyo_careers", 10)) == 1
    assert services.ports.counters.totals("acme")["consents.relay.given"] == 1


def test_a_revisit_shows_the_choices_and_withdrawing_is_as_easy(services, link, clock):
    services.relay.decide(link["relay"], form(services, link["relay"], relay="yes"), consent_text=consent_text)
    clock.advance(minutes=10)
    assert services.relay.relay_page(link["relay"]).current == {"relay": True, "openings": False}

    clock.advance(minutes=1)
    services.relay.decide(link["relay"], form(services, link["relay"]), consent_text=consent_text)

    found = profile(services, EMAIL)
    assert found.person.consents["relay"]["given"] is False
    assert found.timeline[-1]["type"] == "consent_withdrawn"
    assert set(referral_statuses(services).values()) == {"withdrawn"}
    assert services.ports.referrals.queued("acme", "tokyo_careers", 10) == []


# -- consent bound to its recipient ----------------------------------------------------------------------

def edit(services, slug: str, **changes) -> None:
    """An admin edits an agency as stored."""
    found = services.ports.config.get("acme", "agency", (slug,))
    services.ports.config.put("acme", "agency", (slug,), {**found.data, **changes})


def test_the_page_asks_again_for_an_agency_edited_since_the_consent_and_renewal_requeues_it_once(services, link):
    services.relay.decide(link["relay"], form(services, link["relay"], relay="yes"), consent_text=consent_text)
    before = {a["slug"]: a["consent_version"] for a in services.relay.relay_page(link["relay"]).agencies}
    assert profile(services, EMAIL).person.consents["relay"]["agencies"]["tokyo_careers"]["version"] == before["tokyo_careers"]
    edit(services, "tokyo_careers", legal_name="別会社株式会社")
    services.ports.referrals.hold("acme", services.ports.referrals.queued("acme", "tokyo_careers", 1)[0])  # as a run would

    page = services.relay.relay_page(link["relay"])
    assert page.changed == ["tokyo_careers"] and page.current["relay"] is True
    now = {a["slug"]: a["consent_version"] for a in page.agencies}
    assert now["tokyo_careers"] != before["tokyo_careers"] and now["global_talent"] == before["global_talent"]

    kept = services.relay.decide(link["relay"], form(services, link["relay"], relay="yes"), consent_text=consent_text)
    assert kept.changed == ["tokyo_careers"] and referral_statuses(services)["tokyo_careers"] == "reconsent_needed"

    for _ in range(2):
        renewed = services.relay.decide(link["relay"], form(services, link["relay"], relay="yes", renew="yes"),
                                        consent_text=consent_text)
    assert renewed.changed == [] and referral_statuses(services) == {"tokyo_careers": "queued", "global_talent": "queued"}
    [queued] = services.ports.referrals.queued("acme", "tokyo_careers", 10)
    assert queued.consent_version == now["tokyo_careers"]
    found = profile(services, EMAIL)
    assert [e["type"] for e in found.timeline].count("consent_renewed") == 1
    assert services.ports.counters.totals("acme")["consents.relay.given"] == 1  # renewal is not a second consent
    evidence = services.configuration.consent_text("acme", now["tokyo_careers"])
    assert evidence["facts"]["legal_name"] == "別会社株式会社"  # what the renewed version stood for


def test_an_agency_added_after_the_consent_is_asked_for_and_not_sent_meanwhile(services, link):
    services.relay.decide(link["relay"], form(services, link["relay"], relay="yes"), consent_text=consent_text)
    services.ports.config.put("acme", "agency", ("newcomer",), {**AGENCIES[0], "slug": "newcomer", "legal_name": "新規株式会社"})

    assert services.relay.relay_page(link["relay"]).changed == ["newcomer"]
    assert "newcomer" not in referral_statuses(services)
    services.relay.decide(link["relay"], form(services, link["relay"], relay="yes", renew="yes"), consent_text=consent_text)
    assert referral_statuses(services)["newcomer"] == "queued"


def test_a_form_shown_before_the_text_changed_is_refused_and_changes_nothing(services, link):
    page = services.relay.relay_page(link["relay"])
    shown = page.shown(consent_text(page))
    edit(services, "global_talent", country="US")  # (not in this test's consent text: the agency's version tells)

    with pytest.raises(Conflict):
        services.relay.decide(link["relay"], form(services, link["relay"], relay="yes", shown=shown),
                              consent_text=consent_text)
    assert profile(services, EMAIL).person.consents == {} and referral_statuses(services) == {}

    page = services.relay.relay_page(link["relay"])
    services.relay.decide(link["relay"], form(services, link["relay"], relay="yes", shown=page.shown(consent_text(page))),
                          consent_text=consent_text)
    assert set(referral_statuses(services).values()) == {"queued"}


def test_a_stale_form_token_is_a_refused_form_and_changes_nothing(services, link):
    with pytest.raises(FormRefused, match="stale") as refused:
        services.relay.decide(link["relay"], {"relay": "yes", "csrf": "forged"}, consent_text=consent_text)
    assert refused.value.status == 400 and refused.value.reason == "stale_form"
    with pytest.raises(FormRefused):
        services.relay.decide(link["relay"], {"relay": "yes"}, consent_text=consent_text)

    assert profile(services, EMAIL).person.consents == {}
    assert referral_statuses(services) == {}


@pytest.mark.parametrize("score", ["11", "-1", "ten", "3.5"])
def test_a_bad_score_is_a_bad_request_and_changes_nothing(services, link, score):
    with pytest.raises(FormRefused) as refused:
        services.relay.decide(link["relay"], form(services, link["relay"], relay="yes", score=score),
                              consent_text=consent_text)

    assert refused.value.reason == "bad_score" and isinstance(refused.value, BadRequest)
    assert profile(services, EMAIL).person.consents == {}


def test_unknown_expired_and_wrong_purpose_tokens_get_none(services, link, clock):
    relay = services.relay
    assert relay.relay_page("acme.no-such-token-at-all") is None
    assert relay.relay_page("garbage") is None
    assert relay.relay_page(link["unsubscribe"]) is None  # an unsubscribe token does not open the relay page
    assert relay.unsubscribe_page(link["relay"]) is None
    assert relay.unsubscribe(link["relay"]) is None

    clock.advance(days=31)
    assert relay.relay_page(link["relay"]) is None
    assert relay.decide(link["relay"], {"relay": "yes"}, consent_text=consent_text) is None
    assert profile(services, EMAIL).person.consents == {}


def test_the_language_follows_the_browser_when_the_person_has_none(services, acme, clock):
    deliver(services, message("candidate.rejected", ago(clock, minutes=1), locale=None))
    drain(services)
    token = links(outbox(services)[0])["relay"]

    assert services.relay.relay_page(token, accept_language="en-US,en;q=0.9,ja;q=0.8").locale == "en"
    assert services.relay.relay_page(token, accept_language="fr-FR").locale == "ja"  # the tenant's default


def test_unsubscribe_shows_a_page_then_one_click_stops_mail_and_is_idempotent(services, link):
    page = services.relay.unsubscribe_page(link["unsubscribe"])
    assert page is not None and page.unsubscribed is False
    assert profile(services, EMAIL).person.consents == {}  # showing the page changes nothing

    first = services.relay.unsubscribe(link["unsubscribe"])
    again = services.relay.unsubscribe(link["unsubscribe"])

    assert first.unsubscribed and again.unsubscribed
    assert services.ports.suppressions.reasons("acme", EMAIL) == ["opted_out"]
    found = profile(services, EMAIL)
    assert found.person.consents["mail"]["opted_out"] is True
    assert [e["type"] for e in found.timeline].count("consent_withdrawn") == 1
    assert services.ports.counters.totals("acme")["people.opted_out"] == 1
    assert services.relay.unsubscribe_page(link["unsubscribe"]).unsubscribed is True


def test_the_unsubscribe_link_keeps_working_long_after_the_relay_link_expired(services, link, clock):
    clock.advance(timedelta(days=400))

    assert services.relay.relay_page(link["relay"]) is None
    assert services.relay.unsubscribe(link["unsubscribe"]).unsubscribed
