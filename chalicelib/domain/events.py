"""Facts the hub hears from ATS and HR systems, in our words, never a vendor's.

Every source adapter turns a vendor delivery into these events. They carry the tenant, who the
fact is about (as the source knows them), what happened, and when it happened (`occurred_at`):
the hub applies facts in `occurred_at` order, so duplicates and reordering converge.
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import ClassVar, Required, TypedDict

from chalicelib.domain.errors import PayloadError
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.names import NameParts


def storable(value: object, what: str, *, one_line: bool = True) -> None:
    """PayloadError for text storage cannot hold (a lone surrogate: not UTF-8, DynamoDB refuses the
    item) or, in a name, an address or an id (one_line), a control character or a line break. Every
    fact a source builds passes here (PersonRef, HubEvent, Lookup), so every source refuses them at
    parse time with a 400, never a 5xx. The message names the field, never the value."""
    if value is None or not isinstance(value, str):
        return
    bad = ("Cs", "Cc", "Zl", "Zp") if one_line else ("Cs",)
    if any(unicodedata.category(c) in bad for c in value):
        rule = "control characters or line breaks" if one_line else "text that is not Unicode (a lone surrogate)"
        raise PayloadError(f"{what} holds {rule}")


NAME_FIELDS = ("family_name", "given_name", "family_kana", "given_kana")


@dataclass(frozen=True)
class PersonRef:
    """Who a fact is about, as one source knows them. Contact fields are personal data.

    A source gives the name in parts where it has them (family_name, given_name and their readings,
    docs/names.md); unless the vendor also gives the name as the person wants it shown (a display
    name, passed as `name`), `name` is the whole name in its reading order, built here. A source that
    has only a full name gives `name` alone."""

    source: str
    vendor_person_id: str
    name: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    locale: str | None = None
    family_name: str | None = field(default=None, repr=False)
    given_name: str | None = field(default=None, repr=False)
    family_kana: str | None = field(default=None, repr=False)
    given_kana: str | None = field(default=None, repr=False)
    # The region (ISO 3166 alpha-2) a phone without a country code is read in: the tenant's
    # phone_region, stamped by the intake service; a source that knows the person's country may set it.
    phone_region: str | None = None

    def __post_init__(self) -> None:
        for what in ("source", "vendor_person_id", "name", "email", "phone", "locale", "phone_region", *NAME_FIELDS):
            storable(getattr(self, what), f"the person's {what}")
        parts = self.name_parts
        for what, value in zip(NAME_FIELDS, (parts.family, parts.given, parts.family_kana, parts.given_kana), strict=True):
            object.__setattr__(self, what, value)
        if not self.name and parts.display:
            object.__setattr__(self, "name", parts.display)

    @property
    def name_parts(self) -> NameParts:
        return NameParts(self.family_name, self.given_name, self.family_kana, self.given_kana)


@dataclass(frozen=True, kw_only=True)
class HubEvent:
    """One business fact about one person in one application or employment."""

    KIND: ClassVar[str] = ""

    tenant: str
    person: PersonRef
    occurred_at: datetime
    application_id: str = ""       # the application (ATS) or employment (HR system) the fact is about
    delivery_id: str | None = None  # the vendor's id for the delivery, when it sends one
    job_id: str | None = None
    job_title: str | None = None
    stage: str | None = None        # where in the process it happened (rejection stage)
    reason: str | None = None       # the vendor's reason label (rejection or exit reason)
    tags: tuple[str, ...] = ()      # labels the source attaches to the person
    origin: str | None = None       # where an imported fact came from (the CSV's source column)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise PayloadError("occurred_at must carry a time zone")
        if not self.person.vendor_person_id:
            raise PayloadError("the event names no person id")
        for what in ("tenant", "application_id", "delivery_id", "job_id", "origin"):
            storable(getattr(self, what), f"the event's {what}")
        for what in ("job_title", "stage", "reason"):
            storable(getattr(self, what), f"the event's {what}", one_line=False)
        for tag in self.tags:
            storable(tag, "a tag", one_line=False)

    @property
    def source(self) -> str:
        return self.person.source

    def fact_key(self) -> str:
        """The business key: the same fact from any delivery gives the same key."""
        parts = (self.tenant, self.source, self.person.vendor_person_id, self.application_id,
                 self.KIND, iso(self.occurred_at))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class EventFields(TypedDict, total=False):
    """What one vendor record says of an application, whatever happened to it: the keyword arguments
    an adapter shares among the HubEvent kinds it may build from that record."""

    tenant: Required[str]
    person: Required[PersonRef]
    delivery_id: str | None
    application_id: str
    job_id: str | None
    job_title: str | None
    stage: str | None


@dataclass(frozen=True, kw_only=True)
class ApplicationEvent(HubEvent):
    """A person applied (or was added as a prospect) to a job."""

    KIND: ClassVar[str] = "applied"


@dataclass(frozen=True, kw_only=True)
class RejectionEvent(HubEvent):
    """An application ended without a hire: rejected by the company, or declined by the person."""

    KIND: ClassVar[str] = "rejected"
    by_candidate: bool = False      # the person withdrew or declined the offer


@dataclass(frozen=True, kw_only=True)
class RejectionRevertedEvent(HubEvent):
    """A rejection was undone (Greenhouse unreject, requalify): the application is live again."""

    KIND: ClassVar[str] = "rejection_reverted"


@dataclass(frozen=True, kw_only=True)
class HireEvent(HubEvent):
    """An application ended in a hire; the person becomes an employee."""

    KIND: ClassVar[str] = "hired"


@dataclass(frozen=True, kw_only=True)
class ExitEvent(HubEvent):
    """An employee left. `occurred_at` is the effective (last working) date, not the notice date."""

    KIND: ClassVar[str] = "exited"


@dataclass(frozen=True)
class Lookup:
    """A thin notice: the source named what changed but not enough to act on. The hub completes it
    from the vendor's API off the request path (adapter.fetch), then records the resulting events.

    Carries ids only, never contact data (it travels through a queue)."""

    tenant: str
    source: str
    resource: str                       # what to fetch, in the vendor's words: "application", "employee", ...
    resource_id: str
    delivery_id: str | None = None
    hint: str | None = None             # the hub event kind the notice suggests ("rejected", "exited"), if any
    occurred_at: datetime | None = None  # when the vendor says it happened, if it says
    extra: tuple[tuple[str, str], ...] = ()  # small non-personal values fetch needs (a link, an account id)

    def __post_init__(self) -> None:
        if not self.resource_id:
            raise PayloadError(f"the notice names no {self.resource} id")
        for what in ("tenant", "source", "resource", "resource_id", "delivery_id", "hint"):
            storable(getattr(self, what), f"the notice's {what}")
        for key, value in self.extra:
            storable(key, "the notice's extra")
            storable(value, "the notice's extra", one_line=False)
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise PayloadError("occurred_at must carry a time zone")

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict(self.extra).get(key, default)

    def to_json(self) -> JsonObject:
        return {"tenant": self.tenant, "source": self.source, "resource": self.resource, "resource_id": self.resource_id,
                "delivery_id": self.delivery_id, "hint": self.hint,
                "occurred_at": iso(self.occurred_at) if self.occurred_at else None, "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, data: JsonObject) -> Lookup:
        return cls(tenant=data["tenant"], source=data["source"], resource=data["resource"], resource_id=data["resource_id"],
                   delivery_id=data.get("delivery_id"), hint=data.get("hint"),
                   occurred_at=utc(data["occurred_at"]) if data.get("occurred_at") else None,
                   extra=tuple(sorted((data.get("extra") or {}).items())))


Notice = HubEvent | Lookup  # what a source adapter's parse() returns items of


@dataclass(frozen=True, kw_only=True)
class ReferrerEvent(HubEvent):
    """The person refers candidates to the company (from the relationship inventory import)."""

    KIND: ClassVar[str] = "referrer_added"


def utc(value: object, *, what: str = "timestamp") -> datetime:
    """Read an ISO 8601 date or date-time (or epoch seconds) as an aware UTC datetime.

    Raises:
        PayloadError: the value is not a date or date-time.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise PayloadError(f"{what} is out of range") from error
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as error:
            raise PayloadError(f"{what} is not an ISO 8601 date-time") from error
    else:
        raise PayloadError(f"{what} is missing")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # vendors that omit the zone mean UTC
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise PayloadError(f"{what} is out of range") from error
    if not 1970 <= moment.year <= 2200:
        raise PayloadError(f"{what} is out of range")
    return moment


def iso(moment: datetime) -> str:
    """The one textual form of a moment the hub stores and sorts by (UTC, microseconds, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
