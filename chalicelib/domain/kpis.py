"""The relationship KPIs, defined once (docs/kpis.md explains each). The dashboard, the admin API
and CloudWatch all compute from here.

KPIs come from counters kept on write, never from reading people: each person belongs to a few
*memberships* (an ending on a day, a re-contact of that ending, ...), derived from their state
alone. When a write changes a person, the counters move by the difference between the
memberships before and after, so any order of facts gives the same counters, and a KPI for a
period reads only that period's day counters.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain import counters, routing, zones
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.person import Person, Track, slug

CUTS = ("source", "stage", "reason")
ENDED_STATUSES = ("rejected", "offer_declined")
FUNNEL = {  # Career Relay funnel: counter names of the steps
    "notices_sent": counters.NOTICES_SENT, "links_opened": counters.LINKS_OPENED,
    "consents": counters.CONSENTS_RELAY_GIVEN, "referrals_sent": counters.REFERRALS_SENT,
    "referrals_accepted": counters.REFERRALS_ACCEPTED, "slots_earned": counters.SLOTS_EARNED,
    "slots_used": counters.SLOTS_USED,
}
BY_CHANNEL = {  # the funnel's steps kept per link channel (routing.CHANNELS): counters.by_channel of these
    "notices_sent": counters.NOTICES_SENT, "links_opened": counters.LINKS_OPENED, "consents": counters.CONSENTS_RELAY_GIVEN,
}
RATES = {  # name: (numerator membership, denominator membership)
    "recontact_rate": ("recontacted", "ended"),
    "reapplication_rate": ("reapplied", "rejected"),
    "alumni_reapplication_rate": ("alumni_returned", "alumni"),
}


def _first_rejection(person: Person) -> tuple[str, str, Track] | None:
    rejected = [(track.at, key, track) for key, track in person.tracks.items()
                if key.startswith("app:") and track.status in ENDED_STATUSES]
    return min(rejected) if rejected else None


def memberships(person: Person) -> set[str]:
    """What the person counts towards: "<name>" (stocks) or "<name>@<moment>|<cut>" (by the moment of
    the ending the membership is about, and the cut of that ending; `route` turns the moment into the
    tenant's local day)."""
    found: set[str] = set()
    opted_out = bool((person.consents.get("mail") or {}).get("opted_out"))
    if (person.version is not None or person.tracks) and not opted_out and not person.milestones.get("erased_at"):
        found.add("retained")
    marks = person.milestones
    first = _first_rejection(person)
    endings = []
    if first:
        at, key, track = first
        source = key.split(":", 2)[1]
        cuts = {"source": source, "stage": slug(track.stage) if track.stage else "none",
                "reason": slug(track.reason) if track.reason else "none"}
        _add(found, "rejected", at, cuts)
        if marks.get("last_applied_at", "") > at or marks.get("last_hired_at", "") > at:
            _add(found, "reapplied", at, cuts)
        endings.append((at, cuts))
    if marks.get("first_exited_at"):
        at = marks["first_exited_at"]
        cuts = {"source": marks.get("first_exited_source", "none"), "stage": "exit", "reason": "none"}
        _add(found, "alumni", at, cuts)
        if marks.get("last_applied_at", "") > at or marks.get("last_hired_at", "") > at:
            _add(found, "alumni_returned", at, cuts)
        endings.append((at, cuts))
    if endings:
        at, cuts = min(endings, key=lambda e: e[0])
        _add(found, "ended", at, cuts)
        if (person.last_contact_at or "") >= at:
            _add(found, "recontacted", at, cuts)
    return found


def _add(found: set[str], name: str, at: str, cuts: dict[str, str]) -> None:
    found.add(f"{counters.kpi(name)}@{at}")
    for cut, value in cuts.items():
        found.add(f"{counters.kpi(name)}@{at}|{cut}={value}")


def deltas(before: Person, after: Person) -> dict[str, int]:
    """Counter changes for a person's change: +1 for each membership gained, -1 for each lost."""
    was, now = memberships(before), memberships(after)
    changes = {key: 1 for key in now - was}
    changes.update({key: -1 for key in was - now})
    return {(counters.KPI_RETAINED if key == "retained" else key): value for key, value in changes.items()}


@dataclass(frozen=True)
class Routed:
    """Counter deltas by where they land: the running totals, and the days they belong to."""

    total: dict[str, int]
    days: dict[str, dict[str, int]]  # YYYY-MM-DD -> deltas


def route(deltas: Mapping[str, int], at: str, zone: str = "UTC") -> Routed:
    """Where counter deltas land: on the tenant's local days (`zone`, an IANA name). A key
    "name@<moment>|cut" counts on the local day of its own moment (a membership dated by its ending);
    a plain key on the local day of `at`, the moment of the change (an ISO moment in UTC; a plain
    YYYY-MM-DD is taken as the day itself). Every delta counts in the totals too."""
    total: dict[str, int] = {}
    days: dict[str, dict[str, int]] = {}
    day = zones.local_day(at, zone)
    for key, value in deltas.items():
        name, on = key, day
        if "@" in key:
            head, _, rest = key.partition("@")
            moment, _, cut = rest.partition("|")
            on = zones.local_day(moment, zone)
            name = f"{head}|{cut}" if cut else head
        for bucket in (total, days.setdefault(on, {})):
            bucket[name] = bucket.get(name, 0) + value
    return Routed(total={k: v for k, v in total.items() if v},
                  days={d: {k: v for k, v in values.items() if v} for d, values in days.items()})


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def compute(counts: dict[str, int], *, retained: int | None, cut: str | None = None) -> JsonObject:
    """The KPIs from summed counters of a period (day items), for all people or one cut
    ("source=greenhouse"). Rates are fractions in [0, 1], None when their denominator is 0."""
    suffix = f"|{cut}" if cut else ""

    def c(name: str) -> int:
        return int(counts.get(counters.kpi(name) + suffix, 0))

    responses = int(counts.get(counters.SURVEY_RESPONSES, 0))
    result: JsonObject = {name: _ratio(c(num), c(den)) for name, (num, den) in RATES.items()}
    result["relations_retained"] = retained
    # NPS-style: promoters (9-10) minus detractors (0-6), as a fraction of answers, in [-1, 1]
    result["brand_perception"] = None if cut or not responses else round(
        (int(counts.get(counters.SURVEY_PROMOTERS, 0)) - int(counts.get(counters.SURVEY_DETRACTORS, 0))) / responses, 6)
    result["career_relay"] = {name: (None if cut else int(counts.get(counter, 0))) for name, counter in FUNNEL.items()}
    result["career_relay_by_channel"] = None if cut else {
        channel: {name: int(counts.get(counters.by_channel(counter, channel), 0)) for name, counter in BY_CHANNEL.items()}
        for channel in routing.CHANNELS}
    result["people"] = {"ended": c("ended"), "recontacted": c("recontacted"), "rejected": c("rejected"),
                        "reapplied": c("reapplied"), "alumni": c("alumni"), "alumni_returned": c("alumni_returned")}
    return result


def cut_values(counts: dict[str, int], by: str) -> list[str]:
    """The values of a cut present in the counters (e.g. every source seen)."""
    prefix = f"|{by}="
    return sorted({key.split(prefix, 1)[1] for key in counts if prefix in key})
