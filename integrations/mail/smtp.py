"""SMTP transport, for tenants who keep their own mail provider.

Vendor docs: RFC 5321 (SMTP), RFC 3207 (STARTTLS), RFC 4954 (AUTH).
Auth: optional username and password (from Secrets Manager, passed in); STARTTLS unless disabled.
Quirks: 4xx answers and broken connections are temporary (retried); 5xx refusals are permanent.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from chalicelib.domain.errors import PermanentError, RetryableError

NAME = "smtp"
TIMEOUT_S = 15


def send(message: EmailMessage, *, host: str, port: int, username: str | None = None, password: str | None = None,
         starttls: bool = True) -> str:
    """Send and return the Message-ID; RetryableError for temporary failures, PermanentError otherwise."""
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT_S) as client:
            client.ehlo()
            if starttls:
                client.starttls(context=ssl.create_default_context())
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
