"""Consents given on the Career Relay page, and the one-question survey (pure rules).

Each purpose is consented separately, with the text version the person saw, when, and through
which channel; nothing is pre-ticked, and withdrawing is as easy as giving (GDPR, APPI Art. 27).

The relay consent is also bound to each recipient: it names, per agency, the consent version of
what the person was told about it (chalicelib.domain.referrals.consent_version_of). An agency
whose details changed since (or that was added since) is not covered until the person consents
again (RENEW), and its referrals are not sent meanwhile."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.domain import counters
from chalicelib.domain.events import iso
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.person import Person

PURPOSES = ("relay", "openings")  # introductions to partner agencies; news of future openings
CHANNEL = "career_relay_link"
RENEW = "renew"  # the page's box: consent again to the agencies whose details changed since the consent


@dataclass(frozen=True)
class Decision:
    person: Person
    entries: list[JsonObject]    # timeline entries (consent_given / consent_withdrawn / survey_answered)
    counters: dict[str, int]
    relay_given: bool            # relay consent newly given: referrals are queued
    relay_withdrawn: bool        # relay consent newly withdrawn: later batches skip them, agencies are told
    queue: tuple[str, ...] = field(default=())  # agencies to queue (again) a referral for, under their version now


def text_version(locale: str, text: str) -> str:
    """The version of a consent text: the locale and a digest of exactly what was shown."""
    return f"{locale}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def shown(text_version: str, agencies: Mapping[str, str]) -> str:
    """A digest of what a consent page showed: its text and each agency's consent version. The form
    carries it back, so a consent is never recorded for a page other than the one the person read."""
    seen = json.dumps([text_version, sorted(agencies.items())], separators=(",", ":"))
    return hashlib.sha256(seen.encode()).hexdigest()[:16]


def current(person: Person) -> dict[str, bool]:
    return {p: bool(person.consents.get(p, {}).get("given")) for p in PURPOSES}


def consented_versions(person: Person) -> dict[str, str]:
    """The agency consent versions the person's standing relay consent covers, by agency slug.

    A consent stored before consents were per agency has no "agencies": it covers the versions its
    referrals carry, which are page text versions ("ja-..."), and no agency's version ("r-...") is
    one; so it covers no agency's version now, and the page asks again for each."""
    relay = person.consents.get("relay") or {}
    if not relay.get("given"):
        return {}
    found = relay.get("agencies")
    return {slug: str(entry["version"]) for slug, entry in (found.items() if isinstance(found, dict) else ())
            if isinstance(entry, dict) and entry.get("version")}


def changed_agencies(person: Person, agencies: Mapping[str, str]) -> list[str]:
    """The agencies (slug -> current consent version) whose current version the person's standing
    relay consent does not cover: edited, or added, since they consented. Empty without relay consent."""
    if not relay_stands(person):
        return []
    covered = consented_versions(person)
    return [slug for slug, version in agencies.items() if covered.get(slug) != version]


def decide(person: Person, choices: Mapping[str, bool], *, at: datetime, version: str,
           agencies: Mapping[str, str] | None = None, channel: str = CHANNEL, score: int | None = None,
           token_ref: str | None = None, link_channel: str | None = None) -> Decision:
    """The person's choices applied. agencies: the agencies on the page, each with the consent
    version of what the page told about it; a relay consent given names them all, and RENEW with
    a standing relay consent names the changed ones anew (those are queued again)."""
    agencies = dict(agencies or {})
    consents = dict(person.consents)
    entries: list[JsonObject] = []
    deltas: dict[str, int] = {}
    queue: tuple[str, ...] = ()
    when = iso(at)

    def covered(slugs: list[str]) -> dict[str, JsonObject]:
        return {slug: {"version": agencies[slug], "at": when, "text_version": version} for slug in slugs}

    for purpose in PURPOSES:
        before = bool(consents.get(purpose, {}).get("given"))
        after = bool(choices.get(purpose))
        if before == after:
            continue
        consents[purpose] = {"given": after, "at": when, "text_version": version, "channel": channel, "token": token_ref}
        kind = "consent_given" if after else "consent_withdrawn"
        entry: JsonObject = {"type": kind, "consent": purpose, "occurred_at": when, "text_version": version,
                             "channel": channel}
        if purpose == "relay" and after:
            consents[purpose]["agencies"] = covered(list(agencies))
            entry["agencies"] = dict(agencies)
            queue = tuple(agencies)
        entries.append(entry)
        deltas[counters.consents(purpose, "given" if after else "withdrawn")] = 1
        deltas[counters.consents(purpose, "active")] = 1 if after else -1
        if purpose == "relay" and after and link_channel:  # the funnel by channel (docs/kpis.md)
            deltas[counters.by_channel(counters.CONSENTS_RELAY_GIVEN, link_channel)] = 1
    changed = changed_agencies(person, agencies) if choices.get(RENEW) and choices.get("relay") else []
    if changed:
        relay = dict(consents["relay"])
        relay["agencies"] = {**{slug: entry for slug, entry in (relay.get("agencies") or {}).items()
                                if isinstance(entry, dict)}, **covered(changed)}
        consents["relay"] = relay
        entries.append({"type": "consent_renewed", "consent": "relay", "occurred_at": when, "text_version": version,
                        "channel": channel, "agencies": {slug: agencies[slug] for slug in changed}})
        queue = tuple(changed)
    if score is not None:
        previous = consents.get("survey", {}).get("score")
        if previous != score:
            consents["survey"] = {"score": score, "at": when}
            entries.append({"type": "survey_answered", "occurred_at": when, "score": score})
            for name, value in _survey(score).items():
                deltas[name] = deltas.get(name, 0) + value
            if previous is not None:
                for name, value in _survey(previous).items():
                    deltas[name] = deltas.get(name, 0) - value
    relay_before = bool(person.consents.get("relay", {}).get("given"))
    relay_after = bool(consents.get("relay", {}).get("given"))
    return Decision(person=replace(person, consents=consents), entries=entries,
                    counters={k: v for k, v in deltas.items() if v},
                    relay_given=relay_after and not relay_before, relay_withdrawn=relay_before and not relay_after,
                    queue=queue)


def _survey(score: int) -> dict[str, int]:
    """NPS-style: 9-10 promoters, 0-6 detractors; the sum and count give the mean."""
    return {counters.SURVEY_RESPONSES: 1, counters.SURVEY_SCORE_SUM: score,
            counters.SURVEY_PROMOTERS: 1 if score >= 9 else 0, counters.SURVEY_DETRACTORS: 1 if score <= 6 else 0}


def survey_score(person: Person) -> int | None:
    """The person's latest answer to the one-question survey, if any."""
    score = (person.consents.get("survey") or {}).get("score")
    return score if isinstance(score, int) else None


def relay_stands(person: Person) -> bool:
    """Whether the person's consent to be introduced to agencies stands now."""
    return bool((person.consents.get("relay") or {}).get("given"))
