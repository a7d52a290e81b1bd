"""Search as Japanese users type (folding.search_key) and phones in E.164 (phones.read): the rules,
and fuzz: any text folds without raising, folding twice is folding once, any phone is read or kept
as typed (docs/search.md)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import phones, referrals, tenants
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.events import PersonRef, RejectionEvent
from chalicelib.domain.folding import VARIANTS, search_key
from chalicelib.domain.people import apply, search_terms, stored_terms
from chalicelib.domain.person import Person

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(("typed", "stored"), [
    ("ヤマダ", "やまだ"), ("やまだ", "ヤマダ"), ("ﾔﾏﾀﾞ", "ヤマダ"), ("山田太郎", "山田 太郎"), ("山田 太郎", "山田　太郎"),
    ("高橋", "髙橋"), ("髙橋", "高橋"), ("山崎", "山﨑"), ("斎藤", "齋藤"), ("斎藤", "齊藤"), ("渡辺", "渡邊"), ("渡辺", "渡邉"),
    ("浜田", "濵田"), ("吉田", "\U00020bb7田"), ("YAMADA", "yamada"), ("Ｙａｍａｄａ", "yamada"), ("じょんすみす", "ジョン・スミス"),
])
def test_what_a_user_types_folds_like_the_name_held(typed, stored):
    assert search_key(typed) == search_key(stored)


def test_every_variant_folds_to_a_character_that_is_not_itself_a_variant():
    assert all(search_key(variant) == usual and usual not in VARIANTS for variant, usual in VARIANTS.items())


@given(st.text(max_size=300))
def test_search_key_never_raises_and_is_idempotent(text):
    key = search_key(text)
    assert search_key(key) == key and len(key) <= 100 and " " not in key


def test_a_person_is_found_by_name_and_reading_family_or_given_first():
    person = Person(tenant="t", person_id="p", name="山田 太郎", family_name="山田", given_name="太郎",
                    family_kana="ヤマダ", given_kana="タロウ")
    names = {value for kind, value in search_terms(person) if kind == "name"}
    assert names == {"山田太郎", "太郎山田", "やまだたろう", "たろうやまだ"}


@pytest.mark.parametrize(("typed", "region", "e164"), [
    ("０９０－１２３４－５６７８", "JP", "+819012345678"), ("090-1234-5678", "JP", "+819012345678"),
    ("090ー1234ー5678", None, "+819012345678"), ("+81 90 1234 5678", "US", "+819012345678"),
    ("(757) 555-0100", "US", "+17575550100"), ("03-1234-5678 内線 12", "JP", None), ("call me", "JP", None), ("0", "JP", None),
])
def test_phones_are_read_in_the_region_or_kept_as_typed(typed, region, e164):
    phone = phones.read(typed, region)
    assert (phone.e164, phone.display) == (e164, typed)


@given(st.text(max_size=300), st.one_of(st.none(), st.text(max_size=4), st.sampled_from(["JP", "US", "GB"])))
def test_reading_any_phone_never_raises(typed, region):
    phone = phones.read(typed, region)
    assert phone.display == typed.strip() and (phone.e164 is None or phone.e164.startswith("+"))


def rejection(phone: str, region: str | None = "JP") -> RejectionEvent:
    return RejectionEvent(tenant="t", person=PersonRef("standard", "c-1", name="山田 太郎", phone=phone, phone_region=region),
                          occurred_at=NOW, application_id="a-1")


def test_a_person_keeps_the_phone_in_e164_and_as_typed_and_is_found_by_its_digest():
    person = apply(Person(tenant="t", person_id="p"), rejection("０９０－１２３４－５６７８"), now=NOW).person
    assert (person.phone, person.phone_display) == ("+819012345678", "０９０－１２３４－５６７８")
    assert ("phone", phones.phone_key("+819012345678")) in search_terms(person)
    assert not any("9012345678" in value for _, value in search_terms(person))  # index keys carry no number

    unreadable = apply(person, rejection("call the office"), now=NOW).person  # newer, typed: kept, no E.164
    assert (unreadable.phone, unreadable.phone_display) == (None, "call the office")
    assert not any(kind == "phone" for kind, _ in search_terms(unreadable))


def test_agencies_receive_the_phone_in_e164():
    person = apply(Person(tenant="t", person_id="p"), rejection("090-1234-5678"), now=NOW).person
    body = referrals.payload(person, [], "r_1", ("name", "phone"), {"at": "2026-06-01T09:00:00Z"})
    assert body["phone"] == "+819012345678"


def test_people_written_before_search_key_have_their_old_name_term_stored():
    person = Person(tenant="t", person_id="p", name="Yamada  Hanako", extra_roles=("referrer",), terms_form=1)
    assert stored_terms(person) == {("role", "referrer"), ("name", "yamada hanako")}
    assert stored_terms(Person(tenant="t", person_id="p", name="Yamada Hanako")) == {("name", "yamadahanako")}


SETTINGS = {"company_name": "Acme", "sender_email": "careers@example.com", "postal_address": "Tokyo", "contact": "hr@example.com"}


def test_the_phone_region_is_jp_unless_set_and_must_be_a_region():
    assert tenants.read_settings(SETTINGS)[0].phone_region == "JP"
    settings = tenants.read_settings({**SETTINGS, "phone_region": "US"})[0]
    assert settings.phone_region == "US" and tenants.from_json(settings.to_json()).phone_region == "US"
    for bad in ("jp", "XX", "JPN", 81, None, ""):
        with pytest.raises(BadRequest, match="phone_region"):
            tenants.read_settings({**SETTINGS, "phone_region": bad})
