"""Composition root: the one place that knows which concrete adapter backs which port."""
from __future__ import annotations

from functools import cache

from chalicelib import settings
from chalicelib.services import Hub


@cache
def hub() -> Hub:
    """The hub with real adapters, built once per container on first use (imports are lazy)."""
    from chalicelib.adapters import dynamo
    from chalicelib.adapters.secrets import SecretsManagerCredentials
    from integrations.registry import SOURCES

    config = settings.current()
    dynamo.configure(config.table_name)
    return Hub(sources=SOURCES, credentials=SecretsManagerCredentials(config.secrets_prefix),
               relations=dynamo.DynamoRelations())


def reset() -> None:
    """Forget built adapters (tests point the hub at a fresh endpoint or table)."""
    hub.cache_clear()
