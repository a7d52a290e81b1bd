"""Record shapes several vendors share: the unified APIs (Merge, Kombo) model HR employees the
same way, and Merge models ATS candidates as Greenhouse does. Read them in one place."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.events import ExitEvent, PersonRef, utc
from integrations.payload import text


def candidate(source: str, record: Mapping[str, Any], *, what: str = "candidate") -> PersonRef:
    """A candidate with first/last name and lists of {value} e-mail addresses and phone numbers.
    `last_name` is the family name (Greenhouse Harvest and Merge document it so), whatever the script."""
    return PersonRef(
        source=source,
        vendor_person_id=text(record, "id", required=True, what=f"{what}.id"),
        family_name=text(record, "last_name"), given_name=text(record, "first_name"),
        email=text(record, "email_addresses", 0, "value"),
        phone=text(record, "phone_numbers", 0, "value"),
    )


def employee_exit(source: str, tenant: str, employee: Mapping[str, Any], *, what: str = "employee",
                  job_title: bool = False) -> ExitEvent | None:
    """The exit of a unified-model employee, keyed to its termination date; None while employed.

    The personal address comes first: the work address dies with the exit."""
    termination = text(employee, "termination_date")
    if not termination:
        return None
    return ExitEvent(
        tenant=tenant,
        person=PersonRef(
            source=source,
            vendor_person_id=text(employee, "id", required=True, what=f"{what}.id"),
            family_name=text(employee, "last_name"), given_name=text(employee, "first_name"),
            name=text(employee, "display_full_name"),  # as the person wants it shown, when given
            email=text(employee, "personal_email") or text(employee, "work_email"),
            phone=text(employee, "mobile_phone_number"),
        ),
        occurred_at=utc(termination, what=f"{what}.termination_date"),
        job_title=text(employee, "job_title") if job_title else None,
    )
