"""The relationship inventory (現状関係の棚卸し): people the company already has a relationship
with, imported from a CSV before (or beside) the live sources: a Japanese HR system's export or a
team's own spreadsheet (docs/import.md). Pure: bytes or text in, events and row errors out. Row
errors name the line and the column, never the value (personal data), in Japanese and English."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import partial
from zoneinfo import ZoneInfo

from chalicelib.domain import fields
from chalicelib.domain.calendar_ja import parse_japanese_date
from chalicelib.domain.errors import PayloadError
from chalicelib.domain.events import ApplicationEvent, ExitEvent, HireEvent, HubEvent, PersonRef, ReferrerEvent, RejectionEvent, iso, utc
from chalicelib.domain.fields import FieldError
from chalicelib.domain.inventory_headers import DATES, FileRefused, Header, decode, delimiter, read_header, rule_ja
from chalicelib.domain.names import NameParts, split_full_name

SOURCE = "import"
COLUMNS = ("name", "email", "phone", "role", "occurred_at", "source", "tags")  # the English header of docs/import.md
MAX_ROWS = 2000
DEFAULT_TIME_ZONE = "Asia/Tokyo"
ROLES: dict[str, Callable[..., HubEvent]] = {  # role -> the event it imports as
    "applicant": ApplicationEvent,
    "rejected": RejectionEvent,
    "offer_declined": partial(RejectionEvent, by_candidate=True),  # the person withdrew or declined
    "employee": HireEvent,
    "alumni": ExitEvent,
    "referrer": ReferrerEvent,
}
# Japanese HR teams' own spreadsheets say it in Japanese (compared after NFKC).
ROLE_ALIASES = {
    "応募": "applicant", "応募者": "applicant", "選考中": "applicant",
    "不採用": "rejected", "お見送り": "rejected", "見送り": "rejected", "不合格": "rejected",
    "辞退": "offer_declined", "選考辞退": "offer_declined", "内定辞退": "offer_declined",
    "在籍": "employee", "在籍中": "employee", "社員": "employee", "従業員": "employee",
    "退職": "alumni", "退職者": "alumni", "退職済": "alumni", "アルムナイ": "alumni",
    "紹介者": "referrer",
}
_KINDS: dict[str, type[HubEvent]] = {"applicant": ApplicationEvent, "employee": HireEvent, "alumni": ExitEvent,
                                     "referrer": ReferrerEvent}
ROLE_OF_DATE = {"exited_on": "alumni", "rejected_on": "rejected", "hired_on": "employee", "applied_on": "applicant"}
DATE_OF_ROLE = {"alumni": "exited_on", "rejected": "rejected_on", "offer_declined": "rejected_on",
                "employee": "hired_on", "applicant": "applied_on"}
TAG_SEPARATORS = re.compile(r"[,、;；，]")
_CLOCK = re.compile(r"(?:^|[ T])([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?$")
_HIRAGANA = {c: c + 0x60 for c in range(0x3041, 0x3097)}  # ぁ..ゖ -> ァ..ヶ


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str
    message_ja: str = "この行を保存できません"

    def to_json(self) -> dict[str, int | str | None]:
        return {"line": self.line, "column": self.column, "error": self.message, "error_ja": self.message_ja}


class RowRefused(FieldError):
    """A row's cell an inventory rule refuses (its role, its date): the rule in English and Japanese."""

    def __init__(self, column: str, rule: str, rule_ja: str) -> None:
        super().__init__(column, rule)
        self.rule_ja = rule_ja


