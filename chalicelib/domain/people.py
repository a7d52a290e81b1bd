"""People in the relations database and how facts change them (pure rules, no storage).

A person's roles are derived from *tracks*: one per application (`app:<source>:<id>`) and one
for their employment with the company. Each track keeps only its latest fact by `occurred_at`
(ties broken by a fixed precedence), so applying the same facts in any order, any number of
times, gives the same roles. The timeline keeps every fact once; storage enforces "once".
"""
from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain import counters, kpis
from chalicelib.domain.events import (
    ApplicationEvent,
    ExitEvent,
    HireEvent,
    HubEvent,
    PersonRef,
    ReferrerEvent,
    RejectionEvent,
    RejectionRevertedEvent,
    iso,
)
from chalicelib.domain.fields import merge_tags
from chalicelib.domain.fields import normalise_email as normalise_email  # read from here across the hub
from chalicelib.domain.fields import tag_key as tag_key
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.matching import match_terms
from chalicelib.domain.names import NameParts
from chalicelib.domain.person import EMPLOYMENT_TRACK, Person, Track, slug


def email_key(email: str) -> str:
    """A stable digest of a normalised address, so storage keys carry no address."""
    return hashlib.sha256(email.encode()).hexdigest()


def new_person_id(tenant: str, source: str, vendor_person_id: str) -> str:
    """The id a person gets when first seen; derived, so the first sighting is one read."""
    digest = hashlib.sha256(f"{tenant}\x1f{source}\x1f{vendor_person_id}".encode()).hexdigest()
    return "p_" + digest[:24]


@dataclass(frozen=True)
class Applied:
    """The outcome of applying one new fact: the person after it, its timeline entry, counter deltas."""

    person: Person
    entry: JsonObject
    counters: dict[str, int]


def timeline_entry(event: HubEvent) -> JsonObject:
    """The timeline's record of a fact: what, where, when; no contact data."""
    entry: dict[str, str | bool | None] = {
        "type": event.KIND, "source": event.source, "occurred_at": iso(event.occurred_at),
        "application_id": event.application_id or None, "job_id": event.job_id,
        "job_title": event.job_title, "stage": event.stage, "reason": event.reason, "origin": event.origin}
    if isinstance(event, RejectionEvent) and event.by_candidate:
        entry["by_candidate"] = True
    return {k: v for k, v in entry.items() if v is not None}


def _track_changes(event: HubEvent) -> list[tuple[str, str]]:
    app_track = f"app:{event.source}:{event.application_id or event.person.vendor_person_id}"
    if isinstance(event, ApplicationEvent):
        return [(app_track, "applied")]
    if isinstance(event, RejectionEvent):
        return [(app_track, "offer_declined" if event.by_candidate else "rejected")]
    if isinstance(event, RejectionRevertedEvent):  # live again; its own status wins a tie with the rejection
        return [(app_track, "rejection_reverted")]
    if isinstance(event, HireEvent):  # closes the application and starts the employment
        return [(app_track, "hired"), (EMPLOYMENT_TRACK, "hired")]
    if isinstance(event, ExitEvent):
        return [(EMPLOYMENT_TRACK, "exited")]
    return []


def track_of(event: HubEvent) -> str:
    """The track a fact is mainly about (the one its notice, if any, depends on)."""
    changes = _track_changes(event)
    return changes[-1][0] if changes else f"app:{event.source}:{event.application_id or event.person.vendor_person_id}"


