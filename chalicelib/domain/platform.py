"""The ports to the platform the hub runs on: secrets, queues, mail and sender identities,
once-only side effects, templates, metrics. Part of the domain's ports (chalicelib/domain/ports.py
re-exports them); kept apart so each file stays a room one can hold in one's head."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from chalicelib.domain.mail import RenderedMail, Template
from chalicelib.domain.records import JsonDict, OAuthTokens, SenderIdentity, SourceCredentials
from chalicelib.domain.tenants import TenantSettings


class Credentials(Protocol):
    def source(self, tenant: str, source: str, *, fresh: bool = False) -> SourceCredentials:
        """The tenant's credentials for source; raises UnknownTenant when not connected. Answers,
        found or not, come from a short cache; fresh asks the store again, at most once a minute."""

    def store_source(self, tenant: str, source: str, webhook_secret: str | None, api_key: str | None,
                     api_base_url: str | None = None, *, revoke_previous: bool = False,
                     drop_api_key: bool = False, account_token: str | None = None,
                     oauth: OAuthTokens | None = None) -> None:
        """Store (or rotate) the credentials in one write; the replaced webhook secret stays valid for
        a while, unless revoke_previous ends it (and any earlier one still in its grace) now. An
        api_key, account_token, oauth or api_base_url of None keeps the stored one, unless
        drop_api_key: then no api key, account token or OAuth client is kept (the API's address
        changed and no new one came with it)."""

    def oauth_tokens(self, tenant: str, source: str) -> OAuthTokens | None:
        """The OAuth client and tokens as stored now: read past every cache (a refresh token is
        spent by its first use, so a copy that may be stale is never used)."""

    def store_oauth(self, tenant: str, source: str, tokens: OAuthTokens) -> None:
        """Replace the stored OAuth tokens, keeping every other credential, in one write."""

    def smtp_password(self, tenant: str) -> str | None: ...

    def store_smtp_password(self, tenant: str, password: str) -> None: ...

    def drop_smtp_password(self, tenant: str) -> None:
        """Forget the tenant's SMTP password (nothing happens when none is stored)."""

    def agency_auth(self, tenant: str, agency: str) -> dict[str, str]: ...

    def store_agency_auth(self, tenant: str, agency: str, auth: Mapping[str, str]) -> None: ...

    def drop_agency_auth(self, tenant: str, agency: str) -> None:
        """Forget an agency's credentials (nothing happens when none are stored)."""


class LinkKeys(Protocol):
    """The platform's link key (a Secrets Manager secret the stack generates, never in the table):
    the key of the application links' MAC (delivery.link_token)."""

    def link_key(self) -> bytes:
        """The current key, from a short cache; RetryableError when it cannot be read now."""


class Queues(Protocol):
    def send(self, queue: str, body: Mapping[str, Any], delay_s: int = 0) -> None:
        """Put a message on a named queue (adapters/resources.QUEUES); RetryableError when it cannot."""


class Mailer(Protocol):
    def send(self, tenant: str, settings: TenantSettings, *, to: str, subject: str, text: str, html: str,
             unsubscribe_url: str, reference: str) -> str:
        """Send one mail (SES or the tenant's SMTP); the message id. RetryableError / PermanentError."""


class SenderIdentities(Protocol):
    """The mail service's sender identities (SES): a tenant's domain registered with DKIM, tagged
    with the tenant and the stage (the mail role may send only from identities so tagged)."""

    def register(self, tenant: str, domain: str) -> SenderIdentity:
        """Create the domain's identity for tenant (Easy DKIM), or read the one made for it before.
        Conflict when the domain is an identity of anyone else (another tenant or stage, or made
        outside the hub); RetryableError when the service cannot answer now."""

    def lookup(self, domain: str) -> SenderIdentity:
        """The identity's status and DKIM tokens now (failed when it is gone or not the hub's);
        RetryableError when the service cannot answer now."""


class Once(Protocol):
    def run(self, tenant: str, key: str, action: Callable[[], JsonDict]) -> JsonDict:
        """Do action once per key and keep its result; a repeat gets the kept result."""


class Templates(Protocol):
    """Mail templates: shipped defaults, checks and rendering (adapters/templates.py)."""

    @property
    def KINDS(self) -> tuple[str, ...]: ...  # noqa: N802 - a module constant

    @property
    def LOCALES(self) -> tuple[str, ...]: ...  # noqa: N802 - a module constant

    @property
    def SAMPLE(self) -> Mapping[str, str]: ...  # noqa: N802 - a module constant

    @property
    def VARIABLES(self) -> Mapping[str, str]: ...  # noqa: N802 - a module constant: name -> meaning

    def check_kind(self, kind: str, locale: str) -> None: ...

    def default(self, kind: str, locale: str) -> Template: ...

    def check(self, template: Template) -> None:
        """BadRequest naming the part and line of a syntax error, an unknown variable, a template
        other than the hub's partials, or a failure or limit hit on sample data."""

    def render(self, template: Template, context: Mapping[str, str | None], locale: str) -> RenderedMail:
        """The mail, rendered within CPU, memory, loop and output limits; TemplateError when the
        template fails or runs over one."""


class KpiPublisher(Protocol):
    def __call__(self, tenant: str, kpis: JsonDict) -> int:
        """Publish a tenant's KPIs as metrics; how many values."""
