"""Composition root: the one place that knows which concrete adapter backs which port."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.adapters.once import PowertoolsOnce
    from chalicelib.domain.console import Identity
    from chalicelib.domain.console_users import ConsoleUsers
    from chalicelib.domain.ports import AgencyClient, AgencyClientFactory, VendorApi, VendorApiAccess
    from chalicelib.domain.records import SourceCredentials
    from chalicelib.services import Services
    from integrations.cognito import CognitoSignIn, IdTokenVerifier, Pool
    from integrations.egress import EgressPolicy


@cache
def hub() -> Services:
    """Every service with the real adapters, built once per container on first use (imports are lazy)."""
    import time

    from chalicelib import settings
    from chalicelib.adapters import dynamo, kpi_metrics, templates
    from chalicelib.adapters.dead_letters import SqsDeadLetters
    from chalicelib.adapters.dynamo.deliveries import DynamoDeliveryLog
    from chalicelib.adapters.mail import Mailer
    from chalicelib.adapters.queues import SqsQueues
    from chalicelib.adapters.secrets import SecretsManagerCredentials
    from chalicelib.adapters.senders import SesSenderIdentities
    from chalicelib.services import Options, Ports, compose
    from integrations.oauth import TokenEndpoint
    from integrations.registry import (
        ACCOUNT_TOKENS,
        AGENCIES,
        ANSWERED_LINKS,
        ENRICHED,
        FIELD_WRITERS,
        LOCAL_SOURCES,
        OAUTH,
        POLLED,
        SECRET_FORMATS,
        SOURCES,
    )
    from integrations.test_events import TEST_EVENTS

    config = settings.current()
    dynamo.configure(config.table_name)
    credentials = SecretsManagerCredentials(config.secrets_prefix)
    queues = SqsQueues(config.stage, config.queue_urls)
    sources = LOCAL_SOURCES if config.stage == "local" else SOURCES  # replay signatures: `make run` only
    ports = Ports(
        sources=sources, enriched=ENRICHED, polled=POLLED, secret_formats=SECRET_FORMATS, vendor_apis=vendor_api,
        agency_clients={name: agency_client(module.Client) for name, module in AGENCIES.items()}, egress=egress(),
        credentials=credentials, link_keys=credentials, queues=queues,
        mailer=Mailer(smtp_password=credentials.smtp_password, configuration_set=config.ses_configuration_set,
                      egress=egress()),
        sender_identities=SesSenderIdentities(config.stage), sender_domains=dynamo.DynamoSenderDomains(),
        once=once(), templates=templates, kpi_publisher=kpi_metrics.publish,
        relations=dynamo.DynamoRelations(notice_delay=config.notice_delay), notices=dynamo.DynamoNotices(),
        tenants=dynamo.DynamoTenants(), counters=dynamo.DynamoCounters(), config=dynamo.DynamoConfig(),
        tokens=dynamo.DynamoTokens(), suppressions=dynamo.DynamoSuppressions(), audit=dynamo.DynamoAudit(),
        admin_tokens=dynamo.DynamoAdminTokens(), referrals=dynamo.DynamoReferrals(), nurture=dynamo.DynamoNurture(),
        oauth=OAUTH, account_tokens=ACCOUNT_TOKENS, token_endpoint=TokenEndpoint(egress=egress()),
        sessions=dynamo.DynamoSessions(), id_tokens=LazyIdTokens(), sign_in=LazySignIn(), sleep=time.sleep,
        console_users=console_users(config.console_issuer),  # e18-admin: the users screen
        field_writers=FIELD_WRITERS, answered_links=ANSWERED_LINKS,
        # e20-sources: the delivery log, the dead-letter queues, the vendors' test deliveries
        delivery_log=DynamoDeliveryLog(), dead_letters=SqsDeadLetters(config.stage, queues), test_events=TEST_EVENTS,
    )
    return compose(ports, Options(public_url=config.public_url, agency_timeout_s=config.agency_timeout_s,
                                  agency_parallelism=config.agency_parallelism))


@cache
def once() -> PowertoolsOnce:
    """Side effects done once per key; the queue consumer registers each invocation's context with it."""
    from chalicelib import settings
    from chalicelib.adapters.once import PowertoolsOnce

    return PowertoolsOnce(settings.current().table_name)


