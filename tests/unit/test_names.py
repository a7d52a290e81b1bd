"""The name model: parts, reading order by script, readings (docs/names.md)."""
from __future__ import annotations

from chalicelib.domain.events import PersonRef
from chalicelib.domain.names import NameParts, split_full_name


def test_a_japanese_name_reads_family_name_first_with_a_space() -> None:
    assert NameParts(family="山田", given="太郎").display == "山田 太郎"
    assert NameParts(family="やまだ", given="たろう").display == "やまだ たろう"


def test_a_latin_name_reads_in_its_own_order() -> None:
    assert NameParts(family="Porter", given="Hector").display == "Hector Porter"


def test_the_reading_is_family_first() -> None:
    assert NameParts(family="山田", given="太郎", family_kana="ヤマダ", given_kana="タロウ").kana == "ヤマダ タロウ"


def test_a_full_name_splits_at_the_first_space_or_ideographic_space() -> None:
    assert split_full_name("山田　太郎") == NameParts(family="山田", given="太郎")
    assert split_full_name("山田 太郎 次郎") == NameParts(family="山田", given="太郎 次郎")
    assert split_full_name("山田") == NameParts(family="山田")
    assert split_full_name("  ") == NameParts()


def test_a_source_giving_parts_gets_the_whole_name_built_in_reading_order() -> None:
    ref = PersonRef(source="greenhouse", vendor_person_id="1", family_name="山田", given_name="太郎")
    assert ref.name == "山田 太郎"
    assert PersonRef(source="greenhouse", vendor_person_id="2", family_name="Porter", given_name="Hector").name == "Hector Porter"


def test_a_display_name_the_vendor_gives_is_kept() -> None:
    ref = PersonRef(source="kombo", vendor_person_id="1", name="Grace B. Hopper", family_name="Hopper", given_name="Grace")
    assert (ref.name, ref.family_name, ref.given_name) == ("Grace B. Hopper", "Hopper", "Grace")
