"""The credential fields a source takes beyond a webhook secret and an api key, read and checked
when an admin connects it (PUT /admin/tenants/{t}/sources/{s}):

- `account_token` (a unified API's linked account: Merge's X-Account-Token), for the sources in
  `account_tokens`;
- `oauth`: {"client_id", "client_secret", "refresh_token"? (required for a refresh-token grant),
  "access_token"?, "expires_in"?, "token_url"?}, for the sources with an OAuth client. A tenant
  admin may point token_url only at the vendor's documented token hosts; the platform operator at
  any URL the egress policy allows.

Values are never echoed: the answer says only whether each is stored."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain import egress
from chalicelib.domain.errors import BadRequest, EgressRefused
from chalicelib.domain.events import iso
from chalicelib.domain.oauth import MAX_TOKEN_CHARS, OAuthClient
from chalicelib.domain.ports import Egress
from chalicelib.domain.records import OAuthTokens
from chalicelib.services.common import URL

_OAUTH_KEYS = {"client_id", "client_secret", "refresh_token", "access_token", "expires_in", "token_url"}


@dataclass(frozen=True)
class CredentialFields:
    oauth: Mapping[str, OAuthClient] = field(default_factory=dict)
    account_tokens: frozenset[str] = frozenset()

    def account_token(self, source: str, value: object) -> str | None:
        if value is None:
            return None
        if source not in self.account_tokens:
            raise BadRequest("this source takes no account_token")
        return _text("account_token", value)

    def oauth_tokens(self, source: str, value: object, *, by_platform: bool, checker: Egress,
                     now: datetime) -> OAuthTokens | None:
        if value is None:
            return None
        client = self.oauth.get(source)
        if client is None:
            raise BadRequest("this source takes no oauth credentials")
        if not isinstance(value, dict):
            raise BadRequest("oauth must be an object")
        unknown = set(value) - _OAUTH_KEYS
        if unknown:
            raise BadRequest(f"unknown oauth fields: {', '.join(sorted(unknown))}")
        client_id = _text("oauth.client_id", value.get("client_id"))
        client_secret = _text("oauth.client_secret", value.get("client_secret"))
        refresh = None if value.get("refresh_token") is None else _text("oauth.refresh_token", value["refresh_token"])
        if client.grant == "refresh_token" and refresh is None:
            raise BadRequest("oauth.refresh_token is required for this source")
        access = None if value.get("access_token") is None else _text("oauth.access_token", value["access_token"])
        expires_in = value.get("expires_in")
        if expires_in is not None and (not isinstance(expires_in, int) or isinstance(expires_in, bool)
                                       or not 1 <= expires_in <= 366 * 86400):
            raise BadRequest("oauth.expires_in must be a number of seconds")
        expires_at = iso(now + timedelta(seconds=expires_in)) if access and expires_in else None
        url = value.get("token_url")
        if url is not None:
            url = _token_url(source, client, url, by_platform=by_platform, checker=checker)
        return OAuthTokens(client_id=client_id, client_secret=client_secret, refresh_token=refresh,
                           access_token=access, expires_at=expires_at, token_url=url)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TOKEN_CHARS or not value.isprintable():
        raise BadRequest(f"{name} must be a string of 1 to {MAX_TOKEN_CHARS} printable characters")
    return value


def _token_url(source: str, client: OAuthClient, url: object, *, by_platform: bool, checker: Egress) -> str:
    if not isinstance(url, str) or not URL.match(url):
        raise BadRequest("oauth.token_url must be an https:// URL")
    endpoint = egress.read_url(url, what="oauth.token_url")
    if not by_platform and not (endpoint.scheme == "https" and endpoint.port == 443
                                and egress.host_matches(endpoint.host, client.token_hosts)):
        raise EgressRefused(f"oauth.token_url must be an https:// URL on one of {source}'s documented token hosts "
                            f"({', '.join(client.token_hosts)}); only the platform operator may set another")
    checker.check_url(url, what="oauth.token_url")
    return url
