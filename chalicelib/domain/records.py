"""The values that cross the ports: what stores and vendors hand to the use cases and back.

Plain frozen dataclasses of the domain's words. Storage keys never appear here: where a store
needs to find a record again it derives the key from these fields itself."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from chalicelib.domain.events import HubEvent
from chalicelib.domain.person import Person

JsonDict = dict[str, Any]  # a JSON object as stored or answered (settings, templates, timeline entries)

# The kinds of tenant documents (settings, templates, agencies, ...) the configuration store keeps.
DocumentKind = Literal["settings", "template", "agency", "segment", "campaign", "consent_text", "source_status",
                       "source_delivery", "writeback_state", "routing",
                       "template_version"]  # e20-content: the last versions of a template (Configuration.TEMPLATE_VERSIONS_KEPT)


@dataclass(frozen=True)
class Document:
    """A tenant's configuration document and its version (optimistic lock)."""

    data: JsonDict
    version: int


# -- sources -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PollPage:
    """One page of a polled source: its events, where the next page starts, and whether to go on."""

    events: Sequence[HubEvent]
    cursor: str | None          # stored once this page's events are recorded; the next poll starts there
    more: bool = False          # another page can be fetched now
    wait_s: float | None = None  # the vendor asked for a pause (rate limit): stop until the next run


@dataclass(frozen=True)
class SourceCredentials:
    """A tenant's connection to one source. Never logged: repr hides the values."""

    webhook_secrets: tuple[str, ...] = field(repr=False)  # current first, then the previous during rotation
    api_key: str | None = field(default=None, repr=False)
    api_base_url: str | None = None  # the vendor API's address when not its default (region, sandbox)
    account_token: str | None = field(default=None, repr=False)  # a unified API's linked account (merge)
    oauth: OAuthTokens | None = None  # OAuth client and tokens, where the vendor's API wants them


@dataclass(frozen=True)
class OAuthTokens:
    """An OAuth client's credentials and its current tokens. Never logged: repr hides the values.

    `expires_at` is when the access token stops working (None: unknown, so refresh before use);
    `token_url` overrides the vendor's token endpoint (platform operator only)."""

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: str | None = None
    token_url: str | None = None

    def to_json(self) -> JsonDict:
        return {k: v for k, v in {"client_id": self.client_id, "client_secret": self.client_secret,
                                  "refresh_token": self.refresh_token, "access_token": self.access_token,
                                  "expires_at": self.expires_at, "token_url": self.token_url}.items() if v is not None}

    @classmethod
    def from_json(cls, data: object) -> OAuthTokens | None:
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("client_id", "client_secret")):
            return None
        return cls(**{k: v for k, v in data.items() if k in _OAUTH_FIELDS and isinstance(v, str)})


_OAUTH_FIELDS = ("client_id", "client_secret", "refresh_token", "access_token", "expires_at", "token_url")


@dataclass(frozen=True)
class PollState:
    cursor: str | None
    version: int | None  # optimistic lock: two runs never both advance one cursor


# -- people and notices ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """A person with their timeline, oldest fact first."""

    person: Person
    timeline: list[JsonDict]


@dataclass(frozen=True)
class NoticeRef:
    """A notice waiting to go out: whose it is, its id in their record, and when it is due."""

    tenant: str
    person_id: str
    notice: str
    due_at: datetime

    def to_json(self) -> dict[str, str]:
        return {"tenant": self.tenant, "person_id": self.person_id, "notice": self.notice}


@dataclass(frozen=True)
class NoticeView:
    """A stored notice and the person it is for."""

    kind: str
    status: str
    track: str
    fact_at: str
    source: str
    job_title: str | None
    person: Person
    waiting: str | None = None  # why a pending notice waits (sender_pending, ...); None when it is due
    mailed: MailedNotice | None = None  # mailed under a claim but not yet recorded: record it, never mail again


@dataclass(frozen=True)
class TokenInfo:
    tenant: str
    person_id: str
    purpose: str          # relay | unsubscribe
    valid_until: str
    csrf: str = field(repr=False)
    notice: str | None = None
    opened_at: str | None = None
    channel: str = "hub_notice"  # how the link reached the person (delivery.CHANNELS)


