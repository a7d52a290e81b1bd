"""One person across sources (issue 17.6): likely matches suggested through the index (a shared phone,
the same name and reading), never merged automatically; the admin's merge within one tenant."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.domain import counters
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.events import ApplicationEvent, PersonRef
from chalicelib.services import Services
from tests.unit.services.support import ago, deliver, message

PHONE = "+819012345678"


def applied(services: Services, tenant: str, vid: str, **who: str | None) -> str:
    event = ApplicationEvent(tenant=tenant, person=PersonRef(source="greenhouse", vendor_person_id=vid, **who),
                             occurred_at=services.ports.clock() - timedelta(days=3), application_id=f"app-{vid}")
    recorded = services.ports.relations.record_once(event, delivery_id=f"d-{vid}")
    assert recorded is not None
    return recorded.person_id


def with_phone(body: bytes, phone: str) -> bytes:
    message = json.loads(body)
    message["data"]["person"]["phone"] = phone
    return json.dumps(message, ensure_ascii=False).encode()


def suggested(services: Services, person_id: str) -> list[dict]:
    profile = services.people.person("acme", person_id)
    assert profile is not None
    return services.people.suggested_merges("acme", profile)


def test_a_shared_phone_is_suggested_never_merged_by_intake(services, acme, clock):
    deliver(services, with_phone(message("candidate.rejected", ago(clock, days=2), person="c-1", email="one@example.jp"), PHONE))
    deliver(services, with_phone(message("candidate.rejected", ago(clock, days=1), person="c-2", email="two@example.jp",
                                         name="受付", application="app-2"), PHONE))
    first, second = (services.people.people_by_email("acme", f"{n}@example.jp")[0].person.person_id for n in ("one", "two"))

    assert first != second  # a switchboard's number joins no one by itself
    assert suggested(services, first) == [{"person_id": second, "why": ["same phone"]}]
    assert suggested(services, second) == [{"person_id": first, "why": ["same phone"]}]


def test_the_same_name_and_reading_is_suggested_across_spaces_width_and_kana(services, acme):
    one = applied(services, "acme", "a", name="山田 花子", email="a@example.jp", family_name="山田", given_name="花子",
                  family_kana="ヤマダ", given_kana="ハナコ")
    two = applied(services, "acme", "b", name="山田花子", email="b@example.jp", family_name="山田", given_name="花子",
                  family_kana="やまだ", given_kana="ﾊﾅｺ")
    namesake = applied(services, "acme", "c", name="山田 花子", email="c@example.jp", family_name="山田", given_name="花子",
                       family_kana="ヤマダ", given_kana="ハナ")

    assert suggested(services, one) == [{"person_id": two, "why": ["same name and reading"]}]
    assert suggested(services, namesake) == []


def test_merging_keeps_one_person_and_the_old_id_leads_to_them(services, acme):
    survivor = applied(services, "acme", "a", email="a@example.jp", phone=PHONE)
    other = applied(services, "acme", "b", email="b@example.jp", phone=PHONE)
    people = services.ports.counters.totals("acme")[counters.PEOPLE]

    merged = services.people.merge_people("acme", survivor, {"other": other})

    assert (merged.person_id, merged.merged) == (survivor, other)
    assert services.people.merge_people("acme", survivor, {"other": other}) == merged  # asked again
    assert services.ports.counters.totals("acme")[counters.PEOPLE] == people - 1
    found = services.people.person("acme", other)
    assert found is not None and found.person.person_id == survivor
    assert suggested(services, survivor) == []
    assert {p.person.person_id for a in ("a", "b") for p in services.people.people_by_email("acme", f"{a}@example.jp")} \
        == {survivor}


def test_a_merge_names_one_other_person_of_the_same_tenant(services, acme):
    mine = applied(services, "acme", "a", email="a@example.jp")
    theirs = applied(services, "globex", "z", email="z@example.jp")

    for body in ({}, {"other": 7}, {"other": mine, "extra": 1}):
        with pytest.raises(BadRequest):
            services.people.merge_people("acme", mine, body)
    with pytest.raises(BadRequest):
        services.people.merge_people("acme", mine, {"other": mine})
    with pytest.raises(NotFound):
        services.people.merge_people("acme", mine, {"other": theirs})
    with pytest.raises(NotFound):
        services.people.merge_people("acme", mine, {"other": "not-an-id"})
    assert services.ports.relations.profile("globex", theirs) is not None
