"""What every use case module shares: limits, answers, identifier checks, small named helpers."""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from chalicelib.domain import zones
from chalicelib.domain.errors import BadRequest, NotFound, UnknownTenant
from chalicelib.domain.events import HubEvent

MAX_BODY_BYTES = 1024 * 1024
NURTURE_PAGE = 100               # people read per index page when walking a segment
NURTURE_PREVIEW_BUDGET = 20_000  # index entries a segment's count preview reads at most
NURTURE_ENROL_BUDGET = 2_000     # index entries saving a campaign enrols at most (the daily job does the rest)
# issue 18, the admin API's lists: what one list request reads at most
LIST_COUNT_BUDGET = 100          # index entries counted per segment in a list (more: null, GET the segment)
LIST_COUNT_PAGE_BUDGET = 500     # ... and over the whole page of segments
MEMBERS_READ_BUDGET = 500        # index entries a page of a segment's members reads at most
MEMBERS_QUERIES = 20             # index queries a page of members makes at most
MAX_QUEUE_DELAY_S = 900  # SQS DelaySeconds
RUN_LEASE_S = 600         # an agency batch run holds its agency at most this long (a dead run's lease lapses)
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_PERSON_ID = re.compile(r"p_[0-9a-f]{24}")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


@dataclass(frozen=True)
class WebhookReceipt:
    accepted: int    # hub events (or notices to complete) in the delivery, new or already known
    ignored: int     # deliveries the hub does not use (pings, other event types)
    duplicates: int  # accepted items the hub already had
    # each fact with its person's id (None: known before): the writeback's links (services/writeback.py)
    facts: tuple[tuple[HubEvent, str | None], ...] = field(default=(), compare=False, repr=False)
    logged: bool = field(default=False, compare=False)  # the delivery's log entry went in with a new fact

    def to_json(self) -> dict[str, int]:
        return {"accepted": self.accepted, "ignored": self.ignored, "duplicates": self.duplicates}


@dataclass(frozen=True)
class PollReport:
    source: str
    pages: int = 0
    events: int = 0
    new: int = 0
    stopped: str = "done"  # done | rate_limited | budget | busy | not_connected | partner_failed
    detail: str | None = field(default=None, compare=False)  # why a partner call failed: for the logs only
    failing: bool = field(default=False, compare=False)  # the vendor refused the credentials (metric SourceFailing)

    def to_json(self) -> dict[str, str | int]:
        return {"source": self.source, "pages": self.pages, "events": self.events, "new": self.new,
                "stopped": self.stopped}


def check_person_id(person_id: str) -> str:
    if not isinstance(person_id, str) or not _PERSON_ID.fullmatch(person_id):
        raise NotFound("no such person")
    return person_id


def check_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise UnknownTenant("unknown tenant")
    return tenant


def same_secret(given: str, expected: str) -> bool:
    """Compare a secret a request carried with the stored one in constant time."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def locale_from(accept_language: str | None, default: str) -> str:
    """The first of ja/en the browser asks for (quality order), else the tenant's default."""
    ranked = []
    for index, part in enumerate((accept_language or "").split(",")):
        lang, _, q = part.strip().partition(";q=")
        try:
            quality = float(q) if q else 1.0
        except ValueError:
            quality = 0.0
        ranked.append((-quality, index, lang.strip().lower()[:2]))
    for _, _, lang in sorted(ranked):
        if lang in ("ja", "en"):
            return lang
    return default


def period(first: str | None, last: str | None, now: datetime, zone: str = "UTC") -> tuple[date, date]:
    """The days from first to last (default: the 30 days up to today), checked: the tenant's local
    days (zone, an IANA name), today being the local date of now."""
    try:
        last_day = date.fromisoformat(last) if last else zones.local_date(now, zone)
        first_day = date.fromisoformat(first) if first else last_day - timedelta(days=29)
    except (TypeError, ValueError):
        raise BadRequest("from and to must be dates (YYYY-MM-DD)") from None
    if first_day > last_day:
        raise BadRequest("from must not be after to")
    if (last_day - first_day).days > 366:
        raise BadRequest("the period is at most 367 days")
    return first_day, last_day
