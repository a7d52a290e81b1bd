"""The MIME message every transport sends: text and HTML alternatives, the sender, and the
one-click unsubscribe headers of RFC 8058 (List-Unsubscribe + List-Unsubscribe-Post), and the
Date header of RFC 5322 (the moment the message is built, in UTC)."""
from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid


def build(*, sender: str, sender_name: str, to: str, subject: str, text: str, html: str,
          unsubscribe_url: str, unsubscribe_mailto: str | None = None, reference: str | None = None,
          now: datetime | None = None) -> EmailMessage:
    message = EmailMessage()
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["From"] = formataddr((sender_name, sender))
    message["To"] = to
    message["Subject"] = subject
    domain = sender.rsplit("@", 1)[-1]
    message["Message-ID"] = make_msgid(idstring=reference, domain=domain) if reference else make_msgid(domain=domain)
    targets = [f"<{unsubscribe_url}>"] + ([f"<mailto:{unsubscribe_mailto}>"] if unsubscribe_mailto else [])
    message["List-Unsubscribe"] = ", ".join(targets)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8", cte="base64")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    return message
