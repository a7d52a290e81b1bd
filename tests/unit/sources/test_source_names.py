"""Every source says which part of a name is which (docs/names.md, docs/sources.md): Japanese names
come out family name first with their readings where the vendor has them, and vendors with a
single full name keep it as written."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

from integrations.payload import preferred_name
from integrations.sources import freee_hr, standard, workable


def test_workable_maps_lastname_and_firstname_and_ignores_its_given_first_full_name() -> None:
    body = {"id": "d1", "event_type": "candidate_moved", "fired_at": "2026-11-20T09:30:02Z", "resource_type": "candidate",
            "data": {"id": "c1", "name": "太郎 山田", "firstname": "太郎", "lastname": "山田", "disqualified": True,
                     "updated_at": "2026-11-20T09:30:00Z", "job": {"shortcode": "J1", "title": "エンジニア"}}}
    events = workable.parse({}, json.dumps(body).encode(), tenant="acme")
    assert events
    person = events[0].person
    assert (person.family_name, person.given_name, person.name) == ("山田", "太郎", "山田 太郎")


def test_workable_with_only_a_full_name_keeps_it_as_written() -> None:
    body = {"id": "d2", "event_type": "candidate_moved", "fired_at": "2026-11-20T09:30:02Z", "resource_type": "candidate",
            "data": {"id": "c2", "name": "山田太郎", "disqualified": True, "updated_at": "2026-11-20T09:30:00Z"}}
    person = workable.parse({}, json.dumps(body).encode(), tenant="acme")[0].person
    assert (person.family_name, person.given_name, person.name) == (None, None, "山田太郎")


def test_standard_takes_the_parts_and_readings() -> None:
    message = {"type": "candidate.rejected", "timestamp": "2026-11-25T00:00:00Z",
               "data": {"person": {"id": "p1", "family_name": "山田", "given_name": "太郎", "family_kana": "ヤマダ",
                                   "given_kana": "タロウ"}, "occurred_at": "2026-11-24T18:30:00+09:00"}}
    events = standard.parse({"webhook-id": "msg_1"}, json.dumps(message).encode(), tenant="acme")
    person = events[0].person
    assert (person.name, person.family_kana, person.given_kana) == ("山田 太郎", "ヤマダ", "タロウ")


def test_freee_splits_its_display_name_family_first() -> None:
    row = {"id": 7, "display_name": "山田　太郎", "retire_date": "2026-01-15", "email": "t@example.com"}
    event = freee_hr._exit(row, "acme", (date(2026, 1, 1), date(2026, 1, 31)))  # noqa: SLF001
    assert event is not None
    assert (event.person.family_name, event.person.given_name, event.person.name) == ("山田", "太郎", "山田　太郎")
    assert event.occurred_at == datetime(2026, 1, 15, tzinfo=UTC)


def test_a_preferred_name_replaces_the_given_name_in_the_shown_name_only() -> None:
    assert preferred_name("Porter", "Hec") == "Hec Porter"
    assert preferred_name("山田", "たろう") == "山田 たろう"
    assert preferred_name("Porter", None) is None
