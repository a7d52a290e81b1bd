"""Tenant credentials in Secrets Manager, read through Powertools Parameters (cached per container).

One secret per tenant and source: <prefix>/<tenant>/sources/<source>, a JSON object
{"webhook_secret", "previous_webhook_secret", "api_key", "account_token", "oauth": {"client_id",
"client_secret", "refresh_token", "access_token", "expires_at", "token_url"}}. Values never reach
logs or answers. OAuth tokens are read past the cache (`oauth_tokens`): a refresh token is spent by
its first use, so a stale copy must never be used.

Each container keeps every answer, found or not, for CACHE_SECONDS, and reads one secret at most
once per RECHECK_SECONDS even when asked for a fresh copy (a failed signature asks): a flood of
bad deliveries, to a tenant that exists or not, costs at most one read per tenant and source per
minute. What this container writes it keeps at once; another container sees it within CACHE_SECONDS.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property

from chalicelib.domain.errors import PermanentError, RetryableError, UnknownTenant
from chalicelib.domain.records import OAuthTokens, SourceCredentials

CACHE_SECONDS = 60    # how long an answer (found or not) is kept: also how late another container sees a change
RECHECK_SECONDS = 60  # a fresh read of one secret at most this often (after a failed verification)
CACHE_ENTRIES = 1024  # names kept per container (unknown tenants cannot grow it without bound)
ROTATION_GRACE = timedelta(hours=24)  # how long the replaced webhook secret still verifies


class SecretsManagerCredentials:
    """Credentials port on Secrets Manager."""

    def __init__(self, prefix: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._prefix = prefix
        self._clock = clock
        self._cache: dict[str, tuple[float, dict | None]] = {}  # name -> (when read, the value or None: not found)

    @cached_property
    def _provider(self):
        # built on first use: boto3 and its client cost cold-start time (the cold start figure of `make bench`)
        from aws_lambda_powertools.utilities.parameters import SecretsProvider
        return SecretsProvider(boto3_client=self._client)  # one client (one service model loaded) for both

    @cached_property
    def _client(self):
        import boto3
        # boto3's default session, which the queues and mail clients use too: a session of its own would
        # load botocore's endpoint and configuration data again, on the first webhook of each container
        # (about 170 ms of CPU on one core; several times that at the API function's CPU share)
        return boto3.client("secretsmanager")

    def name(self, tenant: str, source: str) -> str:
        return f"{self._prefix}/{tenant}/sources/{source}"

    def _read(self, name: str, *, fresh: bool) -> dict | None:
        """The secret's JSON object, None when there is none: as read at most CACHE_SECONDS ago, or
        (fresh) read now."""
        now = self._clock()
        cached = self._cache.get(name)
        if not fresh and cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        value = self._fetch(name)
        self._keep(name, value, now)
        return value

    def _fetch(self, name: str) -> dict | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
        try:
            value = self._provider.get(name, transform="json", force_fetch=True)
        except GetParameterError as error:
            if "ResourceNotFoundException" in str(error):
                return None  # kept like any answer: asking again within the minute costs nothing
            raise RetryableError("the credentials store did not answer") from None
        except TransformParameterError:
            raise RetryableError("stored credentials are unreadable") from None
        return value if isinstance(value, dict) else None

    def _keep(self, name: str, value: dict | None, now: float) -> None:
        self._cache.pop(name, None)  # re-inserted last: the dict's order is the age order
        self._cache[name] = (now, value)
        if len(self._cache) > CACHE_ENTRIES:
            for stale in [n for n, (at, _) in self._cache.items() if now - at >= CACHE_SECONDS] or [next(iter(self._cache))]:
                del self._cache[stale]

    def source(self, tenant: str, source: str, *, fresh: bool = False) -> SourceCredentials:
        name = self.name(tenant, source)
        cached = self._cache.get(name)
        recheck = fresh and (cached is None or self._clock() - cached[0] >= RECHECK_SECONDS)
        value = self._read(name, fresh=recheck)
        if not value or not (value.get("webhook_secret") or value.get("api_key") or value.get("oauth")):
            raise UnknownTenant("this tenant has not connected this source")
        secrets = [value["webhook_secret"]] if value.get("webhook_secret") else []
        if value.get("previous_webhook_secret") and value.get("previous_valid_until", "") > _now():
            secrets.append(value["previous_webhook_secret"])
        return SourceCredentials(webhook_secrets=tuple(secrets), api_key=value.get("api_key"),
                                 api_base_url=value.get("api_base_url"), account_token=value.get("account_token"),
                                 oauth=OAuthTokens.from_json(value.get("oauth")))

    def oauth_tokens(self, tenant: str, source: str) -> OAuthTokens | None:
        name = self.name(tenant, source)
        value = self._fetch(name)
        self._keep(name, value, self._clock())
        return OAuthTokens.from_json((value or {}).get("oauth"))

    def store_oauth(self, tenant: str, source: str, tokens: OAuthTokens) -> None:
        name = self.name(tenant, source)
        current = self._fetch(name) or {}
        self._write(name, {**current, "oauth": tokens.to_json()}, exists=bool(current))

    def link_key(self) -> bytes:
        """The platform's link key (LinkKeys port): <prefix>/link-key, a JSON {"key": ...} that the
        stack generates (tools/local_aws.py locally). Kept CACHE_SECONDS like every answer: after a
        rotation, new links use the new key within a minute; old links stay valid (stored hashed)."""
        value = self._read(f"{self._prefix}/link-key", fresh=False)
        key = value.get("key") if value else None
        if not isinstance(key, str) or len(key) < 32:
            raise RetryableError("the link key is not readable")
        return key.encode()

    def smtp_password(self, tenant: str) -> str | None:
        value = self._read(f"{self._prefix}/{tenant}/smtp", fresh=False)
        return value.get("password") if value else None

    def store_smtp_password(self, tenant: str, password: str) -> None:
        self._write(f"{self._prefix}/{tenant}/smtp", {"password": password}, exists=self._read(
            f"{self._prefix}/{tenant}/smtp", fresh=True) is not None)

    def drop_smtp_password(self, tenant: str) -> None:
        self._drop(f"{self._prefix}/{tenant}/smtp")

    def agency_auth(self, tenant: str, agency: str) -> dict[str, str]:
        value = self._read(f"{self._prefix}/{tenant}/agencies/{agency}", fresh=False)
        if not value:
            raise PermanentError("the agency has no stored credentials")
        return value

    def store_agency_auth(self, tenant: str, agency: str, auth: Mapping[str, str]) -> None:
        name = f"{self._prefix}/{tenant}/agencies/{agency}"
        self._write(name, dict(auth), exists=self._read(name, fresh=True) is not None)

    def drop_agency_auth(self, tenant: str, agency: str) -> None:
        self._drop(f"{self._prefix}/{tenant}/agencies/{agency}")

    def _drop(self, name: str) -> None:
        """Empty a secret (its current value becomes {}: read as none); no write when there is none."""
        if self._read(name, fresh=True):
            self._write(name, {}, exists=True)

    def _write(self, name: str, value: dict, *, exists: bool) -> None:
        body = json.dumps(value)
        if exists:
            self._client.put_secret_value(SecretId=name, SecretString=body)
        else:
            try:
                self._client.create_secret(Name=name, SecretString=body)
            except self._client.exceptions.ResourceExistsException:
                self._client.put_secret_value(SecretId=name, SecretString=body)
        self._provider.clear_cache()
        self._keep(name, value, self._clock())  # this container uses what it wrote at once

    def store_source(self, tenant: str, source: str, webhook_secret: str | None, api_key: str | None,
                     api_base_url: str | None = None, *, revoke_previous: bool = False,
                     drop_api_key: bool = False, account_token: str | None = None,
                     oauth: OAuthTokens | None = None) -> None:
        name = self.name(tenant, source)
        current = self._read(name, fresh=True) or {}
        value = {"webhook_secret": webhook_secret} if webhook_secret else {}
        previous = current.get("webhook_secret")
        if webhook_secret and previous and previous != webhook_secret and not revoke_previous:
            # deliveries signed (or retried) with the old secret still verify for a day; revoke_previous
            # (a leaked secret) ends it now, and ends any previous secret still in its grace
            value["previous_webhook_secret"] = previous
            value["previous_valid_until"] = _now(ROTATION_GRACE)
        if api_key is not None or (current.get("api_key") and not drop_api_key):
            value["api_key"] = api_key if api_key is not None else current["api_key"]
        if account_token is not None or (current.get("account_token") and not drop_api_key):
            value["account_token"] = account_token if account_token is not None else current["account_token"]
        if oauth is not None or (current.get("oauth") and not drop_api_key):
            value["oauth"] = oauth.to_json() if oauth is not None else current["oauth"]
        if api_base_url is not None or current.get("api_base_url"):
            value["api_base_url"] = api_base_url if api_base_url is not None else current["api_base_url"]
        self._write(name, value, exists=bool(current))


def _now(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")

