"""The `stores` fixture of the port contract suites: each test runs on the in-memory fakes
(tests/fakes.py) and on the DynamoDB adapters in in-process moto, against one controllable clock."""
from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from typing import Any

import pytest

from tests.fakes import Clock, Stores, in_memory_stores

NOTICE_DELAY = timedelta(minutes=5)
DYNAMO = "chalicelib.adapters.dynamo"
ADAPTERS = ("DynamoRelations", "DynamoNotices", "DynamoTenants", "DynamoCounters", "DynamoConfig", "DynamoTokens",
            "DynamoSuppressions", "DynamoAudit", "DynamoAdminTokens", "DynamoReferrals", "DynamoNurture",
            "DynamoSenderDomains", "configure")


@cache
def dynamo_adapters() -> dict[str, Any] | None:
    """The DynamoDB adapters by name, or None while the package chalicelib/adapters/dynamo/ is not merged
    (the module of that name has other names). A package that is there but fails to import fails the tests."""
    try:
        module = importlib.import_module(DYNAMO)
        return {name: getattr(module, name) for name in ADAPTERS}
    except (ImportError, AttributeError):
        spec = importlib.util.find_spec(DYNAMO)
        if spec is not None and spec.submodule_search_locations is not None:
            raise
        return None


def dynamo_stores(adapters: dict[str, Any], clock: Clock) -> Stores:
    def build(name: str, **options: Any) -> Any:
        return adapters[name](clock=clock, **options)

    return Stores(relations=build("DynamoRelations", notice_delay=NOTICE_DELAY), notices=build("DynamoNotices"),
                  tenants=build("DynamoTenants"), counters=build("DynamoCounters"), config=build("DynamoConfig"),
                  tokens=build("DynamoTokens"), suppressions=build("DynamoSuppressions"), audit=build("DynamoAudit"),
                  admin_tokens=build("DynamoAdminTokens"), referrals=build("DynamoReferrals"), nurture=build("DynamoNurture"),
                  sender_domains=build("DynamoSenderDomains"), clock=clock)


@pytest.fixture(params=["fake", "dynamo"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """Every store port of one side, on a fresh state, with the clock they read."""
    clock = Clock()
    if request.param == "fake":
        yield in_memory_stores(clock=clock, notice_delay=NOTICE_DELAY)
        return
    adapters = dynamo_adapters()
    if adapters is None:
        pytest.skip("chalicelib.adapters.dynamo package not merged yet")
    from moto import mock_aws

    from tools.local_aws import provision

    with mock_aws():
        provision()
        adapters["configure"](os.environ["HUB_TABLE"])
        yield dynamo_stores(adapters, clock)
