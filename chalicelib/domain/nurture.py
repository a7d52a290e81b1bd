"""Nurture campaigns: a segment, a template kind and a cadence; when each member is due, and who may
be mailed at all (pure rules; docs/nurture.md tells the story).

Cadences:
    {"after": "rejection" | "exit", "days": N}   once per ending, N days after it (the latest one)
    {"every": "year", "on": "rejection" | "exit"} on each anniversary of the ending after enrolment

An *occurrence* is the natural due moment a cadence gives a person; a schedule may try it later
(`next_due`) when the person was mailed too recently (the interval). An occurrence is done once:
sent, or passed with a reason; the next one comes from the cadence again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from chalicelib.domain import zones
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.events import iso, utc
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.person import Person
from chalicelib.domain.segments import event_times

ANCHORS = {"rejection": "rejected", "exit": "exited"}  # cadence word -> segments event
MAX_DAYS = 3650
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Cadence:
    anchor: str           # rejection | exit
    days: int | None      # after an ending
    yearly: bool = False  # on each anniversary

    def to_json(self) -> JsonObject:
        return {"every": "year", "on": self.anchor} if self.yearly else {"after": self.anchor, "days": self.days}


@dataclass(frozen=True)
class Campaign:
    slug: str
    segment: str
    template_kind: str
    cadence: Cadence
    active: bool = True

    def to_json(self) -> JsonObject:
        return {"campaign": self.slug, "segment": self.segment, "template_kind": self.template_kind,
                "cadence": self.cadence.to_json(), "active": self.active}

    @classmethod
    def from_json(cls, data: JsonObject) -> Campaign:
        return cls(slug=data["campaign"], segment=data["segment"], template_kind=data["template_kind"],
                   cadence=read_cadence(data["cadence"]), active=data.get("active", True))


@dataclass(frozen=True)
class Schedule:
    """Where one person stands in one campaign."""

    campaign: str
    enrolled_at: str
    occurrence: str | None = None  # the natural due moment waiting to be done
    next_due: str | None = None    # when it is tried (>= occurrence); None: out of the due index
    last_done: str | None = None   # the last occurrence sent or passed
    last_outcome: str | None = None


def check_slug(value: object, what: str) -> str:
    if not isinstance(value, str) or not SLUG.match(value):
        raise BadRequest(f"{what} must be a slug: lower-case letters, digits, '-' and '_', at most 63")
    return value


MAX_DESCRIPTION = 500


def check_description(value: object) -> str | None:
    """A segment's description for the people who use it (issue 18): optional, plain text, at most 500."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise BadRequest(f"description must be a string of at most {MAX_DESCRIPTION} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise BadRequest("description must not hold control characters (line breaks and tabs are fine)")
    return value.strip() or None


def read_cadence(value: object) -> Cadence:
    forms = 'cadence must be {"after": "rejection"|"exit", "days": N} or {"every": "year", "on": "rejection"|"exit"}'
    if not isinstance(value, dict):
        raise BadRequest(forms)
    if set(value) == {"after", "days"}:
        days = value["days"]
        if value["after"] not in ANCHORS:
            raise BadRequest(f"cadence.after must be one of {', '.join(ANCHORS)}")
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
            raise BadRequest(f"cadence.days must be a whole number from 0 to {MAX_DAYS}")
        return Cadence(anchor=value["after"], days=days)
    if set(value) == {"every", "on"}:
        if value["every"] != "year":
            raise BadRequest('cadence.every must be "year"')
        if value["on"] not in ANCHORS:
            raise BadRequest(f"cadence.on must be one of {', '.join(ANCHORS)}")
        return Cadence(anchor=value["on"], days=None, yearly=True)
    raise BadRequest(forms)


def read_campaign(slug: str, body: JsonObject, *, kinds: tuple[str, ...]) -> Campaign:
    unknown = set(body) - {"segment", "template_kind", "cadence", "active"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    segment = check_slug(body.get("segment"), "segment")
    kind = body.get("template_kind")
    if kind not in kinds:
        raise BadRequest(f"template_kind must be one of {', '.join(kinds)}")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise BadRequest("active must be true or false")
    return Campaign(slug=check_slug(slug, "campaign"), segment=segment, template_kind=kind,
                    cadence=read_cadence(body.get("cadence")), active=active)


def _years_later(moment: datetime, years: int, zone: str) -> datetime:
    """The anniversary on the tenant's calendar: the same local date and time, years later."""
    local = moment.astimezone(zones.zone(zone))
    try:
        later = local.replace(year=local.year + years)
    except ValueError:  # 29 February in a common year: the 28th
        later = local.replace(year=local.year + years, day=28)
    return later.astimezone(UTC)


def occurrence(person: Person, cadence: Cadence, *, last_done: str | None, enrolled_at: str,
               zone: str = "UTC") -> str | None:
    """The next natural due moment of the person for a cadence; None when there is none. Days are
    the tenant's local days (zone): "N days after" is the same local time N local days later.

    After an ending: its latest ending + days, unless that (or a later) occurrence is done; a new
    ending later gives a new one. Yearly: the first anniversary of the latest ending that is after
    the last one done and at most a (local) day before enrolment (no backlog of past years)."""
    times = event_times(person, ANCHORS[cadence.anchor])
    if times is None:
        return None
    anchor = utc(times[1])  # the latest ending
    if not cadence.yearly:
        due = iso(zones.days_later(anchor, cadence.days or 0, zone))
        return None if last_done and last_done >= due else due
    floor = max(last_done or "", iso(zones.days_later(utc(enrolled_at), -1, zone)))  # a day's grace
    years = 1
    while iso(_years_later(anchor, years, zone)) <= floor:
        years += 1
    return iso(_years_later(anchor, years, zone))


def why_not(person: Person) -> str | None:
    """Why the law or the person's choices forbid nurture mail to them (特定電子メール法 Art. 3),
    or None: opted in to news of future openings, not opted out, reachable."""
    if (person.consents.get("mail") or {}).get("opted_out"):
        return "opted_out"
    if not (person.consents.get("openings") or {}).get("given"):
        return "not_opted_in"
    if not person.email:
        return "no_email"
    return None


def interval_clear(person: Person, key: str, now: datetime, days: int) -> str | None:
    """None when the person may get this nurture mail now (nothing within the interval, or this very
    mail was claimed before); else when the interval ends."""
    marks = person.milestones
    if marks.get("nurture_claim") == key:
        return None
    last = marks.get("last_nurture_at")
    if last and last > iso(now - timedelta(days=days)):
        return iso(utc(last) + timedelta(days=days))
    return None


def claimed(person: Person, key: str, now: datetime) -> Person:
    """The person with this mail claimed: the interval runs from now."""
    return replace(person, milestones={**person.milestones, "nurture_claim": key, "last_nurture_at": iso(now)})


def mail_key(person_id: str, campaign: str, occurrence_at: str) -> str:
    """One mail per person, campaign and occurrence, however often the job or the queue repeats it."""
    return f"nurture:{person_id}:{campaign}:{occurrence_at}"


def link_ref(campaign: str) -> str:
    """What a nurture mail's links record as the mail they came from (a notice's id for notices)."""
    return f"NURTURE#{campaign}"
