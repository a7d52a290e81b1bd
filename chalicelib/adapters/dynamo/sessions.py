"""The console's sessions and unfinished sign-ins (the Sessions port), stored by hashes only:
`CONSOLE#S#<sha256 of the session id>` and `CONSOLE#SI#<sha256 of the state>` (keys.py). The table's
TTL removes them after they end; reads judge liveness themselves (TTL deletes late)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from chalicelib.adapters.dynamo import keys, reads
from chalicelib.adapters.dynamo.models import SessionItem, SignInItem
from chalicelib.adapters.dynamo.transaction import conditional
from chalicelib.domain.console import ConsoleSession, Identity, PendingSignIn
from chalicelib.domain.events import iso


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class DynamoSessions:
    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def put(self, session: ConsoleSession) -> None:
        identity = session.identity
        SessionItem(*keys.session_key(session.id_hash), subject=identity.subject, username=identity.username,
                    groups=list(identity.groups), csrf=session.csrf, created_at=iso(session.created_at),
                    last_seen_at=iso(session.last_seen_at), expires_at=session.ends_at).save()

    def get(self, id_hash: str) -> ConsoleSession | None:
        try:
            item = SessionItem.get(*keys.session_key(id_hash), consistent_read=True)
        except SessionItem.DoesNotExist:
            return None
        return ConsoleSession(id_hash=id_hash, identity=Identity(item.subject, item.username, tuple(item.groups or ())),
                              csrf=item.csrf, created_at=_moment(item.created_at), last_seen_at=_moment(item.last_seen_at))

    def touch(self, id_hash: str, at: datetime) -> None:
        found = self.get(id_hash)
        if found is None:
            return
        ends = ConsoleSession(found.id_hash, found.identity, found.csrf, found.created_at, at).ends_at
        conditional(lambda: SessionItem(*keys.session_key(id_hash)).update(
            actions=[SessionItem.last_seen_at.set(iso(at)), SessionItem.expires_at.set(ends)],
            condition=SessionItem.pk.exists()))  # an ended session stays ended

    def delete(self, id_hash: str) -> None:
        SessionItem(*keys.session_key(id_hash)).delete()

    def begin(self, pending: PendingSignIn) -> None:
        SignInItem(*keys.sign_in_key(pending.state_hash), code_verifier=pending.code_verifier,
                   valid_until=iso(pending.expires_at), expires_at=pending.expires_at).save()

    def take(self, state_hash: str, now: datetime) -> PendingSignIn | None:
        try:
            item = SignInItem.get(*keys.sign_in_key(state_hash), consistent_read=True)
        except SignInItem.DoesNotExist:
            return None
        taken = conditional(lambda: item.delete(condition=SignInItem.code_verifier == item.code_verifier))
        if not taken or item.valid_until <= iso(now):
            return None
        return PendingSignIn(state_hash, item.code_verifier, _moment(item.valid_until))
