"""The console's ID token verification (integrations/cognito.py) against a locally generated RSA key
whose JWKS a loopback HTTP server serves: only a token of the pool, for the app client, of use `id`,
unexpired and signed RS256 by a key of the JWKS passes; the JWKS is fetched through the egress
policy and refreshed at most once a minute for unknown key ids."""
from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from chalicelib.domain.errors import Unauthorized
from integrations.cognito import IdTokenVerifier, Pool
from integrations.egress import EgressPolicy

ISSUER = "https://cognito-idp.ap-northeast-1.amazonaws.com/ap-northeast-1_TEST"
CLIENT = "console-client-id"


@pytest.fixture(scope="module")
def keys():
    return {"good": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "other": rsa.generate_private_key(public_exponent=65537, key_size=2048)}


def jwk(key, kid: str) -> dict:
    found = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**found, "kid": kid, "alg": "RS256", "use": "sig"}


@pytest.fixture
def jwks(httpserver, keys):
    httpserver.expect_request("/.well-known/jwks.json").respond_with_json({"keys": [jwk(keys["good"], "k1")]})
    return httpserver


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def verifier(jwks, clock):
    pool = Pool(issuer=ISSUER, client_id=CLIENT, jwks_url=jwks.url_for("/.well-known/jwks.json"),
                redirect_uri="https://hub.example.test/console/auth/callback")
    return IdTokenVerifier(pool, EgressPolicy(allow_loopback=True), now=clock)


def claims(**changes) -> dict:
    now = int(time.time())
    found = {"iss": ISSUER, "aud": CLIENT, "sub": "0b5c-sub", "token_use": "id", "iat": now, "exp": now + 3600,
             "cognito:username": "hanako", "cognito:groups": ["acme:editor"]}
    found.update(changes)
    return {k: v for k, v in found.items() if v is not None}


def token(keys, kid="k1", key="good", **changes) -> str:
    return jwt.encode(claims(**changes), keys[key], algorithm="RS256", headers={"kid": kid})


def test_a_good_token_gives_the_person_and_their_groups(verifier, keys):
    identity = verifier.verify(token(keys))
    assert (identity.subject, identity.username, identity.groups) == ("0b5c-sub", "hanako", ("acme:editor",))
    assert identity.actor == "user:0b5c-sub"


@pytest.mark.parametrize("changes", [{"aud": "another-client"}, {"iss": ISSUER + "x"},
                                     {"iss": "https://cognito-idp.ap-northeast-1.amazonaws.com/ap-northeast-1_OTHER"},
                                     {"token_use": "access"}, {"token_use": None}, {"exp": None}],
                         ids=["wrong_aud", "wrong_iss_suffix", "other_pool", "access_token", "no_token_use", "no_exp"])
def test_a_token_for_another_client_pool_or_use_is_refused(verifier, keys, changes):
    with pytest.raises(Unauthorized):
        verifier.verify(token(keys, **changes))


def test_an_expired_token_is_refused_beyond_a_small_leeway(verifier, keys):
    now = int(time.time())
    assert verifier.verify(token(keys, exp=now - 10)).subject == "0b5c-sub"  # within 30 s of leeway
    with pytest.raises(Unauthorized):
        verifier.verify(token(keys, exp=now - 120))


def test_a_token_signed_by_another_key_is_refused(verifier, keys):
    with pytest.raises(Unauthorized):
        verifier.verify(token(keys, key="other"))  # the JWKS's kid, another key's signature
    good = token(keys)
    header, payload, signature = good.split(".")
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    with pytest.raises(Unauthorized):
        verifier.verify(f"{header}.{tampered}.{signature}")


def test_alg_none_and_hs256_with_the_public_key_as_secret_are_refused(verifier, keys):
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(Unauthorized):
        verifier.verify(unsigned)
    public_pem = keys["good"].public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode()) + "." + b64(json.dumps(claims()).encode())
    forged = signing + "." + b64(hmac.new(public_pem, signing.encode(), hashlib.sha256).digest())
    with pytest.raises(Unauthorized):
        verifier.verify(forged)
    for junk in ("", "not-a-jwt", "a.b.c", "x" * 20_000):
        with pytest.raises(Unauthorized):
            verifier.verify(junk)


def test_the_jwks_is_cached_and_an_unknown_kid_refreshes_it_at_most_once_a_minute(verifier, jwks, keys, clock):
    verifier.verify(token(keys))
    verifier.verify(token(keys))
    assert len(jwks.log) == 1  # cached
    for _ in range(20):
        with pytest.raises(Unauthorized):
            verifier.verify(token(keys, kid="made-up", key="other"))
    assert len(jwks.log) == 1  # fetched under a minute ago: no refresh for made-up key ids
    clock.now += 61
    for _ in range(20):
        with pytest.raises(Unauthorized):
            verifier.verify(token(keys, kid="made-up", key="other"))
    assert len(jwks.log) == 2  # one refresh for the flood of unknown key ids
    # the pool rotates its key: seen at the next refresh, a minute later
    jwks.clear_all_handlers()
    jwks.expect_request("/.well-known/jwks.json").respond_with_json({"keys": [jwk(keys["good"], "k1"), jwk(keys["other"], "k2")]})
    clock.now += 61
    assert verifier.verify(token(keys, kid="k2", key="other")).subject == "0b5c-sub"
    assert len(jwks.log) == 3


def test_the_jwks_goes_through_the_egress_policy(jwks, keys, clock):
    """A deployed stage's policy (no loopback) refuses the JWKS address: nothing verifies."""
    pool = Pool(issuer=ISSUER, client_id=CLIENT, jwks_url=jwks.url_for("/.well-known/jwks.json"),
                redirect_uri="https://hub.example.test/console/auth/callback")
    strict = IdTokenVerifier(pool, EgressPolicy(allow_loopback=False), now=clock)
    with pytest.raises(Unauthorized):
        strict.verify(token(keys))
    assert len(jwks.log) == 0