@dataclass(frozen=True)
class Inventory:
    """What a file holds: the events of its valid rows (with their lines) and the others' errors."""

    events: list[tuple[int, HubEvent]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header as written -> the field it gives
    ignored: tuple[str, ...] = ()                           # headers nothing is read from


def read(data: str | bytes, *, tenant: str, now: datetime, time_zone: str = DEFAULT_TIME_ZONE) -> Inventory:
    """Read a file (any encoding of inventory_headers.decode); FileRefused (400) for the file as a
    whole, a RowError per row that breaks a rule. A date without a time is midnight in time_zone."""
    text = decode(data)
    zone = zone_of(time_zone)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text))
    events, errors = [], []
    try:
        header = read_header(next(reader, []))
        for index, cells in enumerate(reader):
            line = reader.line_num
            if index >= MAX_ROWS:
                raise FileRefused(f"{MAX_ROWS}行を超えています。ファイルを分けてください", f"more than {MAX_ROWS} rows: split the file")
            if not any(c.strip() for c in cells):
                continue  # blank line
            try:
                events.append((line, _event(_Row(header, cells), tenant, zone, now)))
            except FieldError as problem:
                ja = problem.rule_ja if isinstance(problem, RowRefused) else rule_ja(problem.rule)
                errors.append(RowError(line, problem.field, problem.rule, ja))
            except PayloadError as problem:  # a fact's own checks (events.storable): still the row's error
                errors.append(RowError(line, None, problem.message))
    except csv.Error as error:  # a NUL byte, an unclosed quote, a cell over csv.field_size_limit()
        raise FileRefused(f"CSVの{reader.line_num}行目付近の形式が読み取れません",
                          f"the CSV is malformed near line {reader.line_num}") from error
    return Inventory(events, errors, {header.column(f): f for f in header.positions}, header.ignored)


def role_of(event: HubEvent) -> str:
    """The role a fact imports as (the inverse of ROLES)."""
    if isinstance(event, RejectionEvent):
        return "offer_declined" if event.by_candidate else "rejected"
    return next(role for role, kind in _KINDS.items() if isinstance(event, kind))


def summary(line: int, event: HubEvent) -> dict[str, object]:
    """What a dry run shows of a row: the admin's own file, so the name, but no contact data."""
    person = event.person
    return {"line": line, "role": role_of(event), "occurred_at": iso(event.occurred_at), "name": person.name,
            "family_name": person.family_name, "given_name": person.given_name, "name_kana": person.name_parts.kana,
            "tags": list(event.tags)}


