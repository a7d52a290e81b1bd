"""The egress policy: the one gate every outbound call of the hub goes through (vendor APIs,
agencies, tenants' mail servers).

Rules (chalicelib/domain/egress.py reads URLs and judges addresses; this module resolves and connects):
- `https://` only (a mail server: STARTTLS or implicit TLS); every address the host resolves to
  must be a public unicast address, else the call is refused (EgressRefused) before any byte is sent.
- The connection goes to the address that was checked (no second resolution an attacker's DNS
  could answer differently): `PinnedAdapter` hands urllib3 the checked IP and keeps the host
  name for the Host header, SNI and certificate verification; `connect()` does the same for SMTP.
- `allow_loopback` (the local stage and tests that opt in; chalicelib/settings.py decides, never
  in Lambda) lets 127.0.0.0/8 and ::1 through, and plain http:// or SMTP without TLS to them
  only: every other private, link-local or reserved address stays refused.

Refusals are logged here with the host, port and reason (configuration, never personal data);
callers show one message. Resolution is injected (`resolve`) so tests need no DNS.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

from chalicelib.domain import egress as rules
from chalicelib.domain.errors import EgressRefused

log = logging.getLogger("relations_hub.egress")

Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> the addresses it resolves to, as text
PUBLIC_ONLY = "must name a host on the public internet"  # one message whatever the addresses were


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for host (TCP), in its order of preference."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)]


@dataclass(frozen=True)
class Destination:
    """A checked destination: the endpoint as configured, and the addresses that passed the policy
    (connections go to the first)."""

    endpoint: rules.Endpoint
    addresses: tuple[rules.Address, ...]

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def port(self) -> int:
        return self.endpoint.port

    @property
    def address(self) -> str:
        return str(self.addresses[0])

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = rules.DEFAULT_PORTS.get(self.endpoint.scheme)
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations the hub may call. Built once by chalicelib/wiring.py from the settings."""

    allow_loopback: bool = False
    resolve: Resolver = field(default=system_resolver, repr=False, compare=False)

    # -- the Egress port (chalicelib/domain/vendors.py): checks when something is configured --------

    def check_url(self, url: str, *, what: str = "the URL") -> None:
        self.destination(url, what=what)

    def check_mail_server(self, host: str, port: int, *, tls: bool, what: str = "smtp.host") -> None:
        self.mail_destination(host, port, tls=tls, what=what)

    # -- at call time ---------------------------------------------------------------------------------

    def destination(self, url: str, *, what: str = "the URL") -> Destination:
        """The checked destination of an http(s) URL; EgressRefused otherwise."""
        endpoint = rules.read_url(url, what=what)
        if endpoint.scheme != "https" and not self.allow_loopback:
            self._refused(endpoint, "plain http")
            raise EgressRefused(f"{what} must start with https://")
        return self._checked(endpoint, encrypted=endpoint.scheme == "https", what=what)

    def mail_destination(self, host: str, port: int, *, tls: bool, what: str = "smtp.host") -> Destination:
        """The checked destination of a mail server; without TLS only a loopback one (local stage)."""
        endpoint = rules.read_host(host, port, what=what)
        if not tls and not self.allow_loopback:
            self._refused(endpoint, "no TLS")
            raise EgressRefused(f"{what}: mail goes out over TLS only (STARTTLS, or implicit TLS on port 465)")
        return self._checked(endpoint, encrypted=tls, what=what)

    def _checked(self, endpoint: rules.Endpoint, *, encrypted: bool, what: str) -> Destination:
        addresses = (endpoint.address,) if endpoint.address is not None else self._addresses(endpoint, what)
        for address in addresses:
            reason = rules.refusal(address)
            if reason is not None and not (self.allow_loopback and rules.is_loopback(address)):
                self._refused(endpoint, f"{reason} address")
                raise EgressRefused(f"{what} {PUBLIC_ONLY}")
        if not encrypted and not all(rules.is_loopback(a) for a in addresses):
            self._refused(endpoint, "unencrypted to a host that is not loopback")
            raise EgressRefused(f"{what} must start with https:// (mail: use TLS)")
        return Destination(endpoint, addresses)

    def _addresses(self, endpoint: rules.Endpoint, what: str) -> tuple[rules.Address, ...]:
        try:
            found = tuple(ipaddress.ip_address(text.split("%", 1)[0]) for text in self.resolve(endpoint.host, endpoint.port))
        except (OSError, UnicodeError, ValueError):
            found = ()
        if not found:
            self._refused(endpoint, "does not resolve")
            raise EgressRefused(f"{what} {PUBLIC_ONLY}")
        return found

    @staticmethod
    def _refused(endpoint: rules.Endpoint, reason: str) -> None:
        log.warning("outbound call refused", extra={"egress_host": endpoint.host, "egress_port": endpoint.port,
                                                     "egress_reason": reason})


class PinnedAdapter(HTTPAdapter):
    """A requests transport that checks each request's URL against the policy and connects to the
    address it checked; SNI and certificate verification stay on the host name."""

    def __init__(self, policy: EgressPolicy, **kwargs: Any) -> None:
        self._policy = policy
        super().__init__(**kwargs)

    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: Any,
                                        proxies: dict[str, str] | None = None, cert: Any = None) -> HTTPConnectionPool:
        destination = self._policy.destination(request.url or "")
        _, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        request.headers["Host"] = destination.host_header
        if destination.endpoint.scheme == "https":
            pool_kwargs["server_hostname"] = destination.host
        return self.poolmanager.connection_from_host(host=destination.address, port=destination.port,
                                                     scheme=destination.endpoint.scheme, pool_kwargs=pool_kwargs)


def pin(session: requests.Session, policy: EgressPolicy) -> requests.Session:
    """Make every request of the session go through the policy: no proxies from the environment,
    no .netrc credentials, no redirects."""
    adapter = PinnedAdapter(policy)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False
    session.max_redirects = 0
    return session
