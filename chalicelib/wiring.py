"""Composition root: the one place that knows which concrete adapter backs which port."""
from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.services import Hub


@cache
def hub() -> Hub:
    """The hub with real adapters, built once per container on first use (imports are lazy)."""
    from chalicelib.adapters import dynamo, kpi_metrics, templates
    from chalicelib.adapters.mail import Mailer
    from chalicelib.adapters.once import PowertoolsOnce
    from chalicelib.adapters.queues import SqsQueues
    from chalicelib.adapters.secrets import SecretsManagerCredentials
    from chalicelib.adapters.stores import (
        DynamoAdminTokens, DynamoAudit, DynamoConfig, DynamoSuppressions, DynamoTokens,
    )
    from chalicelib.adapters.agencies import DynamoReferrals
    from chalicelib.adapters.nurture import DynamoNurture
    from chalicelib.services import Hub
    from integrations.registry import AGENCIES, POLLED, SOURCES

    from chalicelib import settings

    config = settings.current()
    dynamo.configure(config.table_name)
    credentials = SecretsManagerCredentials(config.secrets_prefix)
    return Hub(sources=SOURCES, polled=POLLED, credentials=credentials,
               relations=dynamo.DynamoRelations(notice_delay=config.notice_delay),
               queues=SqsQueues(config.stage, config.queue_urls), api_for=vendor_api,
               config=DynamoConfig(), templates=templates, tokens=DynamoTokens(), suppressions=DynamoSuppressions(),
               mailer=Mailer(smtp_password=credentials.smtp_password, configuration_set=config.ses_configuration_set),
               once=PowertoolsOnce(config.table_name), public_url=config.public_url,
               agency_clients=AGENCIES, referrals_store=DynamoReferrals(), sleep=time.sleep,
               agency_timeout_s=config.agency_timeout_s, kpi_publisher=kpi_metrics.publish,
               agency_parallelism=config.agency_parallelism, audit_log=DynamoAudit(), admin_tokens=DynamoAdminTokens(),
               nurture_store=DynamoNurture())


def vendor_api(adapter, credentials):
    """A vendor's API client for one tenant's connection (base URL override, auth headers)."""
    from integrations.http import VendorApi

    return VendorApi(vendor=adapter.NAME, base_url=credentials.api_base_url or adapter.API_BASE_URL,
                     headers=adapter.auth_headers(credentials.api_key or ""))


def reset() -> None:
    """Forget built adapters (tests point the hub at a fresh endpoint or table)."""
    hub.cache_clear()
