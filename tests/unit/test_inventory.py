"""The inventory CSV reader: each column read by the admin API's validator for that field, one row's
content a row error (never the file's), any text a report or a 400; CSV the hub writes neutralises
cells a spreadsheet would run as formulas."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import fields, inventory, people_search, spreadsheet
from chalicelib.domain.errors import BadRequest

HEADER = "name,email,phone,role,occurred_at,source,tags\n"


NOW = datetime(2025, 7, 1, tzinfo=UTC)


def read(body: str):
    found = inventory.read(body, tenant="acme", now=NOW)
    return found.events, found.errors


def errors(body: str) -> list[tuple[int, str | None]]:
    return [(e.line, e.column) for e in read(body)[1]]


def test_a_row_with_150_tags_is_a_row_error_and_the_other_rows_are_read():
    many = ";".join(f"t{i}" for i in range(150))
    events, problems = read(HEADER + f"A,a@example.com,,rejected,2025-01-01,,{many}\n"
                                     "B,b@example.com,,alumni,2025-01-01,,x;y\n")
    assert [(p.line, p.column, p.message) for p in problems] == [(2, "tags", "a person has at most 50 tags")]
    assert [(line, e.person.email, e.tags) for line, e in events] == [(3, "b@example.com", ("x", "y"))]


@pytest.mark.parametrize(("row", "column"), [
    ("A,a@example.com,,rejected,2025-01-01,,ok;has#hash", "tags"),
    ("A,a@example.com,,rejected,2025-01-01,," + "t" * 51, "tags"),
    ("N" * 201 + ",a@example.com,,rejected,2025-01-01,,", "name"),
    ("A,a@example.com,call me maybe,rejected,2025-01-01,,", "phone"),
    ("A,a@example.com," + "0" * 50 + ",rejected,2025-01-01,,", "phone"),
    ("A,a@example.com,,rejected,2025-01-01," + "s" * 101 + ",", "source"),
    ("A,not-an-address,,rejected,2025-01-01,,", "email"),
    ("A," + "a" * 250 + "@example.com,,rejected,2025-01-01,,", "email"),
    ("A,a@example.com,,boss,2025-01-01,,", "role"),
    ("A,a@example.com,,rejected,someday,,", "occurred_at"),
])
def test_each_column_is_held_to_its_field_rule(row, column):
    assert errors(HEADER + row + "\n") == [(2, column)]


def test_values_a_japanese_spreadsheet_holds_are_read():
    [(_, event)] = read(HEADER + "山田　花子,ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ,０９０－１２３４－５６７８,"
                                 "不採用,2025-04-01,旧ATS,エンジニア;東京\n")[0]
    assert (event.person.name, event.person.email, event.person.phone) == ("山田　花子", "hanako@example.jp", "０９０－１２３４－５６７８")
    assert event.tags == ("エンジニア", "東京") and event.origin == "旧ATS"


def test_formula_cells_are_kept_as_the_text_they_were():
    [(_, event)] = read(HEADER + '"=HYPERLINK(""http://x"")",a@example.com,+81 90 1234 5678,rejected,2025-01-01,@evil,-x\n')[0]
    assert (event.person.name, event.person.phone, event.origin, event.tags) == (
        '=HYPERLINK("http://x")', "+81 90 1234 5678", "@evil", ("-x",))


TAG_LISTS = st.lists(st.one_of(st.text(max_size=60), st.sampled_from(["a", "A", "ｂ", "x#y", " ", "\t", "t" * 50, "t" * 51])),
                     max_size=70)


@settings(max_examples=200, deadline=None)
@given(TAG_LISTS)
def test_the_import_and_the_api_accept_the_same_tags(tags):
    """One validator per field: a tag list the admin API refuses is a row error, and the other way round."""
    try:
        api = people_search.tag_change({"tags": tags})(())
    except BadRequest:
        api = None
    cells = [t for t in tags if t.strip() and not any(c in t for c in ";,\r\n\"")]
    if cells != tags:  # only lists a CSV cell can carry
        return
    body = HEADER + "A,a@example.com,,rejected,2025-01-01,," + ";".join(tags) + "\n"
    try:
        events, problems = read(body)
    except BadRequest:
        return  # the cell broke the CSV itself (a 400 for the file, never a crash)
    imported = events[0][1].tags if events else None
    assert (imported is None) == (api is None), problems
    if api is not None:
        assert imported == api


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_any_text_is_a_report_or_a_400(text):
    for body in (text, HEADER + text, "email,role,occurred_at\n" + text):
        try:
            events, problems = read(body)
        except BadRequest:
            continue
        assert all(isinstance(line, int) for line, _ in events)
        assert all(p.column in (*inventory.COLUMNS, None) for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(max_size=30), min_size=7, max_size=9), max_size=8))
def test_any_rows_of_cells_are_a_report_or_a_400(rows):
    out = io.StringIO()
    csv.writer(out).writerows([inventory.COLUMNS, *rows])
    try:
        events, problems = read(out.getvalue())
    except BadRequest:
        return
    assert len(events) + len(problems) <= len(rows)


@pytest.mark.parametrize(("value", "shown"), [
    ("=1+1", "'=1+1"), ("+81 90", "'+81 90"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("  =1", "'  =1"), ("\n=1", "'\n=1"), ("山田", "山田"), ("a=b", "a=b"), (None, ""),
    (["rejected", "=x"], "rejected; =x"), (["=x", "y"], "'=x; y"), (3, "3"), (-3, "'-3"),
])
def test_a_cell_that_could_start_a_formula_is_neutralised(value, shown):
    assert spreadsheet.cell(value) == shown


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.text(max_size=20)), min_size=2, max_size=2), max_size=5))
def test_no_cell_written_starts_a_formula(rows):
    document = spreadsheet.write(["a", "b"], rows)
    assert document.startswith(spreadsheet.BOM)
    for row in csv.reader(io.StringIO(document[1:], newline="")):
        for value in row:
            assert not value.lstrip(" \r\n\t").startswith(("=", "+", "-", "@")) or value.startswith("'")


def test_fields_refuse_without_echoing_the_value():
    with pytest.raises(fields.FieldError) as refused:
        fields.name("秘密の名前\n" * 3)
    assert "秘密" not in refused.value.message and refused.value.field == "name"
