"""A tenant's sender: the domain its mail is sent from, held by one tenant only, and whether the
mail service may send from it yet (pending until the DKIM records are published, then verified).

The hub registers the domain of a tenant's `sender_email` as a mail identity of that tenant
(SES: Easy DKIM) and answers the DNS records to publish; notices wait while it is not verified."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from chalicelib.domain.errors import BadRequest

PENDING, VERIFIED, FAILED = "pending", "verified", "failed"
STATUSES = (PENDING, VERIFIED, FAILED)
UNREGISTERED = "unregistered"  # settings stored before senders were registered: PUT them again
# How long a status read from the mail service is believed: a pending one is asked again soon,
# a verified one rarely (it stays so while the DNS records stay published).
FRESH = {VERIFIED: timedelta(hours=1), PENDING: timedelta(minutes=1), FAILED: timedelta(minutes=1)}
# Why a notice waits (stored with it, answered to the admin): sender_pending, sender_failed, sender_unregistered.
WAITING_PREFIX = "sender_"
# How long a registered sender may stay unverified before the operator hears of it (SenderUnverified):
# DNS records published the same day verify within hours.
UNVERIFIED_ALERT_AFTER = timedelta(days=1)
REFUSED = "this sender domain cannot be registered for this tenant"  # never says who holds it

# RFC 5322 dot-atom local part (ASCII), and a DNS domain name (IDN in its xn-- form), lower case.
_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_SENDER = re.compile(rf"^{_ATEXT}(?:\.{_ATEXT})*@((?:{_LABEL}\.)+[a-z][a-z0-9-]{{0,61}}[a-z0-9])$")
DKIM_HOST = "dkim.amazonses.com"


def domain_of(sender_email: str) -> str:
    """The domain a (normalised) sender address is sent from; BadRequest when it is not one the
    mail service can register (a From header takes it as is: no quotes, brackets or spaces)."""
    match = _SENDER.match(sender_email)
    if not match or len(match.group(1)) > 253:
        raise BadRequest("sender_email must be a plain address at a domain name (ASCII; an IDN in its xn-- form)")
    return match.group(1)


def parents(domain: str) -> list[str]:
    """The domains above a sender domain, nearest first, down to two labels: a domain under another
    tenant's is that tenant's too (SES lets a verified domain send for its subdomains)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def dns_records(domain: str, tokens: tuple[str, ...]) -> list[dict[str, str]]:
    """The Easy DKIM CNAME records the tenant publishes: <token>._domainkey.<domain> -> <token>.dkim.amazonses.com."""
    return [{"type": "CNAME", "name": f"{token}._domainkey.{domain}", "value": f"{token}.{DKIM_HOST}"}
            for token in tokens]


def fresh(status: str, checked_at: datetime | None, now: datetime) -> bool:
    """Whether a status read at checked_at may still be believed now."""
    return checked_at is not None and now - checked_at < FRESH.get(status, timedelta(0))


def waiting_reason(status: str) -> str:
    """Why a notice waits for a sender in this status: sender_pending, sender_failed, sender_unregistered."""
    return WAITING_PREFIX + status