@dataclass(frozen=True)
class AdminToken:
    """A tenant-scoped admin token as stored: never its secret nor the secret's digest."""

    tenant: str
    id: str
    created_at: str
    created_by: str
    valid_until: str | None    # None: issued before tokens had an expiry (Access reads created_at + 90 days)
    last_used_at: str | None = None


@dataclass(frozen=True)
class PrincipalGrant:
    """An IAM principal (canonical ARN, domain/principals.py) allowed to act for one tenant in AWS."""

    tenant: str
    id: str
    principal: str
    granted_at: str
    granted_by: str


@dataclass(frozen=True)
class Recorded:
    """A fact newly stored: whose it is, and the notice it planned, if any."""

    person_id: str
    notice: NoticeRef | None = None


@dataclass(frozen=True)
class Merged:
    """Two records of one person made one: the survivor, the id merged into it, and when (the same
    answer however often the merge is asked again)."""

    person_id: str
    merged: str
    merged_at: str


@dataclass(frozen=True)
class Held:
    """Everything held in one person's record (a disclosure request), as plain documents."""

    person: Person
    timeline: list[JsonDict]
    notices: list[JsonDict]
    referrals: list[JsonDict]
    links: list[JsonDict]


@dataclass(frozen=True)
class SentMail:
    """What a mail step records once the mail went: which message, when, with which template."""

    sent_at: str
    message_id: str
    template_version: int
    locale: str


@dataclass(frozen=True)
class MailedNotice:
    """A notice's mail that went out but whose record (Notices.sent) failed: what the retry records."""

    kind: str
    mail: SentMail
    entry: JsonDict


@dataclass(frozen=True)
class LinkGrant:
    """A link token the caller made ("<tenant>.<secret>", delivery.new_link_token) and what it binds;
    the store keeps only its hash."""

    token: str = field(repr=False)
    purpose: str          # relay | unsubscribe
    valid_until: datetime
    notice: str | None = None
    channel: str = "hub_notice"


# -- senders -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SenderIdentity:
    """What the mail service says of a sender domain: its status and the DKIM tokens to publish."""

    domain: str
    status: str                        # pending | verified | failed (domain/senders.py)
    dkim_tokens: tuple[str, ...] = ()


@dataclass(frozen=True)
class SenderClaim:
    """A sender domain held by one tenant (no other may register it), with the status last read."""

    domain: str
    tenant: str
    claimed_at: str
    status: str = "pending"
    dkim_tokens: tuple[str, ...] = ()
    checked_at: str | None = None      # when the status was read from the mail service


# -- Career Relay referrals --------------------------------------------------------------------------

@dataclass(frozen=True)
class Referral:
    """A consented person for one agency: queued -> sending -> accepted | declined | failed
    (withdrawn when consent is withdrawn first; reconsent_needed, held, when consent was given to
    another version of the agency than the one a run sends under)."""

    tenant: str
    person_id: str
    agency: str
    referral_id: str
    status: str
    consent_at: str
    consent_version: str          # the agency's consent version consented to (older referrals: the page's text version)
    batch_id: str | None = None
    provision: str | None = None  # the store's reference to its provision record (opaque here)
    text_version: str | None = None  # the version of the page text the person saw (evidence)


@dataclass
class Batch:
    """One batch to one agency: the people in it and the Idempotency-Key every retry reuses."""

    tenant: str
    agency: str
    batch_id: str
    idempotency_key: str
    status: str = "sending"  # sending | done | parked | empty
    members: list[str] = field(default_factory=list)  # person ids
    attempts: int = 0


@dataclass(frozen=True)
class AgencyState:
    """An agency's circuit: failed batches in a row, and until when it is paused."""

    consecutive_failures: int = 0
    paused_until: str | None = None


@dataclass(frozen=True)
class Answer:
    """An agency's answer for one referral of a batch."""

    referral: Referral
    status: str                  # accepted | declined | duplicate
    agency_ref: str | None = None


@dataclass(frozen=True)
class ReferralResult:
    """One referral's result as an agency client reads it from the agency's answer."""

    referral_id: str
    status: str
    agency_ref: str | None = None


# -- nurture -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DueMail:
    """A nurture schedule due for its mail."""

    person_id: str
    campaign: str
    due: str
