"""A tenant's connection to a vendor's API: the client built from the stored credentials, OAuth
tokens refreshed before they expire, and whether the connection works (its admin GET).

Refreshing a rotating refresh token (freee人事労務: each refresh spends the old one) is done once
per refresh token, whoever asks: the Once port runs it under the token's digest, so of two
pollers the first refreshes and the second finds it done (or under way: it retries later) and
reads the new tokens from the store, past every cache. The winner stores the rotated refresh token
before the new access token is used, so no crash after the store loses the only valid refresh
token (a crash between the endpoint's answer and the store does: the vendor spent the old one;
the source then shows failing and an admin connects it again)."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace

from chalicelib.domain import oauth
from chalicelib.domain.errors import CredentialsRefused, HubError, RetryableError
from chalicelib.domain.events import iso
from chalicelib.domain.oauth import OAuthClient
from chalicelib.domain.ports import Clock, Config, Credentials, Once, TokenEndpoint, VendorApi, VendorApiAccess, VendorApis
from chalicelib.domain.records import JsonDict, OAuthTokens, SourceCredentials

OK, FAILING = "ok", "failing"
# what an admin reads as the reason a source is failing: fixed codes, never the vendor's words
REASONS = {"credentials_refused": "the vendor refused the stored credentials (401/403): connect the source again",
           "refresh_refused": "the vendor's token endpoint refused the refresh (invalid_grant): connect the source again",
           "ats_field_unknown": "the ATS refused the field of the ats_field delivery (unknown field): fix delivery.field, "
                                "then run the backfill"}


class Connections:
    """Vendor API clients for tenants' connections, with their OAuth tokens kept fresh."""

    def __init__(self, *, credentials: Credentials, vendor_apis: VendorApis, oauth_clients: Mapping[str, OAuthClient],
                 token_endpoint: TokenEndpoint | None, once: Once, config: Config, clock: Clock) -> None:
        self._credentials = credentials
        self._vendor_apis = vendor_apis
        self._oauth = oauth_clients
        self._token_endpoint = token_endpoint
        self._once = once
        self._config = config
        self._clock = clock

    def api(self, tenant: str, source: str, adapter: VendorApiAccess) -> VendorApi:
        """The vendor's API for the tenant's connection; OAuth tokens refreshed first when due.
        UnknownTenant when not connected; CredentialsRefused (and the source marked failing) when
        the token endpoint refuses the grant."""
        credentials = self._credentials.source(tenant, source)
        client = self._oauth.get(source)
        if client is not None and credentials.oauth is not None:
            credentials = self._fresh_tokens(tenant, source, client, credentials)
        return self._vendor_apis(adapter, credentials)

    def _fresh_tokens(self, tenant: str, source: str, client: OAuthClient,
                      credentials: SourceCredentials) -> SourceCredentials:
        tokens = credentials.oauth
        assert tokens is not None
        if not oauth.due(tokens, self._clock(), client):
            return credentials
        stored = self._credentials.oauth_tokens(tenant, source)  # past the cache: another run may have refreshed
        if stored is not None and oauth.due(stored, self._clock(), client):
            self._refresh(tenant, source, client, stored)
            stored = self._credentials.oauth_tokens(tenant, source)
        if stored is None or oauth.due(stored, self._clock(), client):
            raise RetryableError(f"{source}'s token refresh is under way elsewhere; try again")
        return replace(credentials, oauth=stored)

    def _refresh(self, tenant: str, source: str, client: OAuthClient, tokens: OAuthTokens) -> None:
        def refresh() -> JsonDict:
            endpoint = self._token_endpoint
            if endpoint is None:
                raise RetryableError("no token endpoint client is configured")
            form = oauth.request_form(tokens, client)
            try:
                answer = endpoint(source, tokens.token_url or client.token_url, form)
            except CredentialsRefused:
                self.failing(tenant, source, "refresh_refused")
                raise
            # stored before anything uses the new access token: the rotated refresh token is the only valid one
            self._credentials.store_oauth(tenant, source, oauth.refreshed(tokens, answer, self._clock(), client))
            return {"refreshed": True}  # never the tokens: the Once record is not a secret store

        if client.grant != "refresh_token":
            refresh()  # a client-credentials token spends nothing: two runs may both fetch one
            return
        spent = hashlib.sha256((tokens.refresh_token or "").encode()).hexdigest()[:32]
        self._once.run(tenant, f"oauth-refresh:{source}:{spent}", refresh)

    # -- health -------------------------------------------------------------------------------------

    def failing(self, tenant: str, source: str, reason: str) -> None:
        """Mark the source failing for reason (a key of REASONS), since now unless it already was."""
        current = self.status(tenant, source)
        if current["status"] == FAILING and current.get("reason") == reason:
            return
        self._config.put(tenant, "source_status", (source,), {"status": FAILING, "reason": reason, "since": iso(self._clock())})

    def failed(self, tenant: str, source: str, error: HubError) -> bool:
        """Mark the source failing when error means its credentials are refused; whether it did."""
        if not isinstance(error, CredentialsRefused):
            return False
        if self.status(tenant, source)["status"] != FAILING:
            self.failing(tenant, source, "credentials_refused")
        return True

    def succeeded(self, tenant: str, source: str) -> None:
        """A call with the source's credentials worked: a failing source is ok again."""
        if self.status(tenant, source)["status"] == FAILING:
            self._config.put(tenant, "source_status", (source,), {"status": OK, "since": iso(self._clock())})

    def status(self, tenant: str, source: str) -> JsonDict:
        """{"status": "ok" | "failing", "reason"?, "message"?, "since"?}: never a vendor's words."""
        found = self._config.get(tenant, "source_status", (source,))
        data = dict(found.data) if found is not None else {"status": OK}
        if data.get("reason") in REASONS:
            data["message"] = REASONS[data["reason"]]
        return data
