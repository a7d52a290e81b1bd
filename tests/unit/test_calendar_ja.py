"""和暦: format_wareki and parse_japanese_date (chalicelib/domain/calendar_ja.py), and the tenant's
local days (chalicelib/domain/zones.py)."""
from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import zones
from chalicelib.domain.calendar_ja import ERAS, format_wareki, parse_japanese_date
from chalicelib.domain.errors import BadRequest


@pytest.mark.parametrize(("day", "shown"), [
    (date(2026, 12, 2), "令和8年12月2日"), (date(2019, 5, 1), "令和元年5月1日"), (date(2019, 4, 30), "平成31年4月30日"),
    (date(1989, 1, 8), "平成元年1月8日"), (date(1989, 1, 7), "昭和64年1月7日"), (date(1926, 12, 25), "昭和元年12月25日"),
    (date(1926, 12, 24), "大正15年12月24日"), (date(1912, 7, 30), "大正元年7月30日"), (date(1912, 7, 29), "明治45年7月29日"),
    (date(1868, 10, 23), "明治元年10月23日"),
])
def test_format_wareki_names_the_era_and_its_year(day, shown):
    assert format_wareki(day) == shown


def test_format_wareki_refuses_dates_before_meiji():
    with pytest.raises(ValueError, match="明治"):
        format_wareki(date(1868, 10, 22))


@pytest.mark.parametrize(("text", "day"), [
    ("2024-04-01", date(2024, 4, 1)), ("2024-04-01T09:30:00Z", date(2024, 4, 1)), ("2024-04-01 09:30", date(2024, 4, 1)),
    ("2024/4/1", date(2024, 4, 1)), ("2024/04/01 10:30:15", date(2024, 4, 1)), ("2024年4月1日", date(2024, 4, 1)),
    ("令和6年4月1日", date(2024, 4, 1)), ("令和元年5月1日", date(2019, 5, 1)), ("平成31年4月30日", date(2019, 4, 30)),
    ("昭和64年1月7日", date(1989, 1, 7)), ("明治元年10月23日", date(1868, 10, 23)),
    ("２０２４／４／１", date(2024, 4, 1)), ("令和６年４月１日", date(2024, 4, 1)), ("２０２４年４月１日", date(2024, 4, 1)),
    ("㋿6年4月1日", date(2024, 4, 1)), ("R6.4.1", date(2024, 4, 1)), ("H31/4/30", date(2019, 4, 30)),
    ("  2024-04-01 ", date(2024, 4, 1)),
])
def test_parse_japanese_date_reads_what_spreadsheets_hold(text, day):
    assert parse_japanese_date(text) == day


@pytest.mark.parametrize("text", [
    "", "x", "2024-13-01", "2024/2/30", "令和元年4月30日", "平成31年5月1日", "令和0年1月1日", "2024/4/1 25:00",
    "2024/4/1 10:60", "明治元年10月22日", "R6.4/1", "2024-04", "12/1/2024", "1" * 100,
])
def test_parse_japanese_date_refuses_anything_else_with_a_clear_message(text):
    with pytest.raises(ValueError, match="not a date"):
        parse_japanese_date(text)


def test_the_message_never_quotes_the_text():
    with pytest.raises(ValueError) as refused:
        parse_japanese_date("平成31年5月1日")
    assert "31" not in str(refused.value) and "5月1日" not in str(refused.value)


@given(st.text(max_size=80))
def test_parsing_any_text_gives_a_date_or_a_value_error(text):
    with contextlib.suppress(ValueError):
        assert isinstance(parse_japanese_date(text), date)


@given(st.dates(min_value=ERAS[0][2], max_value=date(2200, 12, 31)))
def test_a_printed_wareki_date_reads_back(day):
    assert parse_japanese_date(format_wareki(day)) == day


def test_the_default_zone_follows_the_locale_and_names_are_checked():
    assert zones.default_zone("ja") == "Asia/Tokyo" and zones.default_zone("en") == "UTC"
    assert zones.check_zone("Europe/Berlin") == "Europe/Berlin"
    for bad in ("Mars/Olympus", "../../etc/passwd", "", 9, "Asia/Tokyo\n", "x" * 100):
        with pytest.raises(BadRequest):
            zones.check_zone(bad)


def test_local_days_and_midnights():
    assert zones.local_day("2026-12-01T16:00:00.000000Z", "Asia/Tokyo") == "2026-12-02"
    assert zones.local_day("2026-12-01T16:00:00.000000Z", "UTC") == "2026-12-01"
    assert zones.midnight(date(2026, 12, 2), "Asia/Tokyo") == datetime(2026, 12, 1, 15, tzinfo=UTC)
    # a local day across a daylight-saving change: the same wall-clock time, 23 hours later
    start = datetime(2026, 3, 7, 17, tzinfo=UTC)  # 12:00 in New York, the day before clocks go forward
    assert zones.days_later(start, 1, "America/New_York") - start == timedelta(hours=23)
