"""Two records of one human made one (pure rules; docs/people.md). The survivor keeps its id and
takes the other's tracks, timeline, consents, tags, identities and milestones; storage moves the
rest (Relations.merge) and leaves a "merged into" pointer under the other's id.

Every rule is order-free, so merging A into B gives B what merging B into A gives A:
tracks by the latest fact (precedence on ties, as people.apply), milestones by min/max, consents
by the latest decision per purpose (a withdrawal wins a tie; an opt-out of mail always stands),
contact fields from the record with the latest contact."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from chalicelib.domain import counters, kpis
from chalicelib.domain.consents import PURPOSES
from chalicelib.domain.fields import merge_tags
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.person import ROLES, Person, Track

_MIN_MARKS, _MAX_MARKS = ("first_exited_at",), ("last_applied_at", "last_hired_at")


def _tracks(a: dict[str, Track], b: dict[str, Track]) -> dict[str, Track]:
    merged = dict(a)
    for key, track in b.items():
        held = merged.get(key)
        if held is None or held.superseded_by(track.status, track.at):
            merged[key] = track
    return merged


def _milestones(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    marks = {**b, **a}
    for name, pick in [*((n, min) for n in _MIN_MARKS), *((n, max) for n in _MAX_MARKS)]:
        chosen: Callable[[str, str], str] = pick
        if name in a and name in b:
            marks[name] = chosen(a[name], b[name])
    if "first_exited_at" in marks:  # the source of the first exit follows it
        first = a if a.get("first_exited_at") == marks["first_exited_at"] else b
        if "first_exited_source" in first:
            marks["first_exited_source"] = first["first_exited_source"]
    marks.pop("erased_at", None)
    return marks


def _decision(a: JsonObject, b: JsonObject) -> JsonObject:
    """One purpose's consent: an opt-out of mail stands; else the latest decision, a withdrawal on a tie."""
    if a.get("opted_out") or b.get("opted_out"):
        return a if a.get("opted_out") else b
    rank_a = (str(a.get("at") or ""), not a.get("given", True))
    rank_b = (str(b.get("at") or ""), not b.get("given", True))
    return a if rank_a >= rank_b else b


def _consents(a: dict[str, JsonObject], b: dict[str, JsonObject]) -> dict[str, JsonObject]:
    merged = {**b, **a}
    for purpose in set(a) & set(b):
        merged[purpose] = _decision(a[purpose], b[purpose])
    return merged


def merge(survivor: Person, other: Person) -> Person:
    """The survivor after taking in other (same tenant); its id and storage version are kept."""
    newer, older = (other, survivor) if other.contact_at > survivor.contact_at else (survivor, other)
    identities = survivor.identities + tuple(i for i in other.identities if i not in survivor.identities)
    extra = set(survivor.extra_roles) | set(other.extra_roles)
    created = min(filter(None, (survivor.created_at, other.created_at)), default="")
    contacted = max(filter(None, (survivor.last_contact_at, other.last_contact_at)), default=None)
    return replace(
        survivor, tracks=_tracks(survivor.tracks, other.tracks), milestones=_milestones(survivor.milestones, other.milestones),
        consents=_consents(survivor.consents, other.consents), tags=merge_tags(survivor.tags, other.tags),
        identities=identities, extra_roles=tuple(role for role in ROLES if role in extra),
        created_at=created, last_contact_at=contacted, contact_at=newer.contact_at,
        name=newer.name or older.name, email=newer.email or older.email, phone=newer.phone or older.phone,
        locale=newer.locale or older.locale, family_name=newer.family_name or older.family_name,
        given_name=newer.given_name or older.given_name, family_kana=newer.family_kana or older.family_kana,
        given_kana=newer.given_kana or older.given_kana)


def counter_deltas(survivor: Person, other: Person, merged: Person) -> dict[str, int]:
    """Counters after two people became one: people -1, each role, standing consent and KPI
    membership counted once for the merged person instead of once per record (kpis.deltas' keys)."""
    deltas: Counter[str] = Counter({counters.PEOPLE: -1})
    for role in ROLES:
        deltas[counters.people_role(role)] += sum(role in p.roles for p in (merged,)) - sum(
            role in p.roles for p in (survivor, other))
    for purpose in PURPOSES:
        def active(person: Person, purpose: str = purpose) -> int:
            return 1 if (person.consents.get(purpose) or {}).get("given") else 0
        deltas[counters.consents(purpose, "active")] += active(merged) - active(survivor) - active(other)
    gone = replace(other, tracks={}, milestones={}, version=None)  # the other record stops counting
    for key, value in {**kpis.deltas(survivor, merged)}.items():
        deltas[key] += value
    for key, value in kpis.deltas(other, gone).items():
        deltas[key] += value
    return {key: value for key, value in deltas.items() if value}
