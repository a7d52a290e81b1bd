"""Deliveries and failed work, as the sources screen shows them (issue 20): the delivery log of each
tenant's source (14 days, outcomes and reasons only: never a body or a personal field) and the work
parked in the dead-letter queues. The ports and the small values they carry."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.events import iso

KEEP = timedelta(days=14)  # the table's TTL removes an entry after this
OUTCOMES = ("accepted", "duplicate", "ignored", "refused")
# why a delivery was refused; an unknown tenant or source is never logged (there is no tenant to log it under)
REASONS = ("signature", "malformed", "unstorable", "retry")
_EVENT = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
_ENTRY = re.compile(r"[0-9a-f]{8,32}")
# the queues whose dead letters the console lists and redrives, each with what its messages are
DEAD_LETTER_QUEUES = ("notices", "enrich", "writeback", "deliveries")


def event_name(value: object) -> str | None:
    """A vendor's event name as the log keeps it: a short token, or nothing (never free text)."""
    return value if isinstance(value, str) and _EVENT.fullmatch(value) else None


@dataclass(frozen=True)
class Delivery:
    at: datetime
    outcome: str
    event: str | None = None
    reason: str | None = None
    test: bool = False  # a test event the hub sent itself (the console's "send a test event")

    def to_json(self) -> dict[str, Any]:
        return {"at": iso(self.at), "event": self.event, "outcome": self.outcome, "reason": self.reason,
                "test": self.test}


@dataclass(frozen=True)
class LoggedDelivery:
    """A delivery's log entry under the name it keeps (entry: chosen once per delivery, so that every
    write of it, folded into the intake's transaction, queued or redone, lands on the same entry)."""

    source: str
    entry: str
    delivery: Delivery

    def to_json(self, tenant: str) -> dict[str, Any]:
        return {"tenant": tenant, "source": self.source, "entry": self.entry, **self.delivery.to_json()}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> LoggedDelivery:
        at = datetime.fromisoformat(str(body["at"]).replace("Z", "+00:00"))
        delivery = Delivery(at, str(body["outcome"]), event=event_name(body.get("event")),
                            reason=body.get("reason") if body.get("reason") in REASONS else None, test=bool(body.get("test")))
        if delivery.outcome not in OUTCOMES or not _ENTRY.fullmatch(str(body["entry"])):
            raise ValueError("not a delivery log entry")
        return cls(str(body["source"]), str(body["entry"]), delivery)


class DeliveryLog(Protocol):
    """What became of each webhook delivery of a tenant's source, kept for KEEP."""

    def record(self, tenant: str, source: str, delivery: Delivery, *, entry: str | None = None) -> bool:
        """One small write; False (never an exception) for a storage fault: the log must not fail a
        delivery. entry: a LoggedDelivery's name, whose entry is written again (None: a new entry)."""

    def entries(self, tenant: str, source: str, *, limit: int,
                before: str | None) -> tuple[list[Delivery], str | None]:
        """A page, newest first, and where the next starts (None: no more)."""

    def last(self, tenant: str, source: str) -> Delivery | None:
        """The newest delivery from the vendor (tests left out), within KEEP."""


@dataclass(frozen=True)
class DeadLetter:
    """One message parked in a dead-letter queue: its id, its source queue, the body (ids only:
    what the queues carry) and when it was first sent."""

    message_id: str
    queue: str
    body: Mapping[str, Any]
    sent_at: datetime | None
    receives: int


class DeadLetters(Protocol):
    def peek(self, queue: str, *, max_messages: int) -> Sequence[DeadLetter]:
        """Up to max_messages parked messages, left in place (a bounded sample when the queue holds more)."""

    def redrive(self, queue: str, message_id: str, tenant: str) -> bool:
        """Send the tenant's parked message back to its source queue, then delete it from the
        dead-letter queue; False when it is not (or no longer) there, or not the tenant's."""