def zone_of(name: str) -> tzinfo:
    """The tenant's time zone; Japan's fixed +09:00 when the name is unknown here (or no tz database)."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, TypeError, OSError):
        return timezone(timedelta(hours=9), "JST")


class _Row:
    def __init__(self, header: Header, cells: list[str]) -> None:
        self.header, self.cells = header, cells

    def cell(self, name: str) -> str:
        index = self.header.positions.get(name)
        return self.cells[index].strip() if index is not None and index < len(self.cells) else ""

    def column(self, name: str) -> str:
        return self.header.column(name)


def _event(row: _Row, tenant: str, zone: tzinfo, now: datetime) -> HubEvent:
    """The row's fact, each column read by the validator the admin API uses for that field
    (chalicelib/domain/fields.py). Values are kept as text, as written: a cell a spreadsheet would
    run as a formula (=, +, -, @) is stored as that text and neutralised when written to a CSV
    (chalicelib/domain/spreadsheet.py)."""
    email = fields.email(row.cell("email"), row.column("email"))
    role = _role(row)
    occurred_at = _occurred_at(row, role, zone, now)
    tags = fields.tags([t for t in TAG_SEPARATORS.split(row.cell("tags")) if t.strip()], row.column("tags"))
    parts = _name_parts(row)
    person = PersonRef(source=SOURCE, vendor_person_id=email, name=fields.name(row.cell("name"), row.column("name")),
                       email=email, phone=fields.phone(row.cell("phone"), row.column("phone")),
                       family_name=parts.family, given_name=parts.given, family_kana=parts.family_kana,
                       given_kana=parts.given_kana)
    return ROLES[role](tenant=tenant, occurred_at=occurred_at, person=person,
                       origin=fields.label(row.cell("source"), row.column("source")), tags=tags)


def _role(row: _Row) -> str:
    written = unicodedata.normalize("NFKC", row.cell("role")).strip().lower()
    if written:
        role = ROLE_ALIASES.get(written, written)
        if role not in ROLES:
            raise RowRefused(row.column("role"), f"not a known role: {', '.join(ROLES)} or a Japanese one in docs/import.md",
                             "区分が判別できません（使える語は docs/import.md にあります）")
        return role
    for dated, role in ROLE_OF_DATE.items():  # no role written: the latest dated step says it
        if row.cell(dated):
            return role
    raise RowRefused(row.column("role"), "no role: write one, or a date in a column such as 退職日",
                     "区分がありません。区分を書くか、退職日などの日付を入れてください")


def _occurred_at(row: _Row, role: str, zone: tzinfo, now: datetime) -> datetime:
    """The row's moment: its 日付/occurred_at cell, else the date of the role's own column (退職日 for
    alumni), else the only dated cell it has."""
    filled = [d for d in DATES if row.cell(d)]
    own = DATE_OF_ROLE.get(role)
    chosen = ("occurred_at" if "occurred_at" in filled else own if own in filled
              else filled[0] if len(filled) == 1 else None)
    if chosen is None:
        column = row.column("occurred_at") if "occurred_at" in row.header.positions else row.column(own or DATES[0])
        raise RowRefused(column, "no date", "日付がありません")
    return moment(row.cell(chosen), row.column(chosen), zone, now)


def moment(text: str, column: str, zone: tzinfo, now: datetime) -> datetime:
    """A cell's date (calendar_ja's forms) or ISO 8601 date-time, as UTC; a date alone is midnight in
    zone, a time without a zone is in zone. RowRefused for no date, a date before 1970 or after tomorrow."""
    value = unicodedata.normalize("NFKC", text).strip()
    try:
        stamp = datetime.fromisoformat(value) if "T" in value else None
    except ValueError:
        stamp = None
    if stamp is None:
        try:
            day = parse_japanese_date(text)
        except ValueError:
            raise RowRefused(column, "not a date (YYYY-MM-DD, YYYY/M/D, YYYY年M月D日, 令和6年4月1日) or an ISO 8601 date-time",
                             "日付として読めません（YYYY-MM-DD、YYYY/M/D、YYYY年M月D日、令和6年4月1日 など）") from None
        stamp = datetime.combine(day, _clock(value))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=zone)
    try:
        result = utc(stamp, what=column)
    except PayloadError:
        raise RowRefused(column, "out of range (1970 or later)", "日付が範囲外です（1970年以降にしてください）") from None
    if result.astimezone(zone).date() > _today(now, zone) + timedelta(days=1):
        raise RowRefused(column, "a date after tomorrow", "明日より後の日付です")
    return result


def _today(now: datetime, zone: tzinfo) -> date:
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(zone).date()


def _clock(value: str) -> time:
    found = _CLOCK.search(value)
    if not found:
        return time(0, 0)
    return time(int(found[1]), int(found[2]), int(found[3] or 0))  # parse_japanese_date checked the ranges


def _name_parts(row: _Row) -> NameParts:
    """The name in parts: 姓 and 名 (else 氏名 split at its first space), readings likewise (セイ and
    メイ, else フリガナ split), each held to the name rule under its own column; readings in katakana."""
    names = {}
    for part in ("family_name", "given_name", "family_kana", "given_kana"):
        names[part] = fields.name(row.cell(part), row.column(part))
    whole = fields.name(row.cell("full_name_ja"), row.column("full_name_ja"))
    if whole and not (names["family_name"] or names["given_name"]):
        split = split_full_name(whole)
        names["family_name"], names["given_name"] = split.family, split.given
    reading = fields.name(row.cell("kana"), row.column("kana"))
    if reading and not (names["family_kana"] or names["given_kana"]):
        split = split_full_name(reading)
        names["family_kana"], names["given_kana"] = split.family, split.given
    return NameParts(names["family_name"], names["given_name"], _katakana(names["family_kana"]), _katakana(names["given_kana"]))


def _katakana(reading: str | None) -> str | None:
    """A reading as docs/names.md holds it: katakana (half-width kana and hiragana converted)."""
    return unicodedata.normalize("NFKC", reading).translate(_HIRAGANA) if reading else None
