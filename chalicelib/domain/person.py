"""A person as the hub holds them: their tracks (from which roles derive) and what storage keeps.

Every other domain module speaks of people through this one, and it imports nothing of ours:
people rules, KPIs, consents and segments need not import each other to know what a person is."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from chalicelib.domain.jsondata import JsonObject

ROLES = ("applicant", "rejected", "offer_declined", "employee", "alumni", "referrer")
EMPLOYMENT_TRACK = "employment"

# When two facts on one track share an occurred_at, the later stage of the process wins. A reversal
# ("rejection_reverted") can only follow the rejection or decline it undoes, so at the same instant
# it wins over them (Greenhouse's unreject carries the rejection's own time: docs/sources.md); a
# hire still wins over it.
PRECEDENCE = {"applied": 0, "rejected": 2, "offer_declined": 2, "rejection_reverted": 3,
               "hired": 4, "exited": 5}
# What each track status means for the person's roles: a reverted rejection is a live application.
_ROLE_OF_STATUS = {"applied": "applicant", "rejection_reverted": "applicant", "rejected": "rejected",
                   "offer_declined": "offer_declined"}
_ROLE_OF_EMPLOYMENT = {"hired": "employee", "exited": "alumni"}


@dataclass(frozen=True)
class Track:
    status: str
    at: str  # iso(occurred_at)
    stage: str | None = None   # for a rejection: where in the process (a KPI cut)
    reason: str | None = None  # for a rejection: the vendor's reason (a KPI cut)

    def superseded_by(self, status: str, at: str) -> bool:
        return (at, PRECEDENCE[status]) > (self.at, PRECEDENCE[self.status])


@dataclass(frozen=True)
class Person:
    """What the hub holds about one human for one tenant."""

    tenant: str
    person_id: str
    name: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)  # E.164 (+819012345678), None unless valid (phones.py)
    locale: str | None = None
    contact_at: str = ""                       # occurred_at of the fact the contact fields came from
    tracks: dict[str, Track] = field(default_factory=dict)
    extra_roles: tuple[str, ...] = ()          # roles no track implies (e.g. referrer, from import)
    tags: tuple[str, ...] = ()
    consents: dict[str, JsonObject] = field(default_factory=dict)  # by purpose (consents.PURPOSES), "mail", "survey"
    identities: tuple[str, ...] = ()           # "<source>:<vendor id>"
    created_at: str = ""
    last_contact_at: str | None = None         # when the hub last mailed them
    milestones: dict[str, str] = field(default_factory=dict)  # first exit, last application, last hire (KPIs)
    version: int | None = None                 # storage's optimistic lock; None = not stored yet
    family_name: str | None = field(default=None, repr=False)  # the name in parts, where a source gave them
    given_name: str | None = field(default=None, repr=False)
    family_kana: str | None = field(default=None, repr=False)  # readings (フリガナ), katakana as given
    given_kana: str | None = field(default=None, repr=False)
    phone_display: str | None = field(default=None, repr=False)  # the phone as typed (０９０－１２３４－５６７８)
    terms_form: int = 2                        # the form of search terms storage holds for them (people.TERMS_FORM)

    @property
    def name_kana(self) -> str | None:
        """The reading of the whole name, family first (ヤマダ タロウ), or None."""
        return " ".join(part for part in (self.family_kana, self.given_kana) if part) or None

    @property
    def roles(self) -> tuple[str, ...]:
        held = set(self.extra_roles)
        for key, track in self.tracks.items():
            table = _ROLE_OF_EMPLOYMENT if key == EMPLOYMENT_TRACK else _ROLE_OF_STATUS
            if track.status in table:
                held.add(table[track.status])
        return tuple(role for role in ROLES if role in held)



def slug(label: str) -> str:
    text = re.sub(r"[^\w]+", "_", unicodedata.normalize("NFKC", label).strip().lower())
    return text.strip("_")[:40] or "unknown"