def apply(person: Person, event: HubEvent, *, now: datetime) -> Applied:
    """Apply a fact the store has not seen before to the person; pure."""
    at = iso(event.occurred_at)
    tracks = dict(person.tracks)
    for key, status in _track_changes(event):
        current = tracks.get(key)
        if current is None or current.superseded_by(status, at):
            rejected = isinstance(event, RejectionEvent)
            tracks[key] = Track(status, at, stage=event.stage if rejected else None, reason=event.reason if rejected else None)

    updated = replace(person, tracks=tracks, created_at=person.created_at or iso(now), milestones=_milestones(person, event, at),
                      tags=merge_tags(person.tags, event.tags))
    if isinstance(event, ReferrerEvent) and "referrer" not in person.extra_roles:
        updated = replace(updated, extra_roles=person.extra_roles + ("referrer",))
    ref = event.person
    identity = f"{ref.source}:{ref.vendor_person_id}"
    if identity not in updated.identities:
        updated = replace(updated, identities=updated.identities + (identity,))
    if at >= person.contact_at:
        updated = replace(
            updated, contact_at=at,
            name=ref.name or person.name,
            email=normalise_email(ref.email) or person.email,
            phone=ref.phone or person.phone,
            locale=ref.locale or person.locale,
        )
        parts = _name_parts(person, ref)
        updated = replace(updated, family_name=parts.family, given_name=parts.given, family_kana=parts.family_kana,
                          given_kana=parts.given_kana)
    return Applied(updated, timeline_entry(event), counter_deltas(person, updated, event))


def _name_parts(person: Person, ref: PersonRef) -> NameParts:
    """The newer source's name parts when it gives any, else the parts already held; a reading the
    newer source lacks is kept while the part it reads is unchanged (an ATS rarely has フリガナ)."""
    parts = ref.name_parts
    if not (parts.family or parts.given):
        return NameParts(person.family_name, person.given_name, person.family_kana, person.given_kana)
    same_family, same_given = parts.family == person.family_name, parts.given == person.given_name
    return NameParts(parts.family, parts.given, parts.family_kana or (person.family_kana if same_family else None),
                     parts.given_kana or (person.given_kana if same_given else None))


def _milestones(person: Person, event: HubEvent, at: str) -> dict[str, str]:
    """Facts about a person that the KPIs need and tracks forget (kept as min or max: order-free)."""
    marks = dict(person.milestones)

    def keep(name: str, pick: Callable[[str, str], str]) -> None:
        marks[name] = pick(marks[name], at) if name in marks else at

    if isinstance(event, ExitEvent):
        if "first_exited_at" not in marks or at < marks["first_exited_at"]:
            marks["first_exited_source"] = event.source
        keep("first_exited_at", min)
    elif isinstance(event, ApplicationEvent):
        keep("last_applied_at", max)
    elif isinstance(event, HireEvent):
        keep("last_hired_at", max)
    return marks


def counter_deltas(before: Person, after: Person, event: HubEvent) -> dict[str, int]:
    """Counters kept on write: facts by kind and cut, people by role (gains minus losses)."""
    deltas: dict[str, int] = {counters.events(event.KIND): 1,
                              counters.events_by_source(event.KIND, event.source): 1}
    if event.stage:
        deltas[counters.events_by_stage(event.KIND, slug(event.stage))] = 1
    if before.version is None:
        deltas[counters.PEOPLE] = 1
    was, now = set(before.roles), set(after.roles)
    for role in now - was:
        deltas[counters.people_role(role)] = 1
    for role in was - now:
        deltas[counters.people_role(role)] = -1
    deltas.update(kpis.deltas(before, after))
    return deltas


# -- search ------------------------------------------------------------------------------------
def name_key(text: str) -> str:
    """The form names are searched by prefix in: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())[:100]


def search_terms(person: Person) -> set[tuple[str, str]]:
    """What the person can be found by without reading everyone: (kind, value) pairs that storage
    keeps as index items, moved by the difference before and after each write (like the KPIs)."""
    terms = {("role", role) for role in person.roles}
    terms |= {("tag", tag_key(tag)) for tag in person.tags if tag_key(tag)}
    terms |= {("source", identity.split(":", 1)[0]) for identity in person.identities}
    if person.name and name_key(person.name):
        terms.add(("name", name_key(person.name)))
    return terms | match_terms(person)  # phone, name and reading: likely matches (domain/matching.py)
