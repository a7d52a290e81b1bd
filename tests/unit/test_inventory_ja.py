"""The inventory as Japanese HR files write it (docs/import.md): encodings, the header alias table,
names in parts, readings, Japanese role words, dates (和暦 too) in the tenant's time zone, tags,
and errors that name the line and the column in Japanese and English, never the value."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import inventory
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.events import ExitEvent, HireEvent, RejectionEvent, iso

NOW = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def read(body: str | bytes, **options):
    return inventory.read(body, tenant="acme", now=NOW, **options)


def one(body: str | bytes, **options):
    found = read(body, **options)
    assert found.errors == [], [e.to_json() for e in found.errors]
    [(_, event)] = found.events
    return event


def people(found):
    return [(p["line"], p["role"], p["occurred_at"], p["family_name"], p["given_name"], p["name_kana"])
            for p in (inventory.summary(line, e) for line, e in found.events)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "utf-16", "shift_jis"])
def test_every_encoding_japanese_exports_use_is_read(encoding):
    body = "氏名,メールアドレス,区分,日付\n山田　太郎,taro@example.jp,不採用,2024/4/1\n"
    event = one(body.encode(encoding))
    assert (event.person.family_name, event.person.given_name, event.person.name) == ("山田", "太郎", "山田 太郎")


def test_utf16_tab_separated_excel_unicode_text_is_read():
    event = one("氏名\tメールアドレス\t区分\t日付\n山田 太郎\ttaro@example.jp\t退職\t2024/4/1\n".encode("utf-16"))
    assert isinstance(event, ExitEvent) and event.person.given_name == "太郎"


def test_bytes_no_encoding_fits_are_a_bilingual_400():
    with pytest.raises(BadRequest) as refused:
        read(b"email,role,occurred_at\n\x81\x00\xff\xfe\x80")
    assert "文字コード" in refused.value.message and "encoding" in refused.value.message


@pytest.mark.parametrize("header", [
    "ｍａｉｌ,Role,Occurred_At", "E-Mail,ROLE,occurred at", "メールアドレス,区分,日付", "Ｅメール,ステータス,日付",
    " email , role , date ",
])
def test_headers_match_across_width_case_and_spaces(header):
    assert one(header + "\nx@example.com,rejected,2024-04-01\n").person.email == "x@example.com"


@pytest.mark.parametrize("header", ["email,メールアドレス,role,date", "email,role,date,Email", "メールアドレス,Eメール,区分,日付"])
def test_a_field_given_twice_is_a_file_error_naming_the_columns(header):
    with pytest.raises(BadRequest) as refused:
        read(header + "\n")
    assert "同じ項目" in refused.value.message and "both give email" in refused.value.message


def test_last_and_first_name_columns_give_the_name_in_parts():
    person = one("last_name,first_name,email,role,occurred_at\nPorter,Hector,h@example.com,rejected,2025-01-01\n").person
    assert (person.family_name, person.given_name, person.name) == ("Porter", "Hector", "Hector Porter")


def test_family_and_given_columns_and_their_readings():
    person = one("姓,名,セイ,メイ,メール,区分,日付\n山田,太郎,ﾔﾏﾀﾞ,たろう,t@example.jp,社員,2020/4/1\n").person
    assert (person.family_name, person.given_name, person.family_kana, person.given_kana) == ("山田", "太郎", "ヤマダ", "タロウ")


@pytest.mark.parametrize("header", ["フリガナ", "ふりがな", "氏名（フリガナ）", "氏名(カナ)"])
def test_a_whole_reading_is_split_like_the_name(header):
    person = one(f"氏名,{header},メールアドレス,区分,日付\n山田　太郎,やまだ　たろう,t@example.jp,在籍,2020/4/1\n").person
    assert (person.family_kana, person.given_kana, person.name_parts.kana) == ("ヤマダ", "タロウ", "ヤマダ タロウ")


def test_an_english_name_column_is_kept_whole():
    person = one("name,email,role,occurred_at\nJane Roe,j@example.com,rejected,2025-01-01\n").person
    assert (person.name, person.family_name, person.given_name) == ("Jane Roe", None, None)


@pytest.mark.parametrize(("word", "role"), [
    ("お見送り", "rejected"), ("不合格", "rejected"), ("不採用", "rejected"), ("辞退", "offer_declined"),
    ("選考辞退", "offer_declined"), ("内定辞退", "offer_declined"), ("退職", "alumni"), ("退職者", "alumni"),
    ("在籍", "employee"), ("社員", "employee"), ("応募", "applicant"), ("応募者", "applicant"), ("Rejected", "rejected"),
    ("ＡＬＵＭＮＩ", "alumni"), ("紹介者", "referrer"),
])
def test_japanese_role_words(word, role):
    assert inventory.role_of(one(f"メールアドレス,区分,日付\nx@example.com,{word},2024/4/1\n")) == role


def test_a_withdrawal_is_a_rejection_by_the_candidate():
    event = one("メールアドレス,区分,日付\nx@example.com,選考辞退,2024/4/1\n")
    assert isinstance(event, RejectionEvent) and event.by_candidate


def test_an_unknown_role_is_a_row_error_naming_row_and_column_in_both_languages():
    found = read("メールアドレス,区分,日付\nx@example.com,社長,2024/4/1\n")
    [error] = [e.to_json() for e in found.errors]
    assert (error["line"], error["column"]) == (2, "区分") and "区分" in error["error_ja"] and "role" in error["error"]
    assert "社長" not in str(error)


@pytest.mark.parametrize(("cell", "moment"), [
    ("2024-04-01", "2024-03-31T15:00:00.000000Z"),          # a date alone: midnight in Tokyo
    ("2024/04/01", "2024-03-31T15:00:00.000000Z"),
    ("2024/4/1 0:00", "2024-03-31T15:00:00.000000Z"),
    ("2024/4/1 10:30", "2024-04-01T01:30:00.000000Z"),
    ("2024年4月1日", "2024-03-31T15:00:00.000000Z"),
    ("令和6年4月1日", "2024-03-31T15:00:00.000000Z"),
    ("令和元年5月1日", "2019-04-30T15:00:00.000000Z"),
    ("２０２４／０４／０１", "2024-03-31T15:00:00.000000Z"),
    ("2025-06-01T10:00:00+09:00", "2025-06-01T01:00:00.000000Z"),
    ("2025-06-01T10:00:00Z", "2025-06-01T10:00:00.000000Z"),
    ("2025-06-01T10:00:00", "2025-06-01T01:00:00.000000Z"),  # no zone: the tenant's
])
def test_dates_are_read_in_the_tenants_time_zone(cell, moment):
    assert iso(one(f"email,role,occurred_at\nx@example.com,rejected,{cell}\n").occurred_at) == moment


def test_another_time_zone_moves_midnight():
    event = one("email,role,occurred_at\nx@example.com,rejected,2024-04-01\n", time_zone="America/New_York")
    assert iso(event.occurred_at) == "2024-04-01T04:00:00.000000Z"
    assert iso(one("email,role,occurred_at\nx@example.com,rejected,2024-04-01\n", time_zone="Not/AZone").occurred_at) \
        == "2024-03-31T15:00:00.000000Z"  # unknown zone: Japan's


@pytest.mark.parametrize(("cell", "refused"), [
    ("2025/7/2", False), ("2025/7/3", True), ("令和99年1月1日", True), ("昭和40年1月1日", True), ("someday", True),
])
def test_dates_after_tomorrow_or_before_1970_are_row_errors(cell, refused):
    found = read(f"email,role,退職日\nx@example.com,alumni,{cell}\n")
    assert [(e.line, e.column) for e in found.errors] == ([(2, "退職日")] if refused else [])


def test_a_role_follows_from_the_dated_column_when_none_is_written():
    found = read("メールアドレス,入社日,退職日,不採用日,応募日\n"
                 "a@example.com,2015/4/1,2024/3/31,,\nb@example.com,2020/4/1,,,\n"
                 "c@example.com,,,2024/5/1,2024/4/1\nd@example.com,,,,2024/4/1\ne@example.com,,,,\n")
    assert [(line, inventory.role_of(e), iso(e.occurred_at)[:10]) for line, e in found.events] == [
        (2, "alumni", "2024-03-30"), (3, "employee", "2020-03-31"), (4, "rejected", "2024-04-30"), (5, "applicant", "2024-03-31")]
    assert [(e.line, e.column) for e in found.errors] == [(6, "role")]  # no role column: the field's name


def test_a_written_role_takes_its_own_dated_column():
    event = one("メールアドレス,区分,入社日,退職日\na@example.com,在籍,2015/4/1,\n")
    assert isinstance(event, HireEvent) and iso(event.occurred_at)[:10] == "2015-03-31"


@pytest.mark.parametrize("cell", ["エンジニア、東京", "エンジニア,東京", "エンジニア；東京", "エンジニア;東京", "エンジニア，東京",
                                  " エンジニア 、 東京 "])
def test_tags_split_on_japanese_and_ascii_separators(cell):
    assert one(f'email,role,occurred_at,タグ\nx@example.com,rejected,2024-04-01,"{cell}"\n').tags == ("エンジニア", "東京")


def test_missing_columns_are_named_in_both_languages():
    with pytest.raises(BadRequest) as refused:
        read("氏名,電話番号\n山田,090\n")
    assert "メールアドレス" in refused.value.message and "lacks" in refused.value.message


def test_a_dry_run_summary_names_no_contact_data():
    event = one("氏名,メールアドレス,電話番号,区分,日付\n山田 太郎,secret@example.jp,090-1111-2222,退職,2024/4/1\n")
    summary = inventory.summary(2, event)
    assert "secret@example.jp" not in str(summary) and "090" not in str(summary)
    assert summary == {"line": 2, "role": "alumni", "occurred_at": "2024-03-31T15:00:00.000000Z", "name": "山田 太郎",
                       "family_name": "山田", "given_name": "太郎", "name_kana": None, "tags": []}


# -- the three fixtures: a SmartHR-like export, a freee-like export, a hand-made Excel sheet -------------

def test_smarthr_like_cp932_export():
    found = read((FIXTURES / "smarthr_employees_cp932.csv").read_bytes())
    assert found.errors == []
    assert people(found) == [
        (2, "alumni", "2024-03-30T15:00:00.000000Z", "髙橋", "一郎", "タカハシ イチロウ"),
        (3, "alumni", "2023-09-29T15:00:00.000000Z", "山﨑", "花子", "ヤマザキ ハナコ"),
        (4, "employee", "2020-03-31T15:00:00.000000Z", "佐藤", "健", "サトウ ケン")]
    assert [e.person.phone for _, e in found.events] == ["090-1234-5678", "080-2345-6789", None]
    assert {"社員番号", "生年月日", "部署"} <= set(found.ignored) and found.columns["姓（ヨミ）"] == "family_kana"


def test_freee_like_utf8_bom_export():
    found = read((FIXTURES / "freee_employees_utf8_bom.csv").read_bytes())
    assert found.errors == []
    assert people(found) == [
        (2, "alumni", "2022-12-30T15:00:00.000000Z", "鈴木", "一郎", "スズキ イチロウ"),
        (3, "employee", "2021-03-31T15:00:00.000000Z", "田中", "美咲", "タナカ ミサキ"),
        (4, "alumni", "2025-03-30T15:00:00.000000Z", "渡辺", "翔", "ワタナベ ショウ")]
    assert [e.person.email for _, e in found.events][1] == "misaki.tanaka@example.com"
    assert found.events[0][1].person.phone == "０８０－１１１１－２２２２"  # as typed; E.164 is the phones change's


def test_handmade_excel_sheet_with_wareki_dates():
    found = read((FIXTURES / "excel_handmade_cp932.csv").read_bytes())
    assert found.errors == []
    assert people(found) == [
        (2, "rejected", "2024-03-31T15:00:00.000000Z", "山田", "太郎", "ヤマダ タロウ"),
        (3, "offer_declined", "2019-04-30T15:00:00.000000Z", "中村", "さくら", "ナカムラ サクラ"),
        (4, "alumni", "2019-03-30T15:00:00.000000Z", "小林", "大輔", "コバヤシ ダイスケ"),
        (5, "offer_declined", "2023-11-30T15:00:00.000000Z", "伊藤", "結衣", "イトウ ユイ"),
        (6, "applicant", "2024-03-31T15:00:00.000000Z", "加藤", "誠", "カトウ マコト")]
    assert [e.tags for _, e in found.events][0] == ("エンジニア", "東京")
    assert [e.tags for _, e in found.events][2] == ("エンジニア", "大阪")
    assert [e.origin for _, e in found.events][0] == "2024年度新卒採用"


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(lambda t: ("氏名,メールアドレス,区分,日付,タグ\n" + t).encode("utf-8")),
    st.text(max_size=300).map(lambda t: ("氏名,メールアドレス,区分,日付\n" + t).encode("cp932", "ignore")),
    st.text(max_size=300).map(lambda t: ("email\trole\toccurred_at\n" + t).encode("utf-16")),
    st.binary(max_size=300).map(lambda b: "姓,名,Eメール,ステータス,退職日\n".encode("cp932") + b),
))
def test_any_bytes_are_rows_or_a_400(body):
    try:
        found = read(body)
    except BadRequest as refused:
        assert refused.status == 400
        return
    assert all(isinstance(line, int) for line, _ in found.events)
    assert all(isinstance(e.line, int) and e.message and e.message_ja for e in found.errors)
