"""Which facts earn a notice, when it is due, and whether it still should go out (pure rules)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from chalicelib.domain import counters, routing
from chalicelib.domain.events import ExitEvent, HubEvent, RejectionEvent

T = TypeVar("T")

RELAY_LINK_DAYS = 30              # a rejection notice's Career Relay link expires after this
UNSUBSCRIBE_LINK_DAYS = 3 * 365   # opt-out must keep working long after the mail
MAX_ATTEMPTS = 8                  # failed sends of one notice before it is decided failed (the admin may requeue it)
SWEEP_BUDGET = 100                # notices of one tenant the sweeper queues per run: no backlog takes another's turn
FRESH_FOR = timedelta(days=30)    # older facts (a first poll's backlog, a late import) earn no notice
NOTICE_OF = {RejectionEvent: "rejection", ExitEvent: "alumni_farewell"}


@dataclass(frozen=True)
class NoticePlan:
    kind: str
    due_at: datetime  # not before the fact (exits are announced for their effective date)
    track: str        # the track whose state must still hold when it goes out


def plan(event: HubEvent, *, now: datetime, delay: timedelta, track: str, existing: str | None) -> NoticePlan | None:
    """The notice a newly recorded fact earns, if any: one per application (or employment) track,
    so a rejection undone and made again is announced once. `existing` is the status of the
    track's notice so far (None, pending, sent, cancelled, suppressed)."""
    if existing in ("sent", "sending", "suppressed"):
        return None
    kind = NOTICE_OF.get(type(event))
    if kind is None or event.source == "import":
        return None  # the inventory of old relationships is not mailed out of the blue
    if isinstance(event, RejectionEvent) and event.by_candidate:
        return None  # the person withdrew or declined: no rejection letter
    if event.occurred_at < now - FRESH_FOR:
        return None
    return NoticePlan(kind=kind, due_at=max(now + delay, event.occurred_at), track=track)


def still_due(kind: str, track_status: str | None, track_at: str | None, fact_at: str) -> bool:
    """A notice goes out only if its fact is still the track's state: a reverted rejection (or a
    rehire before the farewell) cancels it."""
    expected = {"rejection": "rejected", "alumni_farewell": "exited"}[kind]
    return track_status == expected and track_at == fact_at


def sent_counters(kind: str) -> dict[str, int]:
    """The counters a sent notice moves: all notices, its kind, and the funnel's first step by channel."""
    return {counters.NOTICES_SENT: 1, counters.notices_sent(kind): 1,
            counters.by_channel(counters.NOTICES_SENT, routing.channel_of(kind)): 1}


def link_expiry(kind: str, sent_at: datetime) -> datetime:
    return sent_at + timedelta(days=RELAY_LINK_DAYS)


def in_turns(queues: Sequence[Sequence[T]]) -> list[T]:
    """One from each queue in turn, oldest first within each, until all are taken (the sweep's order)."""
    longest = max((len(queue) for queue in queues), default=0)
    return [queue[i] for i in range(longest) for queue in queues if i < len(queue)]
