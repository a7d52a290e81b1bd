"""The Notices port: planned notices, pending until sent, cancelled or suppressed, and the claim
that sends each once (docs/notices.md, "Once per notice").

Sending a notice costs three DynamoDB requests (docs/notices.md): the view (the notice and its
person, one read), the claim (the notice claimed, its links kept, the address checked against the
suppression list: one transaction) and the record (Notices.sent: one transaction). The claim is
what makes the mail once: a second worker finds the notice claimed (busy) or decided, never mails;
a worker that died holding a claim is replaced once the claim lapses (CLAIM_FOR). A mail that went
out but could not be recorded is kept on the notice (Notices.mailed) so the retry records it
instead of mailing again."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, Protocol

from chalicelib.domain.records import JsonDict, LinkGrant, NoticeRef, NoticeView, SentMail

# Longer than the notices function may run (its timeout: 60 s) so a live worker's claim never
# lapses under it; shorter than the queue's visibility timeout (6 x 60 s) so the redelivery that
# follows a crash finds the claim lapsed. tests/unit/test_notice_claim.py holds both.
CLAIM_FOR = timedelta(seconds=120)

Claim = Literal["claimed", "suppressed", "busy", "decided"]


class Notices(Protocol):
    """Planned notices: pending until sent, cancelled or suppressed."""

    def view(self, tenant: str, person_id: str, notice: str) -> NoticeView | None: ...

    def claim(self, tenant: str, person_id: str, notice: str, *, email: str, until: datetime,
              links: Sequence[LinkGrant]) -> Claim:
        """Claim a pending notice for its mail until `until`, keeping the mail's links, in one write:
        "claimed"; nothing written when the address is suppressed ("suppressed"), another live claim
        holds it ("busy") or it is no longer pending ("decided")."""

    def mailed(self, tenant: str, person_id: str, notice: str, *, kind: str, mail: SentMail, entry: JsonDict) -> bool:
        """Keep on a pending notice that its mail went out (what `sent` then records), when `sent`
        failed: the next attempt records it (NoticeView.mailed) and never mails again."""

    def decide(self, tenant: str, person_id: str, notice: str, status: str, reason: str | None = None) -> bool:
        """Close a pending notice without sending (cancelled, suppressed, or failed for a reason such
        as template_error, kept on the notice); False if decided already."""

    def sent(self, tenant: str, person_id: str, notice: str, *, kind: str, mail: SentMail, entry: JsonDict) -> bool:
        """Record a sent notice: status, timeline entry, counters, last contact; False if decided already."""

    def due(self, before: datetime, per_tenant: int = 100) -> list[NoticeRef]:
        """Pending notices due before the moment: each tenant's oldest, at most per_tenant of each,
        the tenants taken in turns (only pending ones are read; waiting ones are not due)."""

    def postpone(self, tenant: str, person_id: str, notice: str, due_at: datetime) -> bool:
        """Move a pending notice's due time (the tenant's delay, the invitation's days); False if decided."""

    def attempted(self, tenant: str, person_id: str, notice: str, reason: str) -> int:
        """Count a failed send of a pending notice, keeping the reason and releasing its claim; the
        count so far (0: not pending)."""

    def requeue(self, tenant: str, person_id: str) -> int:
        """The person's failed notices pending again, due now, their attempts forgotten; how many."""

    def wait(self, tenant: str, person_id: str, notice: str, reason: str) -> bool:
        """Keep a pending notice pending, out of the due ones, with the reason it waits; False if decided."""

    def waiting_tenants(self) -> list[str]:
        """The tenants that have waiting notices."""

    def waiting(self, tenant: str, limit: int = 1000) -> list[NoticeRef]:
        """The tenant's waiting notices, oldest due first."""

    def resume(self, tenant: str, limit: int = 500) -> list[NoticeRef]:
        """Make the tenant's waiting notices due again (at their own due time); those resumed."""
