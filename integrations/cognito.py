"""The console's user pool (Amazon Cognito): ID token verification against the pool's JWKS, the
managed login (authorization code + PKCE) and, in the local stage only, the password sign-in that
`make run`'s sign-in page sends to the embedded pool (docs/console.md).

Every call goes through the hub's egress policy (integrations/egress.py): in AWS the pool's hosts
(`cognito-idp.<region>.amazonaws.com`, `<prefix>.auth.<region>.amazoncognito.com`) are public https
hosts and pass it; locally the embedded endpoint on loopback passes because the local stage allows
loopback. Refusals say why in a code, never with a token or a name."""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import requests

from chalicelib.domain.console import Identity
from chalicelib.domain.errors import EgressRefused, Unauthorized
from integrations.egress import EgressPolicy
from integrations.http import new_session

log = logging.getLogger("relations_hub.console")
TIMEOUT = (3.05, 5)
REFUSED = "the sign-in could not be verified; sign in again"


@dataclass(frozen=True)
class Pool:
    """What the hub knows of the console's pool (chalicelib/settings.py reads it)."""

    issuer: str                      # https://cognito-idp.<region>.amazonaws.com/<pool id>
    client_id: str
    jwks_url: str                    # the issuer's /.well-known/jwks.json (locally: the embedded endpoint's)
    redirect_uri: str                # <public url>/console/auth/callback
    login_url: str | None = None     # the managed login's domain (AWS); None locally
    password_api: str | None = None  # the cognito-idp endpoint for USER_PASSWORD_AUTH (local stage only)


def _reject(reason: str) -> Unauthorized:
    log.info("console sign-in refused", extra={"reason": reason})
    return Unauthorized(REFUSED)


@dataclass
class IdTokenVerifier:
    """The IdTokens port. RS256 only (no `none`, no HS256 with the public key as secret); signature
    against the pool's JWKS; `iss` the pool, `aud` the app client, `token_use` id, `exp` with a
    small leeway. The JWKS is cached per container: fetched on first use, again after max_age_s,
    and on an unknown key id at most once per refresh_s (a flood of made-up key ids costs one fetch)."""

    pool: Pool
    egress: EgressPolicy
    leeway_s: int = 30
    refresh_s: float = 60.0
    max_age_s: float = 6 * 3600.0
    now: Callable[[], float] = field(default=time.monotonic, repr=False)
    _keys: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _fetched_at: float | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def verify(self, id_token: str) -> Identity:
        if not isinstance(id_token, str) or not id_token or len(id_token) > 16_384:
            raise _reject("no_token")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise _reject("malformed") from None
        if header.get("alg") != "RS256":
            raise _reject("algorithm")
        key = self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token, key, algorithms=["RS256"], audience=self.pool.client_id, issuer=self.pool.issuer,
                leeway=self.leeway_s, options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]})
        except jwt.ExpiredSignatureError:
            raise _reject("expired") from None
        except jwt.InvalidAudienceError:
            raise _reject("audience") from None
        except jwt.InvalidIssuerError:
            raise _reject("issuer") from None
        except jwt.PyJWTError:
            raise _reject("invalid") from None
        if claims.get("token_use") != "id":
            raise _reject("token_use")
        groups = claims.get("cognito:groups") or []
        subject = claims["sub"]
        username = claims.get("cognito:username") or subject
        if not isinstance(subject, str) or not isinstance(username, str) or not isinstance(groups, list):
            raise _reject("claims")
        return Identity(subject=subject, username=username, groups=tuple(g for g in groups if isinstance(g, str)))

    def _key(self, kid: str) -> Any:
        with self._lock:
            now = self.now()
            stale = self._fetched_at is None or now - self._fetched_at > self.max_age_s
            may_refresh = self._fetched_at is None or now - self._fetched_at >= self.refresh_s
            if stale or (kid not in self._keys and may_refresh):
                self._keys = self._fetch()
                self._fetched_at = now
            key = self._keys.get(kid)
        if key is None:
            raise _reject("unknown_key")
        return key

    def _fetch(self) -> dict[str, Any]:
        try:
            response = new_session(egress=self.egress).get(self.pool.jwks_url, timeout=TIMEOUT, allow_redirects=False)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (requests.RequestException, ValueError, EgressRefused, jwt.PyJWTError):
            log.warning("console JWKS could not be fetched")
            return self._keys  # keep what we had; unknown keys stay unknown
        return {str(k.key_id): k for k in keys if k.key_id and k.algorithm_name in ("RS256", None)}


@dataclass(frozen=True)
class CognitoSignIn:
    """The SignInProvider port on Cognito."""

    pool: Pool
    egress: EgressPolicy

    def authorize_url(self, state: str, code_challenge: str) -> str | None:
        if not self.pool.login_url:
            return None
        query = urlencode({"response_type": "code", "client_id": self.pool.client_id, "redirect_uri": self.pool.redirect_uri,
                           "scope": "openid email profile", "state": state, "code_challenge": code_challenge,
                           "code_challenge_method": "S256"})
        return f"{self.pool.login_url}/oauth2/authorize?{query}"

    def exchange_code(self, code: str, code_verifier: str) -> str:
        if not self.pool.login_url:
            raise _reject("no_managed_login")
        form = {"grant_type": "authorization_code", "client_id": self.pool.client_id, "code": code,
                "redirect_uri": self.pool.redirect_uri, "code_verifier": code_verifier}
        return self._id_token(f"{self.pool.login_url}/oauth2/token", data=form,
                              headers={"Content-Type": "application/x-www-form-urlencoded"}, path=("id_token",))

    def password_sign_in(self, username: str, password: str) -> str:
        if not self.pool.password_api:
            raise _reject("password_sign_in_off")
        body = {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": self.pool.client_id,
                "AuthParameters": {"USERNAME": username, "PASSWORD": password}}
        return self._id_token(self.pool.password_api, data=json.dumps(body).encode(), path=("AuthenticationResult", "IdToken"),
                              headers={"Content-Type": "application/x-amz-json-1.1",
                                       "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"})

    def _id_token(self, url: str, *, data: Mapping[str, str] | bytes, headers: Mapping[str, str],
                  path: tuple[str, ...]) -> str:
        try:
            response = new_session(egress=self.egress).post(url, data=data, headers=dict(headers), timeout=TIMEOUT,
                                                            allow_redirects=False)
        except (requests.RequestException, EgressRefused):
            raise _reject("pool_unreachable") from None
        if response.status_code != 200:
            raise _reject(f"pool_{response.status_code}")
        try:
            value: Any = response.json()
            for name in path:
                value = value[name]
        except (ValueError, KeyError, TypeError):
            raise _reject("no_id_token") from None  # e.g. a challenge (new password, MFA) the console cannot answer
        if not isinstance(value, str):
            raise _reject("no_id_token")
        return value
