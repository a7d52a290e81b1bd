"""SMTP transport, for tenants who keep their own mail provider.

Vendor docs: RFC 5321 (SMTP), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 8314 (implicit TLS on
port 465, "submissions").
Auth: optional username and password (from Secrets Manager, passed in), sent only over TLS.
TLS: implicit on port 465 (SMTP_SSL), else STARTTLS; the certificate is verified against the host
name. Without TLS only a loopback server of the local stage is reached (the egress policy decides).
Egress: the host is resolved and checked by the egress policy (integrations/egress.py) and the
connection goes to the address it checked; TLS still verifies the host name.
Quirks: 4xx answers and broken connections are temporary (retried); 5xx refusals are permanent.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import Any

from chalicelib.domain.errors import EgressRefused, PermanentError, RetryableError
from integrations.egress import EgressPolicy

NAME = "smtp"
TIMEOUT_S = 15
IMPLICIT_TLS_PORT = 465


def _connect(addresses: tuple[str, ...], port: int, timeout: float, source_address: Any) -> socket.socket:
    """A connection to the first checked address that answers (as create_connection tries each
    address a name resolves to, but never resolving again)."""
    failure: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout, source_address)
        except OSError as error:
            failure = error
    raise failure


class _PinnedSMTP(smtplib.SMTP):
    """smtplib.SMTP connected to the checked addresses; STARTTLS verifies the host name (self._host)."""

    def __init__(self, addresses: tuple[str, ...], host: str, port: int, timeout: float) -> None:
        self._addresses = addresses
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _connect(self._addresses, port, timeout, self.source_address)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL (implicit TLS) connected to the checked addresses, verified against the host name."""

    def __init__(self, addresses: tuple[str, ...], host: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        self._addresses = addresses
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        plain = _connect(self._addresses, port, timeout, self.source_address)
        return self.context.wrap_socket(plain, server_hostname=host)


def uses_tls(port: int, starttls: bool) -> bool:
    return port == IMPLICIT_TLS_PORT or starttls


def send(message: EmailMessage, *, host: str, port: int, username: str | None = None, password: str | None = None,
         starttls: bool = True, egress: EgressPolicy | None = None, context: ssl.SSLContext | None = None) -> str:
    """Send and return the Message-ID; RetryableError for temporary failures, PermanentError otherwise."""
    implicit = port == IMPLICIT_TLS_PORT
    if password and not uses_tls(port, starttls):
        raise PermanentError("the SMTP settings would send a password without TLS (use STARTTLS or port 465)")
    try:
        destination = (egress if egress is not None else EgressPolicy()).mail_destination(
            host, port, tls=uses_tls(port, starttls))
    except EgressRefused:
        raise PermanentError("the SMTP server could not be reached") from None  # the policy logged why
    tls = context if context is not None else ssl.create_default_context()
    try:
        addresses = tuple(str(address) for address in destination.addresses)
        client: smtplib.SMTP = (_PinnedSMTPSSL(addresses, destination.host, port, TIMEOUT_S, tls) if implicit
                                else _PinnedSMTP(addresses, destination.host, port, TIMEOUT_S))
        with client:
            client.ehlo()
            if starttls and not implicit:
                client.starttls(context=tls)
                client.ehlo()
            if username and password:
                client.login(username, password)
            refused = client.send_message(message)
    except smtplib.SMTPResponseException as error:
        kind = RetryableError if 400 <= error.smtp_code < 500 else PermanentError
        raise kind(f"the SMTP server answered {error.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused:
        raise PermanentError("the SMTP server refused the recipient") from None
    except smtplib.SMTPNotSupportedError:
        raise PermanentError("the SMTP server does not offer what the settings ask (STARTTLS or AUTH)") from None
    except (smtplib.SMTPException, OSError) as error:
        raise RetryableError(f"the SMTP server could not be reached ({type(error).__name__})") from None
    if refused:
        raise PermanentError("the SMTP server refused the recipient")
    return str(message["Message-ID"])
