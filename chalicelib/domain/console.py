"""The HR console's sign-in and sessions: who signed in (from a verified ID token), and the
server-side session that stands for them (docs/console.md, docs/security.md "The console").

A session is an item in the hub's table, found by the SHA-256 of its id (the id itself lives only in
the browser's `__Host-` cookie): it ends 8 hours after sign-in whatever happens (absolute), after 30
minutes without a request (idle), or at sign-out. Every sign-in makes a new id. Each session has its
CSRF token, which every form of the console carries back."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

ABSOLUTE = timedelta(hours=8)
IDLE = timedelta(minutes=30)
TOUCH_EVERY = timedelta(minutes=1)   # the idle clock moves at most once a minute (one write)
SIGN_IN_WINDOW = timedelta(minutes=10)  # an unfinished sign-in (state, PKCE verifier) lives this long


@dataclass(frozen=True)
class Identity:
    """A person the identity provider vouched for: the pool's `sub` (stable, not personal by
    itself), the username (for the page, never for logs) and their groups."""

    subject: str
    username: str
    groups: tuple[str, ...]

    @property
    def actor(self) -> str:
        """How audit entries name the person: the Cognito sub, never an address."""
        return f"user:{self.subject}"


@dataclass(frozen=True)
class ConsoleSession:
    id_hash: str            # SHA-256 of the session id: what is stored
    identity: Identity
    csrf: str
    created_at: datetime
    last_seen_at: datetime

    @property
    def ends_at(self) -> datetime:
        """When it ends if nothing more happens (the earlier of idle and absolute)."""
        return min(self.created_at + ABSOLUTE, self.last_seen_at + IDLE)

    def live(self, now: datetime) -> bool:
        return now < self.ends_at


@dataclass(frozen=True)
class PendingSignIn:
    """A sign-in sent to the managed login: kept under the hash of its `state` until the callback."""

    state_hash: str
    code_verifier: str
    expires_at: datetime


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def new_secret() -> str:
    """A fresh session id, CSRF token, state or PKCE verifier: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


# -- the ports (re-exported by ports.py) ----------------------------------------------------------

class Sessions(Protocol):
    """The console's server-side sessions and unfinished sign-ins, stored by hashes only."""

    def put(self, session: ConsoleSession) -> None: ...

    def get(self, id_hash: str) -> ConsoleSession | None:
        """The stored session, live or not (the caller judges); None when there is none."""

    def touch(self, id_hash: str, at: datetime) -> None:
        """Move the session's last use (and its TTL); nothing when it is gone."""

    def delete(self, id_hash: str) -> None: ...

    def begin(self, pending: PendingSignIn) -> None: ...

    def take(self, state_hash: str, now: datetime) -> PendingSignIn | None:
        """The unfinished sign-in, once: removed as it is read; None when unknown, taken or expired."""


class IdTokens(Protocol):
    """Verifies an ID token of the console's user pool (signature against the pool's JWKS, issuer,
    audience, token_use, expiry); Unauthorized otherwise."""

    def verify(self, id_token: str) -> Identity: ...


class SignInProvider(Protocol):
    """Where ID tokens come from: the managed login (authorization code + PKCE) in AWS, or, in the
    local stage only, a username and password sent to the pool (USER_PASSWORD_AUTH)."""

    def authorize_url(self, state: str, code_challenge: str) -> str | None:
        """The managed login's address for this sign-in; None where there is none (local)."""

    def exchange_code(self, code: str, code_verifier: str) -> str:
        """The ID token for an authorization code; Unauthorized when the pool refuses it."""

    def password_sign_in(self, username: str, password: str) -> str:
        """The ID token for a username and password; Unauthorized when refused or not offered."""
