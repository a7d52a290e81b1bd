"""How a rejected candidate gets their Career Relay link, per tenant and source (issue 19).

`delivery` on PUT /admin/tenants/{t}/sources/{s}:
  - hub_notice (the default): the hub mails its own rejection notice with the link.
  - ats_field: the hub writes the candidate's link into a field of the ATS (or, for `standard`,
    answers it on the webhook) and the ATS's own rejection mail shows it; the hub mails nothing.
  - invitation: the ATS mails the rejection; the hub invites later (invitation_delay_days).
Pure rules: parsing, validation, and the link windows of the ats_field channel."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.domain.errors import BadRequest

HUB_NOTICE, ATS_FIELD, INVITATION = "hub_notice", "ats_field", "invitation"
MODES = (HUB_NOTICE, ATS_FIELD, INVITATION)
# the channel every issued link records (Tokens.issue(channel=...)); the KPI funnel splits by it
CHANNELS = (HUB_NOTICE, ATS_FIELD, INVITATION, "standard_answer")
MAX_INVITATION_DELAY_DAYS = 365
_FIELDS = ("mode", "field", "on_behalf_of", "invitation_delay_days")

# An ATS-field link is issued per application and window: every WINDOW it is issued again (and
# written again, its digest being new), and it lives until LINK_GRACE after its window ends, so a
# link in an ATS field has always at least LINK_GRACE left when the ATS mails it.
WINDOW = timedelta(days=30)
LINK_GRACE = timedelta(days=30)
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Delivery:
    mode: str = HUB_NOTICE
    field: str | None = None          # the ATS field's key (Greenhouse: the custom field's name_key)
    on_behalf_of: str | None = None   # the ATS user the write is made as (Greenhouse's On-Behalf-Of)
    invitation_delay_days: int = 0

    def to_json(self) -> dict[str, object]:
        return {"mode": self.mode, "field": self.field, "on_behalf_of": self.on_behalf_of,
                "invitation_delay_days": self.invitation_delay_days}


DEFAULT = Delivery()


def sends_hub_notice(mode: str) -> bool:
    """Whether the hub mails anything itself on a rejection from a source in this mode: its notice
    (hub_notice) or, days later, its invitation (invitation; services/routing.py decides when and
    which). Only ats_field leaves the mail to the ATS, with the link in its field."""
    return mode != ATS_FIELD


def parse(data: object, *, source: str, writable: bool, requires: tuple[str, ...] = ()) -> Delivery:
    """The delivery an admin asked for, checked. writable: the source can carry the link (a field
    the hub writes, or the webhook's answer); requires: the settings its ats_field needs."""
    if not isinstance(data, dict):
        raise BadRequest("delivery must be an object")
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise BadRequest(f"delivery: unknown fields: {', '.join(sorted(unknown))}")
    mode = data.get("mode", HUB_NOTICE)
    if mode not in MODES:
        raise BadRequest(f"delivery.mode must be one of {', '.join(MODES)}")
    texts: dict[str, str | None] = {}
    for name in ("field", "on_behalf_of"):
        value = data.get(name)
        if value is not None and (not isinstance(value, str | int) or isinstance(value, bool)
                                  or not 1 <= len(str(value)) <= 200 or any(ord(c) < 32 for c in str(value))):
            raise BadRequest(f"delivery.{name} must be a string of 1 to 200 characters")
        texts[name] = None if value is None else str(value)
    days = data.get("invitation_delay_days", 0)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_INVITATION_DELAY_DAYS:
        raise BadRequest(f"delivery.invitation_delay_days must be a whole number from 0 to {MAX_INVITATION_DELAY_DAYS}")
    if mode == ATS_FIELD:
        if not writable:
            raise BadRequest(f"delivery.mode ats_field is not available for {source}: the hub cannot write a field there")
        missing = [name for name in requires if not texts.get(name)]
        if missing:
            raise BadRequest(f"delivery.mode ats_field for {source} needs {' and '.join('delivery.' + m for m in missing)}")
    return Delivery(mode=mode, field=texts["field"], on_behalf_of=texts["on_behalf_of"], invitation_delay_days=days)


def read(stored: object) -> Delivery:
    """A stored delivery (as to_json wrote it); the default when none is stored."""
    if not isinstance(stored, dict):
        return DEFAULT
    days = stored.get("invitation_delay_days")
    return Delivery(mode=str(stored.get("mode") or HUB_NOTICE),
                    field=stored.get("field") if isinstance(stored.get("field"), str) else None,
                    on_behalf_of=stored.get("on_behalf_of") if isinstance(stored.get("on_behalf_of"), str) else None,
                    invitation_delay_days=days if isinstance(days, int) else 0)


def window(now: datetime) -> int:
    """The link window now falls in."""
    return int((now - _EPOCH) / WINDOW)


def link_valid_until(window_index: int) -> datetime:
    """Until when a link issued in a window lives: LINK_GRACE after the window ends."""
    return _EPOCH + WINDOW * (window_index + 1) + LINK_GRACE


def digest(link: str) -> str:
    """A link's short digest: the once-key of its write names the link without holding it."""
    return hashlib.sha256(link.encode()).hexdigest()[:32]


def new_link_token(tenant: str) -> str:
    """A mail's fresh link token "<tenant>.<secret>": 144 random bits; the store keeps only its hash."""
    return f"{tenant}.{secrets.token_urlsafe(18)}"


def link_token(key: bytes, tenant: str, source: str, application_id: str, window_index: int, person_id: str) -> str:
    """An application's link token of a window, "<tenant>.<MAC>": HMAC-SHA256 (base64url) of what
    the link is for, under the platform's link key. The same inputs give the same token (a replay
    answers the same link) and nothing needs remembering: the table keeps only the token's hash."""
    message = "\x1f".join(("app-link", tenant, source, application_id, str(window_index), person_id))
    mac = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return f"{tenant}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
