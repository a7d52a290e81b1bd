"""POST /admin/tenants/{tenant}/imports: the relationship inventory from a CSV."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import wiring
from tests.conftest import ADMIN

CSV = {**ADMIN, "Content-Type": "text/csv"}
GOOD = """name,email,phone,role,occurred_at,source,tags
山田 花子,Hanako@Example.jp,090-0000-0000,rejected,2025-04-01,spreadsheet,engineer;tokyo
佐藤 太郎,taro@example.jp,,alumni,2024-03-31,spreadsheet,
Jane Roe,jane@example.com,,不採用,2025-06-01T10:00:00+09:00,old-ats,designer
"""


def post(client, body: str | bytes, tenant="acme"):
    return client.http.post(f"/admin/tenants/{tenant}/imports", headers=CSV,
                            body=body.encode() if isinstance(body, str) else body)


def person(client, email):
    [found] = client.http.get(f"/admin/tenants/acme/people?email={email}", headers=ADMIN).json_body["people"]
    return found


def test_valid_rows_become_people_with_roles_tags_and_timeline(client):
    answer = post(client, GOOD)
    assert answer.status_code == 200
    assert answer.json_body == {"rows": 3, "imported": 3, "duplicates": 0, "errors": []}
    hanako = person(client, "hanako@example.jp")
    assert hanako["roles"] == ["rejected"] and hanako["tags"] == ["engineer", "tokyo"] and hanako["name"] == "山田 花子"
    assert hanako["timeline"][0] | {"type": "rejected", "source": "import", "origin": "spreadsheet"} == hanako["timeline"][0]
    assert person(client, "taro@example.jp")["roles"] == ["alumni"]
    assert person(client, "jane@example.com")["roles"] == ["rejected"]


def test_a_re_import_creates_nothing_twice(client):
    post(client, GOOD)
    assert post(client, GOOD).json_body == {"rows": 3, "imported": 0, "duplicates": 3, "errors": []}
    assert len(person(client, "hanako@example.jp")["timeline"]) == 1


def test_row_errors_are_reported_by_line_and_valid_rows_kept(client):
    body = (GOOD + "No Mail,,,rejected,2025-01-01,,\nBad Role,bad@example.com,,boss,2025-01-01,,\n"
            "Bad Date,date@example.com,,alumni,someday,,\n")
    report = post(client, body).json_body
    assert report["imported"] == 3 and report["rows"] == 6
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(5, "email"), (6, "role"), (7, "occurred_at")]
    assert report["errors"][0] == {"line": 5, "column": "email", "error": "not an e-mail address",
                                   "error_ja": "メールアドレスとして読めません"}
    assert "boss" not in str(report) and "someday" not in str(report)  # values are not echoed


def test_a_spreadsheet_export_with_bom_and_crlf_is_read(client):
    body = "\ufeff" + GOOD.replace("\n", "\r\n")
    assert post(client, body).json_body["imported"] == 3


def test_a_referrer_gets_the_referrer_role(client):
    post(client, "email,role,occurred_at\nref@example.com,referrer,2025-01-01\n")
    assert person(client, "ref@example.com")["roles"] == ["referrer"]


def test_bad_files_are_400_or_413(client):
    assert post(client, "name,phone\nx,y\n").status_code == 400  # required columns missing
    assert post(client, b"\x81\x00\xff not utf-8 nor cp932").status_code == 400
    assert post(client, "email,role,occurred_at\n" + "a@example.com,rejected,2025-01-01\n" * 2001).status_code == 400
    assert post(client, "email,role,occurred_at\n" + "x" * (1024 * 1024)).status_code == 413
    assert client.http.post("/admin/tenants/acme/imports", headers={"Content-Type": "text/csv"}, body=GOOD.encode()).status_code == 401


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text_gets_a_report_or_a_400(client, text):
    answer = post(client, "email,role,occurred_at\n" + text)
    assert answer.status_code in (200, 400)


def test_a_row_with_150_tags_is_a_row_error_and_the_rest_of_the_file_is_imported(client):
    many = ";".join(f"tag{i}" for i in range(150))
    body = GOOD + f"Many Tags,many@example.com,,rejected,2025-01-01,spreadsheet,{many}\nLast Row,last@example.com,,alumni,2025-01-02,,\n"
    answer = post(client, body)
    assert answer.status_code == 200, answer.body
    assert answer.json_body == {"rows": 5, "imported": 4, "duplicates": 0,
                                "errors": [{"line": 5, "column": "tags", "error": "a person has at most 50 tags",
                                            "error_ja": "タグは1人50個までです"}]}
    assert person(client, "last@example.com")["roles"] == ["alumni"]
    assert client.http.get("/admin/tenants/acme/people?email=many@example.com", headers=ADMIN).json_body["people"] == []


def test_the_import_refuses_what_the_api_refuses(client):
    """The same validator per field: a tag the tag edit refuses is a row error of the import."""
    post(client, GOOD)
    pid = person(client, "hanako@example.jp")["id"]
    edit = client.http.patch(f"/admin/tenants/acme/people/{pid}", headers={**ADMIN, "Content-Type": "application/json"},
                             body='{"add": ["a#b"]}')
    assert edit.status_code == 400 and "a tag has 1 to 50 printable characters" in edit.json_body["message"]
    report = post(client, "email,role,occurred_at,tags\nx@example.com,rejected,2025-01-01,a#b\n").json_body
    assert [(e["line"], e["column"], e["error"]) for e in report["errors"]] == [(2, "tags", edit.json_body["message"].split(": ", 1)[1])]


def test_formula_cells_are_stored_as_text_and_neutralised_in_the_csv_export(client):
    body = ('name,email,phone,role,occurred_at,source,tags\n'
            '"=HYPERLINK(""https://evil.example"",""x"")",f@example.com,+81 90 1234 5678,rejected,2025-01-01,,@risk\n')
    assert post(client, body).json_body["imported"] == 1
    found = person(client, "f@example.com")
    assert found["name"] == '=HYPERLINK("https://evil.example","x")' and found["tags"] == ["@risk"]  # JSON: as stored
    answer = client.http.get("/admin/tenants/acme/people?tag=@risk", headers={**ADMIN, "Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    text = answer.body.decode("utf-8") if isinstance(answer.body, bytes) else answer.body
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert rows[0] == ["id", "name", "email", "roles", "tags", "created_at", "last_contact_at"]
    assert rows[1][1:5] == ["'=HYPERLINK(\"https://evil.example\",\"x\")", "f@example.com", "rejected", "'@risk"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: ("name,email,phone,role,occurred_at,source,tags\n" + t).encode()))
def test_any_bytes_get_a_report_or_a_4xx(client, body):
    answer = post(client, body)
    assert answer.status_code in (200, 400), answer.body


# -- Japanese HR exports (docs/import.md) --------------------------------------------------------------
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
EXPECTED = {  # fixture -> (email, roles, family, given, kana, first timeline moment)
    "smarthr_employees_cp932.csv": [
        ("ichiro.takahashi@example.jp", ["alumni"], "髙橋", "一郎", "タカハシ", "2024-03-30T15:00:00"),
        ("hanako.yamazaki@example.jp", ["alumni"], "山﨑", "花子", "ヤマザキ", "2023-09-29T15:00:00"),
        ("ken.sato@example.jp", ["employee"], "佐藤", "健", "サトウ", "2020-03-31T15:00:00")],
    "freee_employees_utf8_bom.csv": [
        ("suzuki.ichiro@example.com", ["alumni"], "鈴木", "一郎", "スズキ", "2022-12-30T15:00:00"),
        ("misaki.tanaka@example.com", ["employee"], "田中", "美咲", "タナカ", "2021-03-31T15:00:00"),
        ("sho.watanabe@example.com", ["alumni"], "渡辺", "翔", "ワタナベ", "2025-03-30T15:00:00")],
    "excel_handmade_cp932.csv": [
        ("taro.yamada@example.jp", ["rejected"], "山田", "太郎", "ヤマダ", "2024-03-31T15:00:00"),
        ("sakura.nakamura@example.jp", ["offer_declined"], "中村", "さくら", "ナカムラ", "2019-04-30T15:00:00"),
        ("daisuke.kobayashi@example.jp", ["alumni"], "小林", "大輔", "コバヤシ", "2019-03-30T15:00:00"),
        ("yui.ito@example.jp", ["offer_declined"], "伊藤", "結衣", "イトウ", "2023-11-30T15:00:00"),
        ("makoto.kato@example.jp", ["applicant"], "加藤", "誠", "カトウ", "2024-03-31T15:00:00")],
}


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_a_japanese_hr_export_previews_then_imports_every_row_right(client, fixture):
    body = (FIXTURES / fixture).read_bytes()
    expected = EXPECTED[fixture]
    preview = client.http.post("/admin/tenants/acme/imports?dry_run=true", headers=CSV, body=body)
    assert preview.status_code == 200, preview.body
    assert (preview.json_body["dry_run"], preview.json_body["rows"], preview.json_body["valid"], preview.json_body["errors"]) == (
        True, len(expected), len(expected), [])
    assert [(p["role"], p["family_name"], p["given_name"], p["occurred_at"][:19]) for p in preview.json_body["preview"]] == [
        (roles[0], family, given, moment) for _, roles, family, given, _, moment in expected]
    assert "@" not in json.dumps(preview.json_body["preview"])  # no addresses in the preview
    for email, *_ in expected:  # the preview stored nothing
        assert client.http.get(f"/admin/tenants/acme/people?email={email}", headers=ADMIN).json_body["people"] == []

    assert post(client, body).json_body == {"rows": len(expected), "imported": len(expected), "duplicates": 0, "errors": []}
    for email, roles, family, given_name, kana, moment in expected:
        found = person(client, email)
        assert found["roles"] == roles and found["name"] == f"{family} {given_name}", (email, found)
        assert found["timeline"][0]["occurred_at"].startswith(moment), (email, found)
        stored = wiring.hub().people.person("acme", found["id"]).person  # the parts, as DynamoDB holds them
        assert (stored.family_name, stored.given_name, stored.family_kana) == (family, given_name, kana)

    # the same file again changes nothing (each row's fact key, stored on DynamoDB)
    assert post(client, body).json_body == {"rows": len(expected), "imported": 0, "duplicates": len(expected), "errors": []}
    assert all(len(person(client, email)["timeline"]) == 1 for email, *_ in expected)


def test_an_unreadable_encoding_is_a_bilingual_400(client):
    answer = post(client, b"email,role,occurred_at\n\x81\x00\xff\xfe\x80")
    assert answer.status_code == 400 and "文字コード" in answer.json_body["message"] and "encoding" in answer.json_body["message"]


def test_duplicate_columns_are_a_400_naming_them(client):
    answer = post(client, "メールアドレス,email,区分,日付\nx@example.com,x@example.com,不採用,2024/4/1\n")
    assert answer.status_code == 400 and "メールアドレス" in answer.json_body["message"] and "email" in answer.json_body["message"]


def test_a_dry_run_is_audited_as_a_preview_and_logs_no_name(client, caplog):
    answer = client.http.post("/admin/tenants/acme/imports?dry_run=true", headers=CSV,
                              body="氏名,メールアドレス,区分,日付\n秘密　花子,secret@example.jp,お見送り,2024/4/1\n".encode("cp932"))
    assert answer.json_body["preview"][0]["name"] == "秘密 花子"
    actions = [e["action"] for e in client.http.get("/admin/tenants/acme/audit", headers=ADMIN).json_body["entries"]]
    assert "people.import_preview" in actions and "people.import" not in actions
    assert "秘密" not in caplog.text and "secret@example.jp" not in caplog.text


def test_after_the_three_japanese_exports_people_are_found_as_japanese_users_type(client):
    """Issue 17's done-when: the three exports imported, ヤマダ, やまだ, 山田太郎 and 髙橋/高橋 find the
    people (through the index: the search never scans)."""
    for fixture in sorted(EXPECTED):
        assert post(client, (FIXTURES / fixture).read_bytes()).json_body["errors"] == []

    def names(term: str) -> list[str]:
        answer = client.http.get(f"/admin/tenants/acme/people?name={term}", headers=ADMIN)
        assert answer.status_code == 200, answer.body
        return sorted(found["name"] for found in answer.json_body["people"])

    for typed in ("ヤマダ", "やまだ", "山田太郎", "山田 太郎", "ﾔﾏﾀﾞ"):
        assert names(typed) == ["山田 太郎"], typed
    for typed in ("高橋", "髙橋", "たかはし"):
        assert names(typed) == ["髙橋 一郎"], typed
    assert names("山崎") == ["山﨑 花子"]
    phone = person(client, "ichiro.takahashi@example.jp")
    assert (phone["phone"], phone["phone_display"]) == ("+819012345678", "090-1234-5678")
