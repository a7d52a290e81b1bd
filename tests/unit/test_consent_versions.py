"""Consent bound to its recipient (pure rules): an agency's consent version changes with every edit
to what the candidate is told about it, and with nothing else; the relay consent names the version
consented to per agency, and a consent stored before per-agency versions covers none of them."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.domain import consents
from chalicelib.domain.person import Person
from chalicelib.domain.referrals import Agency, consent_version_of, endpoint_owner, read_agency, recipient_facts

AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
AGENCY = Agency(slug="tokyo", name="東京キャリア", legal_name="東京キャリア株式会社", country="JP",
                endpoint="https://api.tokyo-careers.example/v1/referrals", auth_type="bearer",
                data_items=("name", "email", "desired_roles"), batch_size=10, referrals_per_slot=10)
ABROAD = replace(AGENCY, slug="sg", country="SG", foreign_regime_note="シンガポールのPDPAが適用されます。")


# -- what makes a new version ---------------------------------------------------------------------------

@pytest.mark.parametrize("edit", [
    {"legal_name": "東京キャリアホールディングス株式会社"},
    {"name": "Tokyo Careers"},
    {"country": "US"},
    {"purpose": "広告配信"},
    {"data_items": ("name", "email", "desired_roles", "phone")},   # one more item
    {"data_items": ("name", "email")},                             # one fewer
    {"endpoint": "https://collector.other-entity.example/v1/referrals"},  # another owner
    {"endpoint": "https://other.tokyo-careers.example/v1/referrals"},     # another host of the same domain
], ids=lambda edit: next(iter(edit)))
def test_an_edit_to_what_the_candidate_is_told_makes_a_new_version(edit):
    assert replace(AGENCY, **edit).consent_version != AGENCY.consent_version


def test_the_foreign_regime_note_of_an_agency_abroad_is_part_of_its_version():
    assert replace(ABROAD, foreign_regime_note="米国の制度が適用されます。").consent_version != ABROAD.consent_version
    assert replace(ABROAD, foreign_regime_note=None).consent_version != ABROAD.consent_version


@pytest.mark.parametrize("edit", [
    {"batch_size": 50},
    {"referrals_per_slot": 3},
    {"endpoint": "https://api.tokyo-careers.example/v2/other-path"},  # the same host, another path
    {"endpoint": "https://API.Tokyo-Careers.example:8443/v1/referrals/"},  # case, port, trailing slash
    {"data_items": ("desired_roles", "email", "name")},                 # the same items in another order
    {"auth_type": "standard_webhooks"},
    {"sandbox": True},
    {"foreign_regime_note": "（日本国内では表示されません）"},  # a JP agency's page never shows it
], ids=lambda edit: next(iter(edit)))
def test_an_edit_the_candidate_is_not_told_of_keeps_the_version(edit):
    assert replace(AGENCY, **edit).consent_version == AGENCY.consent_version


def test_the_version_is_a_digest_of_the_facts_and_is_shown_with_the_agency():
    version = AGENCY.consent_version
    assert version.startswith("r-") and len(version) == 18
    assert AGENCY.to_json()["consent_version"] == version == consent_version_of(AGENCY.to_json())
    assert recipient_facts(AGENCY.to_json())["endpoint_owner"] == "api.tokyo-careers.example"
    stored = {**AGENCY.to_json(), "consent_version": "r-0000000000000000"}  # a stored version is not trusted
    assert Agency.from_json(stored).consent_version == version


def test_an_agency_stored_before_purposes_and_versions_reads_as_before():
    stored = {k: v for k, v in AGENCY.to_json().items() if k not in ("purpose", "consent_version")}
    assert Agency.from_json(stored) == AGENCY and consent_version_of(stored) == AGENCY.consent_version


def test_endpoint_owner_is_the_host_in_one_spelling():
    assert endpoint_owner("https://Agency.Example./v1") == "agency.example"
    assert endpoint_owner("https://エージェント.example/v1") == endpoint_owner("https://xn--hckb2c7c8kyb.example/v2") \
        == "xn--hckb2c7c8kyb.example"  # a name and its punycode are one owner
    assert endpoint_owner("http://[::1]:8080/x") == "::1"
    assert endpoint_owner("not a url") is None and endpoint_owner(None) is None


def test_an_admin_may_state_a_purpose_of_bounded_length():
    body = {"name": "A", "legal_name": "A KK", "country": "JP", "endpoint": "https://a.example",
            "auth": {"type": "bearer", "token": "token-1234"}, "data_items": ["name"]}
    agency, _ = read_agency("a", {**body, "purpose": " 職業紹介 "}, ("career_relay",))
    assert agency.purpose == "職業紹介"
    assert read_agency("a", body, ("career_relay",))[0].purpose is None
    with pytest.raises(Exception, match="purpose"):
        read_agency("a", {**body, "purpose": "x" * 301}, ("career_relay",))


# -- the person's consent, per agency and version -------------------------------------------------------

def person(**relay: object) -> Person:
    return Person(tenant="acme", person_id="p_1", consents={"relay": relay} if relay else {})


def test_a_relay_consent_names_each_agency_with_the_version_shown():
    shown = {"tokyo": "r-1", "sg": "r-2"}
    decision = consents.decide(person(), {"relay": True}, at=AT, version="ja-abc", agencies=shown)

    assert decision.relay_given and decision.queue == ("tokyo", "sg")
    assert consents.consented_versions(decision.person) == shown
    assert decision.person.consents["relay"]["agencies"]["tokyo"] == {
        "version": "r-1", "at": "2026-06-01T09:00:00.000000Z", "text_version": "ja-abc"}
    assert decision.entries[0]["agencies"] == shown
    assert consents.changed_agencies(decision.person, shown) == []


def test_an_edited_or_added_agency_is_asked_again_and_renewal_covers_it_once():
    given = consents.decide(person(), {"relay": True}, at=AT, version="ja-abc", agencies={"tokyo": "r-1", "sg": "r-2"}).person
    now = {"tokyo": "r-1b", "sg": "r-2", "new": "r-3"}
    assert consents.changed_agencies(given, now) == ["tokyo", "new"]

    kept = consents.decide(given, {"relay": True}, at=AT, version="ja-def", agencies=now)  # saved without the box
    assert kept.entries == [] and kept.queue == ()

    renewed = consents.decide(given, {"relay": True, consents.RENEW: True}, at=AT, version="ja-def", agencies=now)
    assert renewed.queue == ("tokyo", "new") and not renewed.relay_given and renewed.counters == {}
    assert [e["type"] for e in renewed.entries] == ["consent_renewed"]
    assert renewed.entries[0]["agencies"] == {"tokyo": "r-1b", "new": "r-3"}
    assert consents.consented_versions(renewed.person) == now
    again = consents.decide(renewed.person, {"relay": True, consents.RENEW: True}, at=AT, version="ja-def", agencies=now)
    assert again.entries == [] and again.queue == ()


def test_renewal_without_relay_is_a_withdrawal_and_renews_nothing():
    given = consents.decide(person(), {"relay": True}, at=AT, version="ja-abc", agencies={"tokyo": "r-1"}).person
    withdrawn = consents.decide(given, {consents.RENEW: True}, at=AT, version="ja-abc", agencies={"tokyo": "r-2"})
    assert withdrawn.relay_withdrawn and withdrawn.queue == ()
    assert consents.changed_agencies(withdrawn.person, {"tokyo": "r-2"}) == []  # nothing to ask again: no consent


def test_a_consent_stored_before_per_agency_versions_covers_no_version_and_is_asked_again():
    legacy = person(given=True, at="2026-05-01T00:00:00.000000Z", text_version="ja-0123456789abcdef",
                    channel="career_relay_link")
    assert consents.relay_stands(legacy) and consents.consented_versions(legacy) == {}
    assert consents.changed_agencies(legacy, {"tokyo": "r-1"}) == ["tokyo"]
    renewed = consents.decide(legacy, {"relay": True, consents.RENEW: True}, at=AT, version="ja-new",
                              agencies={"tokyo": "r-1"})
    assert renewed.queue == ("tokyo",) and consents.consented_versions(renewed.person) == {"tokyo": "r-1"}
    assert renewed.person.consents["relay"]["text_version"] == "ja-0123456789abcdef"  # the first consent stays as given
