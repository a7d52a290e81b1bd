"""Calling vendor APIs: one session shape, explicit timeouts, and one table from HTTP outcomes to
the hub's errors. Messages name the vendor and the status, never a response body (personal data).

Every call goes through the egress policy (integrations/egress.py): https only, public addresses
only, connected to the address that was checked. Redirects are never followed (a 3xx is an error),
so the vendor's auth headers never reach a host other than the one configured, and a path that is
a whole URL must stay on the configured origin."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from chalicelib.domain.errors import CredentialsRefused, EgressRefused, PayloadError, PermanentError, RetryableError
from integrations.egress import EgressPolicy, pin

TIMEOUT = (3.05, 10)  # connect, read (seconds)
# The longest Retry-After taken as said: it sets a pause (an agency's paused_until), never a sleep
# (callers sleep at most a few seconds: agencies.MAX_WAIT_S); beyond it a pause is capped at a week.
MAX_RETRY_AFTER_S = 7 * 24 * 3600.0
MAX_RESET_WAIT_S = 3600.0  # a rate-limit reset header further out than this is read as an hour


def new_session(headers: Mapping[str, str] | None = None, *, egress: EgressPolicy | None = None) -> requests.Session:
    """A session whose every request goes through the egress policy (by default the strict one:
    public https hosts only)."""
    session = pin(requests.Session(), egress if egress is not None else EgressPolicy())
    session.headers.update({"User-Agent": "relations-hub/1", "Accept": "application/json", **(headers or {})})
    return session


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def raise_for_status(response: requests.Response, *, vendor: str) -> None:
    """429 and 5xx: RetryableError (with Retry-After); 3xx (never followed) and other 4xx:
    PermanentError; 2xx: return."""
    status = response.status_code
    if 300 <= status < 400:
        raise PermanentError(f"{vendor} answered {status}, a redirect; the hub follows none")
    if status == 429 or status >= 500:
        raise RetryableError(f"{vendor} answered {status}", retry_after_s=retry_after_seconds(response.headers.get("Retry-After")))
    if status in (401, 403):
        raise CredentialsRefused(f"{vendor} refused the credentials ({status})")
    if status >= 400:
        raise PermanentError(f"{vendor} answered {status}", http_status=status)


@dataclass
class VendorApi:
    """A vendor's API for one tenant: base URL, auth headers, a session, and the error table.

    Built by the hub from the tenant's connection; vendor modules only call get/post. The session
    (given or new) is pinned to `egress`: the strict policy unless the caller passes another."""

    vendor: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    session: requests.Session = field(default_factory=new_session)
    timeout: tuple[float, float] = TIMEOUT
    last_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    egress: EgressPolicy = field(default_factory=EgressPolicy, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        pin(self.session, self.egress)
        self.session.headers.update(self.headers)

    def url(self, path: str) -> str:
        """The URL of a path; a whole URL is taken only on the base URL's own scheme, host and port."""
        if not path.startswith(("http://", "https://")):
            return f"{self.base_url}/{path.lstrip('/')}"
        if _origin(path) != _origin(self.base_url):
            raise PermanentError(f"{self.vendor} pointed the hub at another host; not followed")
        return path

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a call; errors per raise_for_status; 404 gives None."""
        try:
            response = self.session.request(method, self.url(path), timeout=self.timeout, allow_redirects=False, **kwargs)
        except EgressRefused:
            # the policy logged what and why; callers show one error whatever the address was
            raise PermanentError(f"{self.vendor} could not be reached") from None
        except requests.TooManyRedirects:  # the session allows none (integrations/egress.py pin)
            raise PermanentError(f"{self.vendor} answered a redirect; the hub follows none") from None
        except (requests.Timeout, requests.ConnectionError) as error:
            raise RetryableError(f"{self.vendor} did not answer ({type(error).__name__})") from None
        except requests.RequestException as error:
            raise PermanentError(f"{self.vendor} request failed ({type(error).__name__})") from None
        self.last_headers = response.headers
        if response.status_code == 404:
            return None
        raise_for_status(response, vendor=self.vendor)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise PayloadError(f"{self.vendor} answered {response.status_code} with a body that is not JSON") from None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def last_header(api: Any, name: str) -> str | None:
    """A header of the vendor's last answer, by case-insensitive name."""
    headers = getattr(api, "last_headers", None) or {}
    wanted = name.lower()
    return next((str(v).strip() for k, v in headers.items() if str(k).lower() == wanted), None) if isinstance(headers, Mapping) else None


def remaining_budget(api: Any, header: str) -> int | None:
    """What a rate-limit header says is left of the budget (None when absent or unreadable)."""
    try:
        return int(last_header(api, header) or "")
    except ValueError:
        return None


def wait_until_reset(api: Any, header: str, *, now: datetime, default_s: float) -> float:
    """Seconds until the time a rate-limit reset header names (ISO 8601 or epoch), clamped to [1 s, 1 h]."""
    from chalicelib.domain.events import utc
    try:
        seconds = (utc(last_header(api, header), what=header) - now).total_seconds()
    except PayloadError:
        return default_s
    return min(max(seconds, 1.0), MAX_RESET_WAIT_S)


@dataclass(frozen=True)
class RateLimit:
    """A vendor's rate-limit headers: how much budget is left, when it resets, and how much of it
    the hub leaves for the tenant's other tools."""

    remaining_header: str
    reset_header: str
    reserve: int
    default_wait_s: float

    def remaining(self, api: Any) -> int | None:
        return remaining_budget(api, self.remaining_header)

    def reset_in_s(self, api: Any, now: datetime) -> float:
        return wait_until_reset(api, self.reset_header, now=now, default_s=self.default_wait_s)

    def pause_s(self, api: Any, now: datetime) -> float | None:
        """Seconds to pause when the last answer left `reserve` requests or fewer; None otherwise."""
        left = self.remaining(api)
        return self.reset_in_s(api, now) if left is not None and left <= self.reserve else None
