"""The HR console's sign-in and sessions (docs/console.md). One path after the tokens, in AWS and
locally: whatever produced the ID token (the managed login's authorization code with PKCE, or the
local stage's password sign-in), it is verified against the pool's JWKS (the IdTokens port) and then
a new server-side session is opened.

Session ids, CSRF tokens, sign-in states and PKCE verifiers are 256-bit random strings; only their
SHA-256 is stored (the verifier excepted: it is the secret the callback proves, kept under the hash
of the state for ten minutes and taken once)."""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from chalicelib.domain import console
from chalicelib.domain.console import ConsoleSession, PendingSignIn
from chalicelib.domain.console_roles import Grants, grants
from chalicelib.domain.errors import Forbidden, Unauthorized
from chalicelib.domain.ports import Audit, Clock, IdTokens, Sessions, SignInProvider


@dataclass(frozen=True)
class Opened:
    """A session just opened: the id for the cookie (shown once) and the session."""

    session_id: str
    session: ConsoleSession


@dataclass(frozen=True)
class Started:
    """A sign-in sent to the managed login: the state for the browser's cookie and where to go."""

    state: str
    location: str


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636): BASE64URL(SHA256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class Console:
    def __init__(self, sessions: Sessions, id_tokens: IdTokens, sign_in: SignInProvider, audit: Audit,
                 clock: Clock) -> None:
        self._sessions = sessions
        self._id_tokens = id_tokens
        self._sign_in = sign_in
        self._audit = audit
        self._clock = clock

    # -- signing in --------------------------------------------------------------------------------

    def start_sign_in(self) -> Started | None:
        """A sign-in through the managed login (AWS); None where the pool has none (local)."""
        state, verifier = console.new_secret(), console.new_secret()
        location = self._sign_in.authorize_url(state, code_challenge(verifier))
        if location is None:
            return None
        self._sessions.begin(PendingSignIn(console.digest(state), verifier, self._clock() + console.SIGN_IN_WINDOW))
        return Started(state=state, location=location)

    def finish_sign_in(self, state_cookie: str, state_param: str, code: str) -> Opened:
        """The managed login's callback: the state must be the one this browser started with, and
        unused; the code is exchanged with its verifier; then the one path after the tokens."""
        if not state_cookie or not code or not hmac.compare_digest(state_cookie.encode(), state_param.encode()):
            raise Unauthorized("the sign-in could not be completed; start again")
        pending = self._sessions.take(console.digest(state_cookie), self._clock())
        if pending is None:
            raise Unauthorized("the sign-in could not be completed; start again")
        return self.open(self._sign_in.exchange_code(code, pending.code_verifier))

    def password_sign_in(self, username: str, password: str) -> Opened:
        """The local stage's sign-in page: the password goes to the pool, the ID token comes back."""
        if not username or not password or len(username) > 128 or len(password) > 256:
            raise Unauthorized("wrong username or password")
        return self.open(self._sign_in.password_sign_in(username, password))

    def open(self, id_token: str) -> Opened:
        """Verify the ID token, then a new session (a new id at every sign-in: no fixation)."""
        identity = self._id_tokens.verify(id_token)
        now = self._clock()
        session_id = console.new_secret()
        session = ConsoleSession(id_hash=console.digest(session_id), identity=identity, csrf=console.new_secret(),
                                 created_at=now, last_seen_at=now)
        self._sessions.put(session)
        return Opened(session_id=session_id, session=session)

    # -- a signed-in request -----------------------------------------------------------------------

    def session(self, session_id: str) -> ConsoleSession | None:
        """The live session behind a cookie; None when unknown, ended, idle too long or too old.
        Each use moves the idle clock (at most one write a minute)."""
        if not session_id or len(session_id) > 128:
            return None
        found = self._sessions.get(console.digest(session_id))
        now = self._clock()
        if found is None or not found.live(now):
            return None
        if now - found.last_seen_at >= console.TOUCH_EVERY:
            self._sessions.touch(found.id_hash, now)
        return found

    @staticmethod
    def check_csrf(session: ConsoleSession, given: str | None) -> None:
        """A form of this session carries its CSRF token; 403 otherwise."""
        if not given or not hmac.compare_digest(session.csrf.encode(), given.encode("utf-8", "replace")):
            raise Forbidden("the form has expired; reload the page")

    @staticmethod
    def grants(session: ConsoleSession) -> Grants:
        return grants(session.identity.groups)

    def sign_out(self, session: ConsoleSession) -> None:
        self._sessions.delete(session.id_hash)

    def audit(self, session: ConsoleSession, tenant: str, action: str, target: str | None = None) -> None:
        """An action taken in the console, in the tenant's audit trail, by the signed-in user's sub."""
        self._audit.record(tenant, who=session.identity.actor, action=action, target=target)
