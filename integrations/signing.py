"""Shared pieces of webhook signature schemes: HMAC, encodings, timestamps, shared tokens.

Vendor modules compose these; none repeats them. Every comparison is constant-time, and every
failure raises SignatureError with a message that names what was wrong, never the values.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from chalicelib.domain.errors import SignatureError

ENCODERS: dict[str, Callable[[bytes], str]] = {
    "hex": lambda digest: digest.hex(),
    "base64": lambda digest: base64.b64encode(digest).decode(),
    "base64url": lambda digest: base64.urlsafe_b64encode(digest).decode(),
}


def key_bytes(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode()


def hmac_signature(secret: str | bytes, message: bytes, *, algorithm: str = "sha256", encoding: str = "hex") -> str:
    """The encoded HMAC of message under secret."""
    digest = hmac.new(key_bytes(secret), message, getattr(hashlib, algorithm)).digest()
    return ENCODERS[encoding](digest)


def same(expected: str, given: str, *, encoding: str = "hex") -> bool:
    """Constant-time comparison of two encoded digests (hex case and base64 padding tolerated)."""
    if encoding == "hex":
        expected, given = expected.lower(), given.strip().lower()
    elif encoding in ("base64", "base64url"):
        expected, given = expected.rstrip("="), given.strip().rstrip("=")
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def require_header(headers: Mapping[str, str], name: str) -> str:
    """The value of a header (names lower-cased by the caller); SignatureError when absent."""
    value = headers.get(name.lower())
    if not value or not value.strip():
        raise SignatureError(f"the {name} header is missing")
    return value.strip()


def verify_hmac(secrets: Sequence[str | bytes], message: bytes, candidates: Iterable[str], *,
                algorithm: str = "sha256", encoding: str = "hex") -> None:
    """Pass when any candidate signature is the HMAC of message under any secret (rotation)."""
    given = [c for c in candidates if c]
    if not given:
        raise SignatureError("no signature was sent")
    for secret in secrets:
        if not secret:
            continue
        expected = hmac_signature(secret, message, algorithm=algorithm, encoding=encoding)
        # every candidate is compared, so timing does not tell which one matched
        if any([same(expected, candidate, encoding=encoding) for candidate in given]):
            return
    raise SignatureError("the signature does not match")


def verify_token(secrets: Sequence[str], given: str) -> None:
    """Pass when a plain shared token equals one of the secrets (constant time)."""
    matches = [hmac.compare_digest(key_bytes(secret), given.encode("utf-8", "surrogateescape"))
               for secret in secrets if secret]
    if not any(matches):
        raise SignatureError("the token does not match")


def parse_timestamp(value: str, *, unit: str = "s") -> datetime:
    """A signature timestamp in epoch seconds (or milliseconds) or ISO 8601; SignatureError if neither."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as error:
            raise SignatureError("the signature timestamp is not a time") from error
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return datetime.fromtimestamp(number / 1000 if unit == "ms" else number, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise SignatureError("the signature timestamp is out of range") from error


def check_fresh(moment: datetime, *, tolerance_s: float, now: datetime | None = None) -> None:
    """Refuse a signature timestamp further than tolerance from now, either way (replays, skew)."""
    now = now or datetime.now(UTC)
    if abs((now - moment).total_seconds()) > tolerance_s:
        raise SignatureError("the signature timestamp is outside the accepted window")


def decode_base64_secret(secret: str, prefix: str = "") -> bytes:
    """Secret keys that vendors hand out base64-encoded (optionally behind a prefix such as whsec_)."""
    text = secret[len(prefix):] if prefix and secret.startswith(prefix) else secret
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureError("the configured secret is not base64") from error
