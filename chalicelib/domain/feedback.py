"""What SES tells us after sending: hard bounces and complaints put the address on the tenant's
suppression list, so it is never mailed again (soft bounces are retried by SES itself).

The notification format: SES "Notification contents for Amazon SES" (notificationType or
eventType Bounce / Complaint, bounce.bounceType Permanent, mail.tags)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.people import normalise_email


@dataclass(frozen=True)
class Suppression:
    tenant: str
    email: str
    reason: str  # bounced | complained


def read(notification: JsonObject) -> list[Suppression]:
    """The suppressions one SES notification asks for; [] for deliveries, soft bounces, foreign mail."""
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail") or {}
    tags = mail.get("tags") or {}
    tenant = (tags.get("tenant") or [None])[0] if isinstance(tags, dict) else None
    if not tenant:
        return []
    if kind == "Bounce" and (notification.get("bounce") or {}).get("bounceType") == "Permanent":
        recipients, reason = (notification["bounce"].get("bouncedRecipients") or []), "bounced"
    elif kind == "Complaint":
        recipients, reason = ((notification.get("complaint") or {}).get("complainedRecipients") or []), "complained"
    else:
        return []
    found = []
    for recipient in recipients:
        email = normalise_email((recipient or {}).get("emailAddress"))
        if email:
            found.append(Suppression(tenant, email, reason))
    return found
