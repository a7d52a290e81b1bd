"""OAuth for vendor APIs: what a vendor's token endpoint wants, when a token is due for refresh,
and what its answer means. Pure: the call itself is the TokenEndpoint port (integrations/oauth.py).

Two grants the hub's sources use:
- `refresh_token` (freee人事労務): the tenant connects with a client id and secret and a refresh
  token; each refresh answers a new access token AND a new refresh token, the old one spent.
- `client_credentials` (SmartRecruiters): a client id and secret exchanged for a short-lived token.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from chalicelib.domain.errors import CredentialsRefused, PayloadError
from chalicelib.domain.events import iso, utc
from chalicelib.domain.records import JsonDict, OAuthTokens

Grant = Literal["refresh_token", "client_credentials"]
REFRESH_BEFORE = timedelta(minutes=10)  # refresh when less than this is left of the access token's life
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True)
class OAuthClient:
    """A vendor's OAuth: its grant, its token endpoint, and the hosts it documents for it (the
    only ones a tenant admin may point token_url at)."""

    grant: Grant
    token_url: str
    token_hosts: tuple[str, ...]
    refresh_before: timedelta = REFRESH_BEFORE


def due(tokens: OAuthTokens, now: datetime, client: OAuthClient) -> bool:
    """Whether the access token must be refreshed before use: none yet, no known expiry, or less
    than refresh_before left."""
    if not tokens.access_token or not tokens.expires_at:
        return True
    try:
        return utc(tokens.expires_at, what="expires_at") - now < client.refresh_before
    except PayloadError:
        return True


def request_form(tokens: OAuthTokens, client: OAuthClient) -> dict[str, str]:
    """The form the token endpoint takes (RFC 6749 4.4 and 6, client secret in the body as both
    vendors document it)."""
    form = {"grant_type": client.grant, "client_id": tokens.client_id, "client_secret": tokens.client_secret}
    if client.grant == "refresh_token":
        if not tokens.refresh_token:
            raise CredentialsRefused("no refresh token is stored: connect the source again")
        form["refresh_token"] = tokens.refresh_token
    return form


def refreshed(tokens: OAuthTokens, answer: object, now: datetime, client: OAuthClient) -> OAuthTokens:
    """The tokens after the endpoint's answer: the new access token, its expiry, and (refresh grant)
    the rotated refresh token; PayloadError when the answer lacks them."""
    if not isinstance(answer, dict):
        raise PayloadError("the token endpoint answered something that is not a JSON object")
    access = _token(answer, "access_token")
    expires_in = answer.get("expires_in")
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
        raise PayloadError("the token endpoint answered without a positive expires_in")
    rotated = answer.get("refresh_token")
    if client.grant == "refresh_token":
        rotated = _token(answer, "refresh_token")  # freee: every refresh spends the old one
    return replace(tokens, access_token=access, expires_at=iso(now + timedelta(seconds=expires_in)),
                   refresh_token=rotated if isinstance(rotated, str) and rotated else tokens.refresh_token)


def refused(status: int, answer: JsonDict | None) -> bool:
    """Whether a token endpoint's error means the grant itself is dead (RFC 6749 5.2: invalid_grant,
    invalid_client, unauthorized_client; or a 401/403) rather than a passing fault."""
    error = (answer or {}).get("error")
    return status in (401, 403) or error in ("invalid_grant", "invalid_client", "unauthorized_client")


def _token(answer: JsonDict, name: str) -> str:
    value = answer.get(name)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TOKEN_CHARS:
        raise PayloadError(f"the token endpoint answered without a {name}")
    return value
