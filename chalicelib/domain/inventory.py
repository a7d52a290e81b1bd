"""The relationship inventory (現状関係の棚卸し): people the company already has a relationship
with, imported from a CSV before (or beside) the live sources. Pure: text in, events and row
errors out. Row errors name the line and the column, never the value (personal data)."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from chalicelib.domain.errors import BadRequest, PayloadError
from chalicelib.domain.events import ApplicationEvent, ExitEvent, HireEvent, HubEvent, PersonRef, ReferrerEvent, RejectionEvent, utc
from chalicelib.domain.people import normalise_email

SOURCE = "import"
COLUMNS = ("name", "email", "phone", "role", "occurred_at", "source", "tags")
REQUIRED = ("email", "role", "occurred_at")
MAX_ROWS = 2000
ROLES: dict[str, Callable[..., HubEvent]] = {  # role -> the event it imports as
    "applicant": ApplicationEvent,
    "rejected": RejectionEvent,
    "offer_declined": partial(RejectionEvent, by_candidate=True),
    "employee": HireEvent,
    "alumni": ExitEvent,
    "referrer": ReferrerEvent,
}
# Japanese HR teams' own spreadsheets often say it in Japanese.
ROLE_ALIASES = {"応募者": "applicant", "不採用": "rejected", "辞退": "offer_declined", "内定辞退": "offer_declined",
                "社員": "employee", "従業員": "employee", "退職者": "alumni", "アルムナイ": "alumni", "紹介者": "referrer"}


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str

    def to_json(self) -> dict[str, int | str | None]:
        return {"line": self.line, "column": self.column, "error": self.message}


def read(text: str, *, tenant: str) -> tuple[list[tuple[int, HubEvent]], list[RowError]]:
    """Events of the valid rows (with their line numbers) and the errors of the others."""
    text = text.lstrip("\ufeff")  # spreadsheet exports start with a BOM
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BadRequest(f"the CSV header lacks: {', '.join(missing)} (columns: {', '.join(COLUMNS)})")
    reader.fieldnames = header
    events, errors = [], []
    try:
        for index, row in enumerate(reader):
            line = reader.line_num
            if index >= MAX_ROWS:
                raise BadRequest(f"more than {MAX_ROWS} rows: split the file")
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # blank line
            try:
                events.append((line, _event(row, tenant)))
            except RowProblem as problem:
                errors.append(RowError(line, problem.column, problem.message))
    except csv.Error as error:
        raise BadRequest(f"the CSV is malformed near line {reader.line_num}") from error
    return events, errors


class RowProblem(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column, self.message = column, message


def _cell(row: Mapping[str, object], column: str) -> str:
    value = row.get(column)
    return value.strip() if isinstance(value, str) else ""


def _event(row: Mapping[str, object], tenant: str) -> HubEvent:
    email = normalise_email(_cell(row, "email"))
    if email is None:
        raise RowProblem("email", "not an e-mail address")
    role = _cell(row, "role").lower()
    role = ROLE_ALIASES.get(role, role)
    if role not in ROLES:
        raise RowProblem("role", f"role must be one of {', '.join(ROLES)}")
    try:
        occurred_at = utc(_cell(row, "occurred_at"), what="occurred_at")
    except PayloadError:
        raise RowProblem("occurred_at", "occurred_at must be a date (YYYY-MM-DD) or an ISO 8601 date-time") from None
    make = ROLES[role]
    tags = tuple(t.strip() for t in _cell(row, "tags").replace(",", ";").split(";") if t.strip())
    return make(tenant=tenant, occurred_at=occurred_at,
                person=PersonRef(source=SOURCE, vendor_person_id=email, name=_cell(row, "name") or None,
                                 email=email, phone=_cell(row, "phone") or None),
                origin=_cell(row, "source") or None, tags=tags)
