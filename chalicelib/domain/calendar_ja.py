"""Japanese dates: the 和暦 (era) calendar, printed and read (templates' `wareki` filter, CSV imports).

    format_wareki(date(2026, 12, 2))        -> "令和8年12月2日"
    parse_japanese_date("令和元年5月1日")     -> date(2019, 5, 1)

parse_japanese_date reads what Japanese HR spreadsheets hold: ISO (2024-04-01, with an optional
time), 2024/4/1 (with an optional time), 2024年4月1日, era dates (令和6年4月1日, 令和元年5月1日,
平成31年4月30日, the one-letter forms R6.4.1 / H31/4/30), in full-width digits as well (NFKC).
Anything else is a ValueError whose message says what is accepted (never the text itself: it may
be personal data, such as a date of birth)."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

# (name, letter, first day): each era runs until the next one begins
ERAS: tuple[tuple[str, str, date], ...] = (
    ("明治", "M", date(1868, 10, 23)),
    ("大正", "T", date(1912, 7, 30)),
    ("昭和", "S", date(1926, 12, 25)),
    ("平成", "H", date(1989, 1, 8)),
    ("令和", "R", date(2019, 5, 1)),
)
ACCEPTED = "YYYY-MM-DD, YYYY/M/D, YYYY年M月D日 or an era date such as 令和6年4月1日"
MAX_TEXT = 64

_TIME = r"(?:[T ]+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.[0-9]{1,9})?)?" \
        r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
_WEEKDAY = r"(?:\s*\([月火水木金土日](?:曜日?)?\))?"  # 2024年4月1日(月), as Excel's long date writes it
_WESTERN = (
    re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})" + _TIME),
    re.compile(r"(?P<year>[0-9]{4})/(?P<month>[0-9]{1,2})/(?P<day>[0-9]{1,2})" + _TIME),
    re.compile(r"(?P<year>[0-9]{4})年(?P<month>[0-9]{1,2})月(?P<day>[0-9]{1,2})日" + _WEEKDAY + _TIME),
)
_ERA_NAMES = "|".join(name for name, _, _ in ERAS)
_ERA_LETTERS = "".join(letter for _, letter, _ in ERAS)
_ERA = (
    re.compile(rf"(?P<era>{_ERA_NAMES})\s*(?P<year>[0-9]{{1,3}}|元)年(?P<month>[0-9]{{1,2}})月(?P<day>[0-9]{{1,2}})日" + _WEEKDAY + _TIME),
    re.compile(rf"(?P<era>[{_ERA_LETTERS}])(?P<year>[0-9]{{1,2}})(?P<sep>[./-])(?P<month>[0-9]{{1,2}})(?P=sep)(?P<day>[0-9]{{1,2}})"),
)


def era_of(day: date) -> tuple[str, int]:
    """The era a day falls in and its year in that era (1 for the first year)."""
    for name, _, start in reversed(ERAS):
        if day >= start:
            return name, day.year - start.year + 1
    raise ValueError(f"和暦 starts with 明治 on {ERAS[0][2].isoformat()}; the date is earlier")


def format_wareki(day: date) -> str:
    """令和8年12月2日; the first year of an era is 元年 (令和元年5月1日)."""
    era, year = era_of(day)
    return f"{era}{'元' if year == 1 else year}年{day.month}月{day.day}日"


def _era_date(era: str, year_text: str, month: int, day_of_month: int) -> date:
    names = [name for name, letter, _ in ERAS if era in (name, letter)]
    index = [name for name, _, _ in ERAS].index(names[0])
    name, _, start = ERAS[index]
    year = 1 if year_text == "元" else int(year_text)
    if year < 1:
        raise ValueError(f"not a date: the year of an era starts at 1 (元年); expected {ACCEPTED}")
    found = _checked(start.year + year - 1, month, day_of_month)
    following = ERAS[index + 1][2] if index + 1 < len(ERAS) else None
    if found < start or (following is not None and found >= following):
        until = f" until {date.fromordinal(following.toordinal() - 1).isoformat()}" if following else ""
        raise ValueError(f"not a date: the day is outside the era {name}, which ran from {start.isoformat()}{until}")
    return found


def _checked(year: int, month: int, day_of_month: int) -> date:
    try:
        return date(year, month, day_of_month)
    except ValueError:
        raise ValueError(f"not a date: no such day (month 1-12, a day the month has); expected {ACCEPTED}") from None


def parse_japanese_date(text: str) -> date:
    """The date a text names (see the module's docstring); ValueError when it names none."""
    if not isinstance(text, str):
        raise ValueError(f"not a date: expected text ({ACCEPTED})")
    value = unicodedata.normalize("NFKC", text).strip()
    if not value or len(value) > MAX_TEXT:
        raise ValueError(f"not a date: expected {ACCEPTED}")
    for pattern in _ERA:
        match = pattern.fullmatch(value)
        if match:
            _check_time(match)
            return _era_date(match["era"], match["year"], int(match["month"]), int(match["day"]))
    for pattern in _WESTERN:
        match = pattern.fullmatch(value)
        if match:
            _check_time(match)
            return _checked(int(match["year"]), int(match["month"]), int(match["day"]))
    raise ValueError(f"not a date: expected {ACCEPTED}")


def _check_time(match: re.Match[str]) -> None:
    groups = match.groupdict()
    if groups.get("hour") is None:
        return
    if int(groups["hour"]) > 23 or int(groups["minute"]) > 59 or int(groups.get("second") or 0) > 60:
        raise ValueError(f"not a date: the time is not a time of day (hh:mm, 00:00 to 23:59); expected {ACCEPTED}")
