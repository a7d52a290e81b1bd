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

from chalicelib.domain import counters, kpis, phones
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
from chalicelib.domain.folding import search_key
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.matching import NAME_READING, match_terms
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
        phone = phones.read(ref.phone, ref.phone_region) if ref.phone else None  # the newer typed number wins, E.164 or not
        updated = replace(
            updated, contact_at=at,
            name=ref.name or person.name,
            email=normalise_email(ref.email) or person.email,
            phone=phone.e164 if phone else person.phone,
            phone_display=phone.display if phone else person.phone_display,
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
# The form of the index terms a person is written with: 1, one name term (NFKC, case-folded, single
# spaces) and no phone; 2, search_key forms of the name and the reading, and the phone.
TERMS_FORM = 2


def name_keys(person: Person) -> set[str]:
    """Every folded form a person is found by (docs/search.md): the name as held, the name family
    first and given first (from its parts), and the reading family first and given first."""
    forms = (person.name, _pair(person.family_name, person.given_name), _pair(person.given_name, person.family_name),
             _pair(person.family_kana, person.given_kana), _pair(person.given_kana, person.family_kana))
    return {key for form in forms if form and (key := search_key(form))}


def _pair(first: str | None, second: str | None) -> str | None:
    return (first or "") + (second or "") or None


def search_terms(person: Person) -> set[tuple[str, str]]:
    """What the person can be found by without reading everyone: (kind, value) pairs that storage
    keeps as index items, moved by the difference before and after each write (like the KPIs).
    A phone is kept by the digest of its E.164 form (phones.phone_key), so keys carry no number."""
    terms = {("role", role) for role in person.roles}
    terms |= {("tag", tag_key(tag)) for tag in person.tags if tag_key(tag)}
    terms |= {("source", identity.split(":", 1)[0]) for identity in person.identities}
    terms |= {("name", key) for key in name_keys(person)}
    if person.phone:
        terms.add(("phone", phones.phone_key(person.phone)))
    return terms | match_terms(person)  # likely matches: phone, name and reading (domain/matching.py)


def _legacy_terms(person: Person) -> set[tuple[str, str]]:
    """The terms of form 1: no phone, one name term (NFKC, case-folded, single spaces)."""
    terms = {term for term in search_terms(person) if term[0] not in ("name", "phone", NAME_READING)}
    key = " ".join(unicodedata.normalize("NFKC", person.name or "").casefold().split())[:100]
    return terms | ({("name", key)} if key else set())


def stored_terms(person: Person) -> set[tuple[str, str]]:
    """The index terms storage holds for a stored person, by the form they were written in
    (Person.terms_form): a write moves from these to search_terms, erasure deletes these. A person
    written in an older form gets today's terms on their next write (docs/search.md)."""
    return search_terms(person) if person.terms_form >= TERMS_FORM else _legacy_terms(person)
