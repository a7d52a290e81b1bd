"""Phone numbers as the hub keeps them (docs/search.md, "Phones"): the number as typed, for people to
read (`phone_display`: ０９０－１２３４－５６７８, 090-1234-5678), and the same number in E.164
(`phone`: +819012345678), read in the tenant's region (TenantSettings.phone_region, "JP" unless set)
when it has no country code. E.164 is what agencies receive and what finds a person by phone.

A number that cannot be read as a valid number of that region (or of the country its `+` names) keeps
its typed form and has no E.164: a bad phone never refuses a delivery. Uses Google's libphonenumber
(the `phonenumbers` package, its lite edition: no carrier or geocoding data), imported on first use."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

DEFAULT_REGION = "JP"
_REGION = re.compile(r"^[A-Z]{2}$")
# Dashes people type between digit groups that NFKC leaves alone (the katakana long vowel ー among
# them: an IME's 090ー1234ー5678).
_DASHES = str.maketrans(dict.fromkeys("ー‐‑‒–—―−", "-"))


@dataclass(frozen=True)
class Phone:
    display: str = field(repr=False)         # as typed (trimmed)
    e164: str | None = field(repr=False)     # +819012345678, or None when it is not a valid number


def regions() -> frozenset[str]:
    """The ISO 3166 alpha-2 regions numbers can be read in."""
    import phonenumbers  # on first use: about 50 ms of import, off the cold start of handlers that never read a phone

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def is_region(value: object) -> bool:
    return isinstance(value, str) and bool(_REGION.match(value)) and value in regions()


def read(typed: str, region: str | None = None) -> Phone:
    """A typed number with its E.164 form, read in region (DEFAULT_REGION when None or unknown)
    when it names no country; never raises."""
    import phonenumbers  # see regions()

    display = typed.strip()
    text = unicodedata.normalize("NFKC", display).translate(_DASHES)
    where = region if region and _REGION.match(region) else DEFAULT_REGION
    try:
        number = phonenumbers.parse(text, where)
    except phonenumbers.NumberParseException:
        return Phone(display, None)
    if not phonenumbers.is_valid_number(number):
        return Phone(display, None)
    return Phone(display, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def phone_key(e164: str) -> str:
    """A stable digest of an E.164 number, so index keys carry no number (like people.email_key)."""
    return hashlib.sha256(e164.encode()).hexdigest()
