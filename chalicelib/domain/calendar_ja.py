"""Dates as Japanese HR files write them: ISO (2024-04-01), slashes with an optional time
(2024/4/1 0:00), 2024年4月1日, and the Japanese era calendar (和暦: 令和6年4月1日, 令和元年5月1日, back
to 明治), in full-width digits too. Pure, stdlib only.

`parse_japanese_date` raises ValueError, and only ValueError, for anything else: a file's cell is
never a crash. `format_wareki` writes a date in the era calendar."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

# (name, first day): an era's year 1 (元年) is the year of its first day. Meiji counts from the
# first day of 1868: the era name was applied to the whole year it began in.
ERAS: tuple[tuple[str, date], ...] = (
    ("明治", date(1868, 1, 1)),
    ("大正", date(1912, 7, 30)),
    ("昭和", date(1926, 12, 25)),
    ("平成", date(1989, 1, 8)),
    ("令和", date(2019, 5, 1)),
)
_ERA_NAMES = "|".join(name for name, _ in ERAS)
_TIME = r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
_WEEKDAY = r"(?:\((?:[月火水木金土日])(?:曜日?)?\))?"
_ISO = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})" + _TIME, re.ASCII)
_SLASHED = re.compile(r"(?P<year>\d{4})/(?P<month>\d{1,2})/(?P<day>\d{1,2})" + _TIME, re.ASCII)
_KANJI = re.compile(r"(?P<year>\d{4})年(?P<month>\d{1,2})月(?P<day>\d{1,2})日" + _WEEKDAY + _TIME, re.ASCII)
_WAREKI = re.compile(r"(?P<era>" + _ERA_NAMES + r")(?P<year>元|\d{1,3})年(?P<month>\d{1,2})月(?P<day>\d{1,2})日"
                     + _WEEKDAY + _TIME, re.ASCII)
MAX_TEXT = 64  # longer than any date; refused before any pattern runs


def parse_japanese_date(text: str) -> date:
    """The calendar date a cell names: `2024-04-01`, `2024/04/01`, `2024/4/1 0:00`, `2024年4月1日`,
    `令和6年4月1日`, `令和元年5月1日` (full-width digits and spaces too; a time, when given, is checked
    and dropped). An era date must not precede the era's first day (令和元年4月30日 is refused) and
    its year must not run past the era's last year.

    Raises:
        ValueError: the text is not one of these forms, or names no real date.
    """
    if not isinstance(text, str):
        raise ValueError("not text")
    if len(text) > MAX_TEXT:
        raise ValueError("too long for a date")
    value = " ".join(unicodedata.normalize("NFKC", text).split())
    for pattern in (_ISO, _SLASHED, _KANJI):
        found = pattern.fullmatch(value)
        if found:
            _check_time(found)
            return _date(int(found["year"]), found["month"], found["day"])
    found = _WAREKI.fullmatch(value)
    if found is None:
        raise ValueError("not a date form this parser reads")
    _check_time(found)
    return _era_date(found["era"], found["year"], found["month"], found["day"])


def format_wareki(d: date) -> str:
    """A date in the era calendar: 令和6年4月1日, 令和元年5月1日.

    Raises:
        ValueError: the date precedes the Meiji era.
    """
    for name, first in reversed(ERAS):
        if d >= first:
            year = d.year - first.year + 1
            return f"{name}{'元' if year == 1 else year}年{d.month}月{d.day}日"
    raise ValueError("before the Meiji era")


def _date(year: int, month: str, day: str) -> date:
    return date(year, int(month), int(day))  # ValueError for 2月30日, month 13, year 0


def _era_date(era: str, year_text: str, month: str, day: str) -> date:
    index = next(i for i, (name, _) in enumerate(ERAS) if name == era)
    first = ERAS[index][1]
    year = 1 if year_text == "元" else int(year_text)
    if year < 1:
        raise ValueError("an era's years start at 1 (元年)")
    if index + 1 < len(ERAS) and first.year + year - 1 > ERAS[index + 1][1].year:
        raise ValueError("past the era's last year")
    found = _date(first.year + year - 1, month, day)
    if found < first:
        raise ValueError("before the era's first day")
    return found


def _check_time(found: re.Match[str]) -> None:
    if found["hour"] is None:
        return
    if int(found["hour"]) > 23 or int(found["minute"]) > 59 or int(found["second"] or 0) > 59:
        raise ValueError("not a time of day")
