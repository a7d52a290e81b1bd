"""Japanese dates as the CSV import reads them (chalicelib/domain/calendar_ja.py): the forms HR files write,
and ValueError (only ValueError) for anything else."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.calendar_ja import ERAS, format_wareki, parse_japanese_date


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-04-01", date(2024, 4, 1)),
    ("2024-04-01T09:30:00", date(2024, 4, 1)),
    ("2024/04/01", date(2024, 4, 1)),
    ("2024/4/1", date(2024, 4, 1)),
    ("2024/4/1 0:00", date(2024, 4, 1)),
    ("2024/4/1 23:59:59", date(2024, 4, 1)),
    ("2024年4月1日", date(2024, 4, 1)),
    ("2024年4月1日(月)", date(2024, 4, 1)),
    ("2024年4月1日（月曜日）", date(2024, 4, 1)),
    ("令和6年4月1日", date(2024, 4, 1)),
    ("令和元年5月1日", date(2019, 5, 1)),
    ("平成31年4月30日", date(2019, 4, 30)),
    ("平成元年1月8日", date(1989, 1, 8)),
    ("昭和64年1月7日", date(1989, 1, 7)),
    ("大正元年7月30日", date(1912, 7, 30)),
    ("明治45年7月29日", date(1912, 7, 29)),
    ("２０２４年４月１日", date(2024, 4, 1)),
    ("令和５年１２月１日", date(2023, 12, 1)),
    ("２０２４／４／１　０：００", date(2024, 4, 1)),
    ("  2024/4/1  ", date(2024, 4, 1)),
    ("㋿6年4月1日", date(2024, 4, 1)),     # the one-character era sign (NFKC)
    ("㍻31年3月31日", date(2019, 3, 31)),
])
def test_the_forms_japanese_hr_files_write(text, expected):
    assert parse_japanese_date(text) == expected


@pytest.mark.parametrize("text", [
    "", " ", "someday", "2024/13/1", "2024/2/30", "2023年2月29日", "2024/4/1 24:00", "2024/4/1 10:60",
    "令和0年1月1日", "令和元年4月30日",          # before the era's first day
    "平成元年1月7日", "平成32年1月1日",           # before Heisei; past its last year
    "大正16年1月1日", "明治46年1月1日", "慶応4年1月1日",
    "令和6年4月1", "20240401", "2024/4/1/1", "2024-04-01x", "٢٠٢٤/٤/١", "0000/1/1", "1" * 100,
])
def test_anything_else_is_a_value_error(text):
    with pytest.raises(ValueError):  # noqa: PT011 - the contract is ValueError, nothing more precise
        parse_japanese_date(text)


def test_not_text_is_a_value_error():
    with pytest.raises(ValueError):  # noqa: PT011
        parse_japanese_date(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("day", "expected"), [
    (date(2024, 4, 1), "令和6年4月1日"), (date(2019, 5, 1), "令和元年5月1日"), (date(2019, 4, 30), "平成31年4月30日"),
    (date(1989, 1, 7), "昭和64年1月7日"), (date(1989, 1, 8), "平成元年1月8日"), (date(1912, 7, 30), "大正元年7月30日"),
])
def test_format_wareki(day, expected):
    assert format_wareki(day) == expected


def test_format_wareki_refuses_a_date_before_meiji():
    with pytest.raises(ValueError):  # noqa: PT011
        format_wareki(date(1867, 12, 31))


@settings(max_examples=500, deadline=None)
@given(st.dates(min_value=ERAS[0][2], max_value=date(2200, 12, 31)))
def test_a_date_written_any_way_reads_back(day):
    for text in (day.isoformat(), f"{day.year}/{day.month}/{day.day}", f"{day.year}/{day.month:02}/{day.day:02} 0:00",
                 f"{day.year}年{day.month}月{day.day}日", format_wareki(day),
                 format_wareki(day).translate(str.maketrans("0123456789", "０１２３４５６７８９"))):
        assert parse_japanese_date(text) == day, text


@settings(max_examples=1000, deadline=None)
@given(st.one_of(
    st.text(max_size=80),
    st.text(alphabet="0123456789０１２３４５６７８９/-:年月日元 　()（）T令和平成昭和大正明治曜㋿", max_size=30),
    st.builds(lambda era, y, m, d: f"{era}{y}年{m}月{d}日", st.sampled_from([n for n, *_ in ERAS]),
              st.integers(-5, 120), st.integers(-1, 14), st.integers(-1, 33)),
))
def test_fuzz_only_value_error_ever(text):
    try:
        found = parse_japanese_date(text)
    except ValueError:
        return
    assert isinstance(found, date) and found.year >= 1000
