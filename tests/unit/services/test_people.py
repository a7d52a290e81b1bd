"""People: search by name prefix, tag and role a page at a time; tag edits; the disclosure export with
provision records and suppression reasons; erasure, and what stays after it."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.events import PersonRef, RejectionEvent
from chalicelib.services import Services
from tests.unit.services.support import (
    LEGAL_NAME,
    SETTINGS,
    agency_client,
    ago,
    configure,
    deliver,
    drain,
    links,
    message,
    outbox,
    person_id,
    types,
)

NOBODY = "p_000000000000000000000000"


def search(services: Services, **query: str) -> list[dict]:
    """Every page of a search, following `next`."""
    found: list[dict] = []
    cursor = None
    while True:
        page = services.people.search_people("acme", {**query, **({"cursor": cursor} if cursor else {})})
        found += page["people"]
        cursor = page["next"]
        if cursor is None:
            return found


def candidate(services: Services, clock, i: int, *, name: str | None = None, at=None, msg_id: str | None = None) -> bytes:
    """c-<i> rejected (five minutes ago unless `at`); the body delivered."""
    body = message("candidate.rejected", at or ago(clock, minutes=5), person=f"c-{i}", name=name or f"候補者 {i}",
                   application=f"a-{i}")
    deliver(services, body, msg_id=msg_id)
    return body


# -- search and tags ----------------------------------------------------------------------------------

def test_people_are_found_by_name_prefix_tag_and_role_a_page_at_a_time(services, acme, clock):
    for i in range(7):
        candidate(services, clock, i, name=f"Ｙａｍａｄａ Hanako {i}" if i < 5 else f"Suzuki Ichiro {i}")

    first = services.people.search_people("acme", {"name": "yamada", "limit": "2"})
    yamadas = search(services, name="yamada", limit="2")  # width and case folded, 3 pages

    assert len(first["people"]) == 2 and first["next"] is not None
    assert sorted(p["name"][-1] for p in yamadas) == ["0", "1", "2", "3", "4"] and len({p["id"] for p in yamadas}) == 5
    assert len(search(services, role="rejected", limit="3")) == 7
    assert search(services, role="employee") == []
    pid = yamadas[0]["id"]
    services.people.tag_person("acme", pid, {"add": ["Engineer", "tokyo"]})
    [tagged] = search(services, tag="engineer", role="rejected")
    assert tagged["id"] == pid and tagged["tags"] == ["engineer", "tokyo"]
    assert [p["id"] for p in search(services, name="yamada", tag="tokyo")] == [pid]
    assert search(services, name="suzuki", tag="tokyo") == []


def record(services: Services, clock, i: int, **ref: str) -> None:
    """A rejection of c-<i> with a name in parts (the standard source has one full name only)."""
    person = PersonRef("standard", f"c-{i}", **ref)
    services.ports.relations.record_once(RejectionEvent(tenant="acme", person=person, occurred_at=ago(clock, minutes=5),
                                                        application_id=f"a-{i}"), delivery_id=f"d-{i}")


def test_people_are_found_as_japanese_users_type_names_and_readings(services, acme, clock):
    record(services, clock, 1, family_name="山田", given_name="太郎", family_kana="ヤマダ", given_kana="タロウ")
    record(services, clock, 2, family_name="髙橋", given_name="花子", family_kana="たかはし", given_kana="はなこ")
    record(services, clock, 3, family_name="高橋", given_name="一郎")
    record(services, clock, 4, family_name="Porter", given_name="Hector")

    def names(typed: str) -> list[str]:
        return sorted(p["name"] for p in search(services, name=typed, limit="1"))  # a page a person: cursors too

    assert names("ヤマダ") == names("やまだ") == names("ﾔﾏﾀﾞ") == names("山田太郎") == names("山田 太郎") == ["山田 太郎"]
    assert names("高橋") == names("髙橋") == ["高橋 一郎", "髙橋 花子"]
    assert names("タカハシ") == names("たかはし　は") == ["髙橋 花子"]
    assert names("太郎") == ["山田 太郎"] and names("porter") == names("HECTOR P") == ["Hector Porter"]
    assert names("やまだ たろう") == ["山田 太郎"] and names("すずき") == []


def with_phone(services: Services, clock, i: int, phone: str) -> None:
    body = json.loads(message("candidate.rejected", ago(clock, minutes=5), person=f"c-{i}", application=f"a-{i}"))
    body["data"]["person"]["phone"] = phone
    deliver(services, json.dumps(body).encode())


def test_phones_are_kept_in_e164_in_the_tenant_region_and_as_typed(services, acme, clock):
    with_phone(services, clock, 1, "０９０－１２３４－５６７８")
    with_phone(services, clock, 2, "090")
    services.configuration.put_settings("acme", {**SETTINGS, "phone_region": "US"})
    with_phone(services, clock, 3, "(757) 555-0100")

    def phone(i: int) -> tuple[str | None, str | None]:
        profile = services.people.person("acme", person_id(services, f"c-{i}@example.jp"))
        assert profile is not None
        return profile.person.phone, profile.person.phone_display

    assert phone(1) == ("+819012345678", "０９０－１２３４－５６７８")
    assert phone(2) == (None, "090")  # not a number: kept for people to read, the delivery taken
    assert phone(3) == ("+17575550100", "(757) 555-0100")
    shown = services.people.search_people("acme", {"email": "c-1@example.jp"})["people"][0]
    assert (shown["phone"], shown["phone_display"]) == ("+819012345678", "０９０－１２３４－５６７８")


def test_a_search_by_email_shows_the_person_with_the_timeline(services, acme, clock):
    candidate(services, clock, 1)

    [found] = services.people.search_people("acme", {"email": "C-1@Example.jp"})["people"]

    assert found["email"] == "c-1@example.jp" and [e["type"] for e in found["timeline"]] == ["rejected"]


def test_tags_are_edited_and_the_search_follows(services, acme, clock):
    candidate(services, clock, 1)
    pid = person_id(services, "c-1@example.jp")

    assert services.people.tag_person("acme", pid, {"tags": ["a", "b", "c"]})["tags"] == ["a", "b", "c"]
    assert services.people.tag_person("acme", pid, {"add": ["d", "A"], "remove": ["b"]})["tags"] == ["a", "c", "d"]

    assert search(services, tag="b") == [] and [p["id"] for p in search(services, tag="d")] == [pid]
    assert services.people.person("acme", pid).person.tags == ("a", "c", "d")


@pytest.mark.parametrize("body", [
    {}, {"tags": "x"}, {"tags": ["ok"], "add": ["x"]}, {"tags": ["#x"]}, {"tags": ["x" * 51]}, {"colour": ["red"]},
    {"tags": [f"t{i}" for i in range(51)]},
])
def test_bad_tag_edits_are_refused(services, acme, clock, body):
    candidate(services, clock, 1)
    pid = person_id(services, "c-1@example.jp")

    with pytest.raises(BadRequest):
        services.people.tag_person("acme", pid, body)
    assert services.people.person("acme", pid).person.tags == ()


def test_tagging_an_unknown_person_is_not_found(services, acme):
    with pytest.raises(NotFound):
        services.people.tag_person("acme", NOBODY, {"tags": []})
    with pytest.raises(NotFound):
        services.people.tag_person("acme", "p_nobody", {"tags": []})


@pytest.mark.parametrize("query", [
    {}, {"role": "boss"}, {"limit": "5"}, {"name": "x", "limit": "0"}, {"name": "x", "limit": "101"},
    {"name": "x", "cursor": "%%%"}, {"name": "x", "cursor": "e30"}, {"email": "not-an-address"},
    {"colour": "red", "name": "x"}, {"name": " "},
])
def test_bad_searches_are_refused(services, acme, query):
    with pytest.raises(BadRequest):
        services.people.search_people("acme", query)


def test_a_cursor_of_another_search_is_refused(services, acme, clock):
    for i in range(3):
        candidate(services, clock, i)
    cursor = services.people.search_people("acme", {"role": "rejected", "limit": "1"})["next"]

    with pytest.raises(BadRequest):
        services.people.search_people("acme", {"name": "候補者", "cursor": cursor})


def test_looking_people_up_needs_an_address_and_odd_ids_find_nobody(services, acme):
    with pytest.raises(BadRequest):
        services.people.people_by_email("acme", "not-an-address")
    assert services.people.people_by_email("acme", "nobody@example.com") == []
    assert services.people.person("acme", "p_" + "0" * 200) is None
    assert services.people.person("acme", NOBODY) is None


# -- export and erasure -------------------------------------------------------------------------------

@pytest.fixture
def referred(services, acme, clock) -> dict[str, str]:
    """GIVEN c-0 and c-1 rejected and mailed; c-0 consented on the relay page and was referred (accepted)."""
    configure(services)
    for i in range(2):
        candidate(services, clock, i)
    drain(services)
    tokens = {mail.to: links(mail) for mail in outbox(services)}
    relay = tokens["c-0@example.jp"]["relay"]
    clock.advance(minutes=1)
    csrf = services.relay.relay_page(relay).info.csrf
    services.relay.decide(relay, {"relay": "yes", "openings": "yes", "csrf": csrf}, consent_text=lambda page: "同意文")
    assert services.agencies.run_agency_batches("acme")[0]["accepted"] == 1
    pid = person_id(services, "c-0@example.jp")
    assert pid is not None
    return {"pid": pid, "link": relay,
            "other_link": tokens["c-1@example.jp"]["relay"]}


def test_export_returns_everything_held_about_a_person_with_the_provision_records(services, referred):
    services.ports.suppressions.add("acme", "c-0@example.jp", "bounced")

    held = services.people.export_person("acme", referred["pid"])

    assert held["tenant"] == "acme" and held["exported_at"]
    assert held["person"]["email"] == "c-0@example.jp" and held["person"]["name"] == "候補者 0"
    assert held["person"]["identities"] == ["standard:c-0"] and held["person"]["consents"]["relay"]["given"]
    assert {e["type"] for e in held["timeline"]} >= {"rejected", "notice_sent", "consent_given", "referred",
                                                    "referral_accepted", "link_opened"}
    assert [n["status"] for n in held["notices"]] == ["sent"]
    assert [(r["agency"], r["status"]) for r in held["referrals"]] == [("sandbox", "accepted")]
    assert sorted(link["purpose"] for link in held["links"]) == ["relay", "unsubscribe"]
    assert referred["link"].split(".", 1)[1] not in str(held)  # the link's secret is not part of the export
    [record] = held["provisions"]
    assert record["recipient"]["legal_name"] == LEGAL_NAME and record["data_items"]
    assert held["suppressed_for"] == ["bounced"]


def test_exporting_an_unknown_person_is_not_found(services, acme):
    with pytest.raises(NotFound):
        services.people.export_person("acme", NOBODY)


def test_erasure_removes_the_person_keeps_counters_and_provision_records_and_tells_the_agency(services, referred, clock):
    pid = referred["pid"]
    before = services.kpis.kpis("acme", None, None)["current"]

    answer = services.people.erase_person("acme", pid)

    assert answer == {"erased": pid, "provision_records_kept": 1, "kept_until": answer["kept_until"]}
    assert answer["kept_until"][:4] == "2029"
    assert services.people.person("acme", pid) is None
    assert person_id(services, "c-0@example.jp") is None
    assert [p["id"] for p in search(services, name="候補者")] == [person_id(services, "c-1@example.jp")]
    with pytest.raises(NotFound):
        services.people.export_person("acme", pid)
    after = services.kpis.kpis("acme", None, None)["current"]
    assert after["people"] == before["people"] and after["career_relay"] == before["career_relay"]
    assert after["relations_retained"] == before["relations_retained"] - 1
    assert services.relay.relay_page(referred["link"]) is None  # its links are dead
    assert services.relay.relay_page(referred["other_link"]) is not None
    assert len(services.agencies.provisions("acme", pid)) == 1  # kept until its date (APPI Art. 29)
    assert [services.agencies.run_agency_batches("acme")[0]["withdrawals"] for _ in range(2)] == [1, 0]
    assert len(agency_client(services).withdrawals) == 1
    with pytest.raises(NotFound):
        services.people.erase_person("acme", pid)


def test_an_erased_person_is_not_mailed_and_replays_do_not_bring_them_back(services, acme, clock):
    at = ago(clock, hours=2)
    original = candidate(services, clock, 5, at=at, msg_id="msg_original_delivery")  # its notice queued, not yet sent
    pid = person_id(services, "c-5@example.jp")
    services.people.erase_person("acme", pid)
    assert drain(services) == ["skipped"] and outbox(services) == []

    # the vendor retries the same delivery; another system exports the old fact again
    deliver(services, original, msg_id="msg_original_delivery")
    candidate(services, clock, 5, at=at)
    deliver(services, message("candidate.applied", at - timedelta(days=3), person="c-5", application="a-5"))
    assert person_id(services, "c-5@example.jp") is None and drain(services) == []

    # a genuinely new application, after the erasure: a new relationship, a new id
    clock.advance(minutes=1)
    for _ in range(2):  # and its copy, delivered again
        deliver(services, message("candidate.applied", clock.now(), person="c-5", application="a-new"))
    new_id = person_id(services, "c-5@example.jp")
    assert new_id and new_id != pid
    assert types(services, "c-5@example.jp") == ["applied"]
    assert services.people.person("acme", new_id).person.roles == ("applicant",)


def test_erasing_an_unknown_person_is_not_found(services, acme):
    with pytest.raises(NotFound):
        services.people.erase_person("acme", NOBODY)
    with pytest.raises(NotFound):
        services.people.erase_person("acme", "not-an-id")
