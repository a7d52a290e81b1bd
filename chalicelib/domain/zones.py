"""A tenant's time zone and its local days: what KPI days, segment windows, nurture cadences and the
dates printed in mails and pages follow (docs/kpis.md, docs/admin-api.md).

The hub stores moments in UTC (events.iso); a *local day* is the calendar date a moment falls on in
the tenant's zone, and a *local midnight* the UTC moment a local day begins."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.errors import BadRequest

JAPAN = "Asia/Tokyo"
DEFAULT_BY_LOCALE = {"ja": JAPAN}  # any other locale: UTC


def default_zone(locale: str) -> str:
    """The zone of a tenant that names none: Asia/Tokyo for ja, else UTC."""
    return DEFAULT_BY_LOCALE.get(locale, "UTC")


@cache
def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def zone(name: str) -> tzinfo:
    """The zone of a checked IANA name (see check_zone)."""
    return _zone(name)


def check_zone(value: object, what: str = "time_zone") -> str:
    """An IANA time zone name (Asia/Tokyo, UTC, Europe/Berlin); BadRequest otherwise."""
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or not all(c.isalnum() or c in "/_+-" for c in value):
        raise BadRequest(f"{what} must be an IANA time zone name such as Asia/Tokyo or UTC")
    if value.startswith("/") or ".." in value:
        raise BadRequest(f"{what} must be an IANA time zone name such as Asia/Tokyo or UTC")
    try:
        _zone(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRequest(f"{what}: unknown time zone '{value}' (an IANA name such as Asia/Tokyo or UTC)") from None
    return value


def _moment(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_date(moment: datetime | str, name: str) -> date:
    """The tenant's calendar date of a moment (an aware datetime, or an ISO text; naive means UTC)."""
    return _moment(moment).astimezone(zone(name)).date()


def local_day(moment: datetime | str, name: str) -> str:
    """local_date as YYYY-MM-DD. A plain YYYY-MM-DD is a day already, and is returned as it is."""
    if isinstance(moment, str) and len(moment) == 10:
        return moment
    return local_date(moment, name).isoformat()


def midnight(day: date, name: str) -> datetime:
    """The UTC moment the tenant's local day begins."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(name)).astimezone(UTC)


def days_later(moment: datetime, days: int, name: str) -> datetime:
    """The same local wall-clock time `days` local days later (a local day may be 23 or 25 hours long)."""
    local = moment.astimezone(zone(name))
    return datetime.combine(local.date() + timedelta(days=days), local.time().replace(tzinfo=None),
                            zone(name)).astimezone(UTC)
