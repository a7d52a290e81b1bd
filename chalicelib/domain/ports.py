"""The seams between use cases and the outside: each a Protocol, each with a real and a fake side."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Protocol, Sequence

from chalicelib.domain.events import HubEvent
from chalicelib.domain.people import Person


class SourceAdapter(Protocol):
    """One inbound system (ATS, HR system, unified API); satisfied by a module in integrations/sources."""

    NAME: str

    def verify(self, headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
        """Raise SignatureError unless one of the secrets signed this delivery (headers lower-cased)."""

    def parse(self, headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[HubEvent]:
        """Translate one delivery into hub events; [] for event types the hub does not use."""

    def sign(self, raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
        """Headers a genuine delivery of raw_body would carry (tests and local replay)."""


@dataclass(frozen=True)
class SourceCredentials:
    """A tenant's connection to one source. Never logged: repr hides the values."""

    webhook_secrets: tuple[str, ...] = field(repr=False)  # current first, then the previous during rotation
    api_key: str | None = field(default=None, repr=False)


class Credentials(Protocol):
    def source(self, tenant: str, source: str, *, fresh: bool = False) -> SourceCredentials:
        """The tenant's credentials for source; raises UnknownTenant when not connected."""

    def store_source(self, tenant: str, source: str, webhook_secret: str, api_key: str | None) -> None:
        """Store (or rotate) the credentials; the replaced webhook secret stays valid for a while."""


@dataclass(frozen=True)
class Profile:
    """A person with their timeline, oldest fact first."""

    person: Person
    timeline: list[dict]


class Relations(Protocol):
    """The relations database."""

    def record_once(self, event: HubEvent, *, delivery_id: str) -> bool:
        """Apply and store the fact in one transaction; False when the delivery or fact is known."""

    def profile(self, tenant: str, person_id: str) -> Profile | None: ...

    def find_by_email(self, tenant: str, email: str) -> list[Profile]: ...

    def add_source(self, tenant: str, source: str) -> None:
        """Record that the tenant (created when new) takes deliveries from source."""
