"""Consents given on the Career Relay page, and the one-question survey (pure rules).

Each purpose is consented separately, with the text version the person saw, when, and through
which channel; nothing is pre-ticked, and withdrawing is as easy as giving (GDPR, APPI Art. 27)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain import counters
from chalicelib.domain.events import iso
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.person import Person

PURPOSES = ("relay", "openings")  # introductions to partner agencies; news of future openings
CHANNEL = "career_relay_link"


@dataclass(frozen=True)
class Decision:
    person: Person
    entries: list[JsonObject]    # timeline entries (consent_given / consent_withdrawn / survey_answered)
    counters: dict[str, int]
    relay_given: bool            # relay consent newly given: referrals are queued
    relay_withdrawn: bool        # relay consent newly withdrawn: later batches skip them, agencies are told


def text_version(locale: str, text: str) -> str:
    """The version of a consent text: the locale and a digest of exactly what was shown."""
    return f"{locale}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def current(person: Person) -> dict[str, bool]:
    return {p: bool(person.consents.get(p, {}).get("given")) for p in PURPOSES}


def decide(person: Person, choices: dict[str, bool], *, at: datetime, version: str, channel: str = CHANNEL,
           score: int | None = None, token_ref: str | None = None) -> Decision:
    consents = dict(person.consents)
    entries: list[JsonObject] = []
    deltas: dict[str, int] = {}
    when = iso(at)
    for purpose in PURPOSES:
        before = bool(consents.get(purpose, {}).get("given"))
        after = bool(choices.get(purpose))
        if before == after:
            continue
        consents[purpose] = {"given": after, "at": when, "text_version": version, "channel": channel, "token": token_ref}
        kind = "consent_given" if after else "consent_withdrawn"
        entries.append({"type": kind, "consent": purpose, "occurred_at": when, "text_version": version, "channel": channel})
        deltas[counters.consents(purpose, "given" if after else "withdrawn")] = 1
        deltas[counters.consents(purpose, "active")] = 1 if after else -1
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
                    relay_given=relay_after and not relay_before, relay_withdrawn=relay_before and not relay_after)


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
