"""The seams between use cases and the outside: each a Protocol, each with a real and a fake side."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Protocol, Sequence

from chalicelib.domain.events import HubEvent, Notice
from chalicelib.domain.person import Person


class SourceAdapter(Protocol):
    """One inbound system that pushes webhooks; satisfied by a module in integrations/sources.

    Modules whose notices are thin also define API_BASE_URL, auth_headers(api_key) and
    fetch(lookup, api) -> Sequence[HubEvent], called off the request path."""

    NAME: str

    def verify(self, headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
        """Raise SignatureError unless one of the secrets signed this delivery (headers lower-cased)."""

    def parse(self, headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
        """Translate one delivery into hub events or Lookups; [] for event types the hub does not use."""

    def sign(self, raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
        """Headers a genuine delivery of raw_body would carry (tests and local replay)."""


@dataclass(frozen=True)
class PollPage:
    """One page of a polled source: its events, where the next page starts, and whether to go on."""

    events: Sequence[HubEvent]
    cursor: str | None          # stored once this page's events are recorded; the next poll starts there
    more: bool = False          # another page can be fetched now
    wait_s: float | None = None  # the vendor asked for a pause (rate limit): stop until the next run


class PolledSource(Protocol):
    """A system without webhooks, polled on a schedule with a stored cursor (integrations/sources)."""

    NAME: str
    API_BASE_URL: str

    def auth_headers(self, api_key: str) -> dict[str, str]: ...

    def poll(self, api: Any, cursor: str | None, *, tenant: str, now: datetime) -> PollPage:
        """Fetch the page after cursor (None: the first run) and translate it into hub events."""


@dataclass(frozen=True)
class SourceCredentials:
    """A tenant's connection to one source. Never logged: repr hides the values."""

    webhook_secrets: tuple[str, ...] = field(repr=False)  # current first, then the previous during rotation
    api_key: str | None = field(default=None, repr=False)
    api_base_url: str | None = None  # the vendor API's address when not its default (region, sandbox)


class Credentials(Protocol):
    def source(self, tenant: str, source: str, *, fresh: bool = False) -> SourceCredentials:
        """The tenant's credentials for source; raises UnknownTenant when not connected."""

    def store_source(self, tenant: str, source: str, webhook_secret: str | None, api_key: str | None,
                     api_base_url: str | None = None) -> None:
        """Store (or rotate) the credentials; the replaced webhook secret stays valid for a while."""


class Queues(Protocol):
    def send(self, queue: str, body: dict, delay_s: int = 0) -> None:
        """Put a message on a named queue (resources.QUEUES); RetryableError when it cannot."""


@dataclass(frozen=True)
class PollState:
    cursor: str | None
    version: int | None  # optimistic lock: two runs never both advance one cursor


@dataclass(frozen=True)
class Profile:
    """A person with their timeline, oldest fact first."""

    person: Person
    timeline: list[dict]


@dataclass(frozen=True)
class NoticeRef:
    """A notice waiting to go out: where it is stored and when it is due."""

    tenant: str
    person_id: str
    notice: str
    due_at: datetime

    def to_json(self) -> dict:
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


@dataclass(frozen=True)
class TokenInfo:
    tenant: str
    person_id: str
    purpose: str          # relay | unsubscribe
    valid_until: str
    csrf: str = field(repr=False)
    notice: str | None = None
    opened_at: str | None = None


@dataclass(frozen=True)
class Recorded:
    """A fact newly stored: whose it is, and the notice it planned, if any."""

    person_id: str
    notice: NoticeRef | None = None


class Relations(Protocol):
    """The relations database."""

    def record_once(self, event: HubEvent, *, delivery_id: str) -> Recorded | None:
        """Apply and store the fact (and plan its notice) in one transaction; None when known."""

    def profile(self, tenant: str, person_id: str) -> Profile | None: ...

    def find_by_email(self, tenant: str, email: str) -> list[Profile]: ...

    def add_source(self, tenant: str, source: str) -> None:
        """Record that the tenant (created when new) takes deliveries from source."""

    def sources(self, tenant: str) -> list[str]: ...

    def tenants(self) -> list[str]: ...

    def mark_delivery(self, tenant: str, source: str, delivery_id: str) -> bool:
        """Remember a delivery id for the dedupe window; False when it was already remembered."""

    def unmark_delivery(self, tenant: str, source: str, delivery_id: str) -> None: ...

    def poll_state(self, tenant: str, source: str) -> PollState: ...

    def due_notices(self, before: datetime) -> list[NoticeRef]:
        """Pending notices due before the moment, oldest first (a sparse index: only pending ones)."""

    def save_poll_state(self, tenant: str, source: str, cursor: str | None, version: int | None) -> int | None:
        """Store the cursor if nobody else advanced it; the new version, or None on a lost race."""
