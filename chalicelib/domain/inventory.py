"""The relationship inventory (現状関係の棚卸し): people the company already has a relationship
with, imported from a CSV before (or beside) the live sources. Pure: text in, events and row
errors out. Row errors name the line and the column, never the value (personal data)."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from chalicelib.domain import fields
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.events import ApplicationEvent, ExitEvent, HireEvent, HubEvent, PersonRef, ReferrerEvent, RejectionEvent
from chalicelib.domain.fields import FieldError

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
    events, errors = [], []
    try:
        header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise BadRequest(f"the CSV header lacks: {', '.join(missing)} (columns: {', '.join(COLUMNS)})")
        reader.fieldnames = header
        for index, row in enumerate(reader):
            line = reader.line_num
            if index >= MAX_ROWS:
                raise BadRequest(f"more than {MAX_ROWS} rows: split the file")
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # blank line
            try:
                events.append((line, _event(row, tenant)))
            except FieldError as problem:
                errors.append(RowError(line, problem.field, problem.rule))
    except csv.Error as error:  # a NUL byte, an unclosed quote, a cell over csv.field_size_limit()
        raise BadRequest(f"the CSV is malformed near line {reader.line_num}") from error
    return events, errors


def _cell(row: Mapping[str, object], column: str) -> str:
    value = row.get(column)
    return value.strip() if isinstance(value, str) else ""


def _event(row: Mapping[str, object], tenant: str) -> HubEvent:
    """The row's fact, each column read by the validator the admin API uses for that field
    (chalicelib/domain/fields.py). Values are kept as text, as written: a cell a spreadsheet would
    run as a formula (=, +, -, @) is stored as that text and neutralised when written to a CSV
    (chalicelib/domain/spreadsheet.py)."""
    email = fields.email(_cell(row, "email"))
    role = _cell(row, "role").lower()
    make = ROLES[fields.role(ROLE_ALIASES.get(role, role))]
    occurred_at = fields.moment(_cell(row, "occurred_at"), "occurred_at")
    tags = fields.tags([t for t in _cell(row, "tags").replace(",", ";").split(";") if t.strip()])
    person = PersonRef(source=SOURCE, vendor_person_id=email, name=fields.name(_cell(row, "name")), email=email,
                       phone=fields.phone(_cell(row, "phone")))
    return make(tenant=tenant, occurred_at=occurred_at, person=person, origin=fields.label(_cell(row, "source"), "source"),
                tags=tags)