@cache
def egress() -> EgressPolicy:
    """The one egress policy of every outbound call (integrations/egress.py). Loopback only where
    the settings allow it: the local stage, or a process outside Lambda that sets
    HUB_EGRESS_ALLOW_LOOPBACK=1 (tests, the bench); never in Lambda (chalicelib/settings.py)."""
    from chalicelib import settings
    from integrations.egress import EgressPolicy

    config = settings.current()
    if config.egress_loopback_ignored:
        from chalicelib.observability import logger
        logger.warning("HUB_EGRESS_ALLOW_LOOPBACK is set in Lambda and ignored: loopback stays refused")
    return EgressPolicy(allow_loopback=config.egress_allow_loopback)


def console_pool() -> Pool:
    """The console's user pool as the settings describe it (docs/console.md)."""
    from chalicelib import settings
    from integrations.cognito import Pool

    config = settings.current()
    return Pool(issuer=config.console_issuer, client_id=config.console_client_id, jwks_url=config.console_jwks_url,
                redirect_uri=f"{config.public_url}/console/auth/callback", login_url=config.console_login_url,
                password_api=config.console_password_api)


@cache
def id_tokens() -> IdTokenVerifier:
    """The console's ID token verifier: one per container, so its JWKS cache is too."""
    from integrations.cognito import IdTokenVerifier

    return IdTokenVerifier(console_pool(), egress())


def sign_in() -> CognitoSignIn:
    from integrations.cognito import CognitoSignIn

    return CognitoSignIn(console_pool(), egress())


class LazyIdTokens:
    """The IdTokens port, built on the first sign-in (PyJWT and cryptography load then, not at cold start)."""

    def verify(self, id_token: str) -> Identity:
        return id_tokens().verify(id_token)


class LazySignIn:
    """The SignInProvider port, built when a console sign-in needs it."""

    def authorize_url(self, state: str, code_challenge: str) -> str | None:
        return sign_in().authorize_url(state, code_challenge)

    def exchange_code(self, code: str, code_verifier: str) -> str:
        return sign_in().exchange_code(code, code_verifier)

    def password_sign_in(self, username: str, password: str) -> str:
        return sign_in().password_sign_in(username, password)


def vendor_api(source: VendorApiAccess, credentials: SourceCredentials) -> VendorApi:
    """A vendor's API client for one tenant's connection (base URL override, auth headers)."""
    from integrations.http import VendorApi as HttpVendorApi

    return HttpVendorApi(vendor=source.NAME, base_url=credentials.api_base_url or source.API_BASE_URL,
                         headers=auth_headers(source, credentials), egress=egress())


def auth_headers(source: VendorApiAccess, credentials: SourceCredentials) -> dict[str, str]:
    """An OAuth access token as a bearer token; else the vendor's own scheme for the api key (and
    the account token after it, for a unified API's linked account)."""
    if credentials.oauth is not None and credentials.oauth.access_token:
        return {"Authorization": f"Bearer {credentials.oauth.access_token}"}
    key = credentials.api_key or ""
    return source.auth_headers(f"{key} {credentials.account_token}" if credentials.account_token else key)


def agency_client(client: Callable[..., AgencyClient]) -> AgencyClientFactory:
    """An agency module's Client, built with the hub's egress policy."""

    def build(endpoint: str, auth: Mapping[str, str], *, timeout: tuple[float, float]) -> AgencyClient:
        return client(endpoint, auth, timeout=timeout, egress=egress())

    return build


def reset() -> None:
    """Forget built adapters (tests point the hub at a fresh endpoint or table, or change the settings)."""
    hub.cache_clear()
    once.cache_clear()
    egress.cache_clear()
    from chalicelib.adapters.dynamo import zones  # (lazily: the models' import is cold-start cost)

    zones.forget()
    id_tokens.cache_clear()


# -- e18-admin: the console's users (the pool's admin API) ---------------------------------------

def console_users(issuer: str) -> ConsoleUsers | None:
    """The pool's admin API, the pool named by the issuer (https://cognito-idp.<region>.amazonaws.com/<pool id>);
    None without a pool. Locally boto3 reaches the embedded pool through AWS_ENDPOINT_URL."""
    import re

    from chalicelib.adapters.console_users import CognitoConsoleUsers

    found = re.fullmatch(r"https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+_[0-9A-Za-z]+)", issuer or "")
    return CognitoConsoleUsers(found.group(2), found.group(1)) if found else None
