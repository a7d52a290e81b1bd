"""e20-sources: the tenant's failed work in the dead-letter queues, and its redrive (issue 20).

Each queue's messages carry the tenant's slug (handlers/queues.py: a notice or nurture mail
{tenant, person_id, notice | campaign, due}, a thin notice {tenant, source, resource, ...}, an ATS
field write {tenant, source, ...}); a listing shows a tenant only its own, as kind, source, age and
reason, never a person id or any other field. A redrive sends one message back to its source queue
once: the Once port keys it by the message id, so a double click sends it once."""
from __future__ import annotations

from datetime import datetime

from chalicelib.domain.deliveries import DEAD_LETTER_QUEUES, DeadLetter, DeadLetters
from chalicelib.domain.errors import NotFound
from chalicelib.domain.events import iso
from chalicelib.domain.ports import Clock, Once
from chalicelib.domain.records import JsonDict
from chalicelib.services.common import check_tenant

PEEK = 50  # messages read per queue for one listing (a dead-letter queue is small: an alarm watches each)
MAX_ATTEMPTS = 5  # resources.MAX_RECEIVE_COUNT: the queue gave up after this many


def _kind(letter: DeadLetter) -> str:
    if letter.queue == "notices":
        return "nurture_mail" if "campaign" in letter.body else "notice"
    return {"enrich": "enrichment", "writeback": "ats_field", "deliveries": "delivery_log"}.get(letter.queue, letter.queue)


class FailedWork:
    def __init__(self, *, dead_letters: DeadLetters | None, once: Once, clock: Clock) -> None:
        self._dlq, self._once, self._clock = dead_letters, once, clock

    def _mine(self, tenant: str) -> list[DeadLetter]:
        if self._dlq is None:
            return []
        return [letter for queue in DEAD_LETTER_QUEUES for letter in self._dlq.peek(queue, max_messages=PEEK)
                if letter.body.get("tenant") == tenant]

    def list_dead_letters(self, tenant: str) -> JsonDict:
        now = self._clock()
        answer = [self._shown(letter, now) for letter in self._mine(check_tenant(tenant))]
        answer.sort(key=lambda item: item["sent_at"] or "", reverse=True)
        return {"dead_letters": answer}

    @staticmethod
    def _shown(letter: DeadLetter, now: datetime) -> JsonDict:
        source = letter.body.get("source")
        return {"id": letter.message_id, "queue": letter.queue, "kind": _kind(letter),
                "source": source if isinstance(source, str) else None,
                "sent_at": iso(letter.sent_at) if letter.sent_at else None,
                "age_s": int((now - letter.sent_at).total_seconds()) if letter.sent_at else None,
                "reason": "failed_attempts", "attempts": max(letter.receives, MAX_ATTEMPTS)}

    def redrive(self, tenant: str, message_id: str) -> JsonDict:
        """Back to its source queue once; 404 for a message that is not the tenant's (or not parked)."""
        check_tenant(tenant)
        if not (1 <= len(message_id) <= 100) or not all(c.isalnum() or c == "-" for c in message_id):
            raise NotFound("no such dead letter")

        def send() -> JsonDict:
            for queue in DEAD_LETTER_QUEUES:
                if self._dlq is not None and self._dlq.redrive(queue, message_id, tenant):
                    return {"id": message_id, "queue": queue, "redriven": True}
            raise NotFound("no such dead letter for this tenant (already redriven?)")

        return self._once.run(tenant, f"redrive:{message_id}", send)
