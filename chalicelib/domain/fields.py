"""One validator per field of a person the hub takes from an operator: the admin API and the CSV
inventory import call the same functions, so a value one accepts the other accepts, and a value
storage could not hold (150 tags, a megabyte of name) is a clear 400 or row error, never a 5xx.

Each validator takes the raw value and the field's name as the caller shows it, returns the value
as stored, and raises FieldError naming the field and the rule, never the value (personal data).
Pure; imports only the domain's vocabulary."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from chalicelib.domain.errors import BadRequest, PayloadError
from chalicelib.domain.events import utc
from chalicelib.domain.person import ROLES

MAX_EMAIL = 254        # RFC 5321's path limit
MAX_NAME = 200
MAX_PHONE = 40
MAX_LABEL = 100        # a source label (the CSV's source column)
MAX_TAGS = 50          # tags one person holds
MAX_TAG_LENGTH = 50

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9()\-./ ]*[0-9][0-9()\-./ ]*(?:(?:ext\.?|x|内線) ?[0-9]{1,8})?$")


class FieldError(BadRequest):
    """A value one field refuses: which field and which rule, never the value."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field, self.rule = field, rule


# -- the forms values are compared in ----------------------------------------------------------------
def normalise_email(value: str | None) -> str | None:
    """The form two systems' addresses are compared in: NFKC, trimmed, lower-cased; None if not one."""
    if not value or not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip().lower()
    return text if _EMAIL.match(text) and _plain(text) else None


def tag_key(text: str) -> str:
    """The form tags are compared (and stored) in: NFKC, trimmed, lower-cased."""
    return unicodedata.normalize("NFKC", text).strip().lower()


# -- validators ------------------------------------------------------------------------------
def email(value: object, field: str = "email") -> str:
    """A required e-mail address, normalised (normalise_email)."""
    address = normalise_email(value) if isinstance(value, str) else None
    if address is None or len(address) > MAX_EMAIL:
        raise FieldError(field, "not an e-mail address")
    return address


def name(value: object, field: str = "name") -> str | None:
    """An optional name as written (trimmed): at most 200 characters, one line, no control characters."""
    text = _optional_text(value, field)
    if text is None:
        return None
    if len(text) > MAX_NAME or not _plain(text):
        raise FieldError(field, f"a name has at most {MAX_NAME} characters on one line, without control characters")
    return text


def phone(value: object, field: str = "phone") -> str | None:
    """An optional phone number as written (trimmed): digits with + ( ) - . / and spaces, an optional
    extension, at most 40 characters; full-width digits are read as digits."""
    text = _optional_text(value, field)
    if text is None:
        return None
    if len(text) > MAX_PHONE or not _PHONE.match(unicodedata.normalize("NFKC", text)):
        raise FieldError(field, f"a phone number has digits, + ( ) - . / and spaces, at most {MAX_PHONE} characters")
    return text


def role(value: object, field: str = "role") -> str:
    """One of the hub's roles (person.ROLES)."""
    if not isinstance(value, str) or value not in ROLES:
        raise FieldError(field, f"must be one of {', '.join(ROLES)}")
    return value


def label(value: object, field: str) -> str | None:
    """An optional short label (where an imported fact came from): at most 100 plain characters."""
    text = _optional_text(value, field)
    if text is not None and (len(text) > MAX_LABEL or not _plain(text)):
        raise FieldError(field, f"at most {MAX_LABEL} characters on one line, without control characters")
    return text


def moment(value: object, field: str) -> datetime:
    """A date (YYYY-MM-DD) or an ISO 8601 date-time, read as UTC when it names no zone."""
    try:
        return utc(value, what=field)
    except PayloadError:
        raise FieldError(field, "must be a date (YYYY-MM-DD) or an ISO 8601 date-time") from None


def tag(value: object, field: str = "tags") -> str:
    """One tag, as stored (tag_key): 1 to 50 printable characters, no '#'."""
    text = tag_key(value) if isinstance(value, str) else ""
    if not text or len(text) > MAX_TAG_LENGTH or "#" in text or not text.isprintable():
        raise FieldError(field, f"a tag has 1 to {MAX_TAG_LENGTH} printable characters and no '#'")
    return text


def tags(values: object, field: str = "tags") -> tuple[str, ...]:
    """A list of tags, each checked by `tag`, duplicates (by tag_key) dropped; at most 50."""
    if not isinstance(values, (list, tuple)) or not all(isinstance(t, str) for t in values):
        raise FieldError(field, "must be a list of strings")
    kept = tuple(dict.fromkeys(tag(t, field) for t in values))
    return held_tags(kept, field)


def held_tags(values: tuple[str, ...], field: str = "tags") -> tuple[str, ...]:
    """The tags one person may hold at once: at most 50."""
    if len(values) > MAX_TAGS:
        raise FieldError(field, f"a person has at most {MAX_TAGS} tags")
    return values


def merge_tags(held: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    """A fact's tags added to those a person holds: the ones `tag` accepts and the person lacks,
    while the person holds fewer than 50 (a source's tags never make a person unstorable)."""
    result = list(held)
    seen = {tag_key(t) for t in held}
    for raw in new:
        if len(result) >= MAX_TAGS:
            break
        try:
            value = tag(raw)
        except FieldError:
            continue
        if value not in seen:
            seen.add(value)
            result.append(value)
    return tuple(result)


def _optional_text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(field, "must be text")
    return value.strip() or None


def _plain(text: str) -> bool:
    """No control characters, line breaks, surrogates or unassigned code points."""
    return not any(unicodedata.category(c) in ("Cc", "Cs", "Cn", "Zl", "Zp") for c in text)
