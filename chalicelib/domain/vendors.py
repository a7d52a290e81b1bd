"""The ports to outside systems: vendor APIs and modules, agency clients (integrations/).

Part of the domain's ports (chalicelib/domain/ports.py re-exports them); kept apart so each file
stays a room one can hold in one's head."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.events import HubEvent, Lookup, Notice
from chalicelib.domain.records import PollPage, ReferralResult, SourceCredentials


class VendorApi(Protocol):
    """A vendor's HTTP API for one tenant's connection; answers are the vendor's JSON (None: 404)."""

    last_headers: Mapping[str, str]

    def get(self, path: str, **kwargs: Any) -> Any: ...

    def post(self, path: str, **kwargs: Any) -> Any: ...

    def patch(self, path: str, **kwargs: Any) -> Any: ...


class SourceAdapter(Protocol):
    """One inbound system that pushes webhooks: a module in integrations/sources."""

    NAME: str
    # Whether the signature (or token) vouches for every byte of the body. When False (a static token,
    # or a signature over ids and times only), parse returns Lookups only: the facts come from the
    # vendor's API, and the hub looks each resource up at most once per window (Intake).
    SIGNATURE_COVERS_BODY: bool

    @property
    def EVENT_FIELD(self) -> tuple[str, ...]:  # noqa: N802 - a module constant
        """Where the vendor's event name sits: ("body", key, ...) or ("header", name) (the delivery log)."""

    def verify(self, headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
        """Raise SignatureError unless one of the secrets signed this delivery (headers lower-cased)."""

    def parse(self, headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
        """Translate one delivery into hub events or Lookups; [] for event types the hub does not use."""

    def sign(self, raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
        """Headers a genuine delivery of raw_body would carry (tests and local replay)."""


class VendorApiAccess(Protocol):
    """What a source needs to call its vendor's API (registry.ENRICHED, registry.POLLED).

    API_HOSTS: the hosts the vendor documents for its API (regions, sandboxes; `*.` for a
    customer's own subdomain): the only ones a tenant may point api_base_url at."""

    NAME: str
    API_BASE_URL: str
    API_HOSTS: tuple[str, ...]

    def auth_headers(self, api_key: str) -> dict[str, str]: ...


class EnrichedSource(VendorApiAccess, Protocol):
    """A push source whose notices are thin: the missing facts are fetched off the request path."""

    def fetch(self, lookup: Lookup, api: VendorApi) -> Sequence[HubEvent]: ...


class PolledSource(VendorApiAccess, Protocol):
    """A system without webhooks, polled on a schedule with a stored cursor (integrations/sources)."""

    def poll(self, api: VendorApi, cursor: str | None, *, tenant: str, now: datetime) -> PollPage:
        """Fetch the page after cursor (None: the first run) and translate it into hub events."""


@dataclass(frozen=True)
class FieldTarget:
    """Where an ATS field write goes: the application (and the vendor's candidate id), the field's
    key and the ATS user the write is made as (delivery settings). No personal data."""

    application_id: str
    candidate_id: str | None
    field: str | None
    on_behalf_of: str | None


@dataclass(frozen=True)
class OpenApplication:
    """An application still open in the ATS, for the backfill: the fact to record (its person) and
    the vendor's candidate id."""

    event: HubEvent
    candidate_id: str | None


@dataclass(frozen=True)
class OpenPage:
    applications: Sequence[OpenApplication]
    cursor: str | None  # where the next page starts; None: the last page was read


class FieldWriter(VendorApiAccess, Protocol):
    """An ATS whose API lets the hub write a field its own mail templates can show
    (registry.FIELD_WRITERS): the `ats_field` delivery (chalicelib/domain/delivery.py)."""

    # the delivery settings its ats_field needs ("field", "on_behalf_of")
    FIELD_REQUIRES: tuple[str, ...]

    def write_field(self, api: VendorApi, target: FieldTarget, value: str) -> bool:
        """Write value into the field; False when the record is gone (404). CredentialsRefused
        (401/403), FieldRefused (the field is unknown), RetryableError (429 with retry_after_s, 5xx)."""

    def open_applications(self, api: VendorApi, cursor: str | None, *, tenant: str) -> OpenPage:
        """One page of the applications still open (the backfill when ats_field is switched on)."""


class SecretFormat(Protocol):
    """A source whose webhook secret has a format of its own (registry.SECRET_FORMATS)."""

    def check_secret(self, secret: str) -> None:
        """Raise BadRequest unless the secret has the scheme's format."""

    def new_secret(self) -> str: ...


class VendorApis(Protocol):
    def __call__(self, source: VendorApiAccess, credentials: SourceCredentials) -> VendorApi:
        """The vendor's API client for one tenant's connection (base URL override, auth headers)."""


class TokenEndpoint(Protocol):
    """A vendor's OAuth token endpoint (integrations/oauth.py), called through the egress policy."""

    def __call__(self, vendor: str, url: str, form: Mapping[str, str]) -> Any:
        """The endpoint's JSON answer. CredentialsRefused when it refuses the grant or the client
        (invalid_grant, 401); RetryableError when it may answer later; PermanentError otherwise."""


class Egress(Protocol):
    """The egress policy (integrations/egress.py): whether the hub may call a destination at all.
    Checked when an admin configures one, and again at every call (DNS can change)."""

    def check_url(self, url: str, *, what: str = "the URL") -> None:
        """Raise EgressRefused unless the hub may call this URL (https, public addresses only)."""

    def check_mail_server(self, host: str, port: int, *, tls: bool, what: str = "smtp.host") -> None:
        """Raise EgressRefused unless the hub may send mail through this server."""


class AgencyClient(Protocol):
    """One agency's API for one tenant (integrations/agencies)."""

    def send(self, batch_id: str, idempotency_key: str, referrer: Mapping[str, str],
             referrals: Sequence[Mapping[str, Any]]) -> Sequence[ReferralResult]: ...

    def withdraw(self, referral_id: str, withdrawn_at: str) -> None: ...


class AgencyClientFactory(Protocol):
    def __call__(self, endpoint: str, auth: Mapping[str, str], *, timeout: tuple[float, float]) -> AgencyClient:
        """An agency API client (the Client class of a module in integrations/agencies)."""
