"""Where the hub may send its calls: the pure rules of the egress policy.

Every outbound call (a vendor's API, an agency, a tenant's mail server) goes to a URL or host an
admin configured. These rules read it without touching the network; integrations/egress.py
resolves names with them, checks every address, and connects to the address it checked.

- A URL is absolute, `https://` (plain `http://` only where loopback is allowed: the local stage),
  with a host name or an address, an optional port, and nothing that different URL parsers read
  differently: no user name or password, no backslash, no control character or space, no
  non-ASCII host (the `xn--` form is), no zone id.
- An address is refused unless it is a public unicast address, judged on what it really is:
  IPv4-mapped (`::ffff:a.b.c.d`), 6to4, Teredo and NAT64 (`64:ff9b::/96`) addresses are judged
  on the IPv4 address they carry. Numeric host spellings that resolvers read as IPv4 (`2130706433`,
  `0x7f000001`, `017700000001`, `127.1`) are read as such and refused unless written as four
  decimal numbers.
- A vendor's documented hosts are names or `*.` patterns of exactly one more label
  (`*.smarthr.jp`: a customer's own subdomain).
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.domain.errors import EgressRefused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address rides in the last 32 bits


@dataclass(frozen=True)
class Endpoint:
    """Where a URL (or a mail server setting) points: scheme, host, port, and the address when the
    host is written as one (None: a name, to be resolved)."""

    scheme: str  # https | http | smtp
    host: str    # lower case, without brackets or a trailing dot
    port: int
    address: Address | None = None

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def read_url(url: object, *, what: str = "the URL") -> Endpoint:
    """The endpoint of an absolute http(s) URL; EgressRefused (saying what to fix) otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise EgressRefused(f"{what} must be an https:// URL of at most {MAX_URL} characters")
    if _UNSAFE.search(url):
        raise EgressRefused(f"{what} must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EgressRefused(f"{what} is not a valid URL (host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise EgressRefused(f"{what} must start with https://")
    if "@" in parts.netloc:
        raise EgressRefused(f"{what} must not carry a user name or password")
    host = parts.hostname or ""
    bracketed = parts.netloc.startswith("[")
    return _endpoint(scheme, host, DEFAULT_PORTS[scheme] if port is None else port, what=what, bracketed=bracketed)


def read_host(host: object, port: object, *, what: str = "the host") -> Endpoint:
    """The endpoint of a host name (or address) and port given apart (a mail server)."""
    if not isinstance(host, str) or not host or len(host) > 255 or _UNSAFE.search(host) or "@" in host or "/" in host:
        raise EgressRefused(f"{what} must be a host name")
    if isinstance(port, bool) or not isinstance(port, int):
        raise EgressRefused(f"{what}: the port must be a number")
    bracketed = host.startswith("[") and host.endswith("]")
    return _endpoint("smtp", host.strip("[]") if bracketed else host, port, what=what, bracketed=bracketed)


def _endpoint(scheme: str, host: str, port: int, *, what: str, bracketed: bool) -> Endpoint:
    if not 1 <= port <= 65535:
        raise EgressRefused(f"{what}: the port must be from 1 to 65535")
    if not host:
        raise EgressRefused(f"{what} must name a host")
    if not host.isascii():
        raise EgressRefused(f"{what}: write an international host name in its xn-- (punycode) form")
    host = host.lower()
    if bracketed or ":" in host:
        if "%" in host:
            raise EgressRefused(f"{what}: an IPv6 zone id is not allowed")
        try:
            v6 = ipaddress.IPv6Address(host)
        except ValueError:
            raise EgressRefused(f"{what}: not a valid IPv6 address") from None
        return Endpoint(scheme, v6.compressed, port, v6)
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if _NUMERIC.match(labels[-1]):  # resolvers read this as an IPv4 address (inet_aton): so do we
        v4 = numeric_ipv4(name)
        if v4 is None or str(v4) != name:
            raise EgressRefused(f"{what}: write an IPv4 address as four decimal numbers (a.b.c.d)")
        return Endpoint(scheme, name, port, v4)
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise EgressRefused(f"{what}: not a valid host name (letters, digits, hyphens and dots)")
    return Endpoint(scheme, name, port, None)


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a resolver reads in a numeric host (inet_aton: 1 to 4 parts, each decimal,
    octal with a leading 0, or hex with 0x; the last part fills the remaining bytes); None if none."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if not _NUMERIC.match(part):
            return None
        try:
            if part.startswith("0x"):
                values.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                values.append(int(part, 8))
            else:
                values.append(int(part, 10))
        except ValueError:  # an 8 or 9 in an octal part
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for index, value in enumerate(head):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def carried(address: Address) -> list[Address]:
    """The address and every IPv4 address it carries (mapped, 6to4, Teredo, NAT64)."""
    found: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_loopback(address: Address) -> bool:
    """127.0.0.0/8 or ::1, also when mapped into IPv6."""
    return any(a.is_loopback for a in carried(address))


def refusal(address: Address) -> str | None:
    """Why the hub does not call this address (None: a public unicast address it may call)."""
    checks: list[Address] = carried(address)
    if isinstance(address, ipaddress.IPv6Address) and address in _NAT64:
        checks = checks[1:]  # a NAT64 address is the IPv4 address it carries (DNS64 answers these)
    for candidate in checks:
        if candidate.is_loopback:
            return "loopback"
        if candidate.is_unspecified:
            return "unspecified"
        if candidate.is_link_local:
            return "link-local"
        if candidate.is_multicast:
            return "multicast"
        if candidate.is_private or (isinstance(candidate, ipaddress.IPv6Address) and candidate.is_site_local):
            return "private"
        if candidate.is_reserved:
            return "reserved"
        if not candidate.is_global:
            return "not public"
    return None


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """Whether a host is one of the names, or one label under a `*.` pattern (`*.smarthr.jp`)."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            suffix = pattern[1:]
            if host.endswith(suffix) and _LABEL.match(host[: -len(suffix)]):
                return True
        elif host == pattern:
            return True
    return False
