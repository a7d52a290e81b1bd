"""The `stores` fixture of the port contract suites: each test runs on the in-memory fakes
(tests/fakes.py) and on the DynamoDB adapters in in-process moto, against one controllable clock."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.fakes import Clock, Stores, in_memory_stores

NOTICE_DELAY = timedelta(minutes=5)

try:  # the DynamoDB adapters as a package (chalicelib/adapters/dynamo/); until it is merged, that side skips
    from chalicelib.adapters.dynamo import (  # type: ignore[attr-defined]
        DynamoAdminTokens, DynamoAudit, DynamoConfig, DynamoCounters, DynamoNotices, DynamoNurture, DynamoReferrals,
        DynamoRelations, DynamoSuppressions, DynamoTenants, DynamoTokens, configure,
    )
    DYNAMO_MISSING = None
except ImportError as error:
    DYNAMO_MISSING = error


def dynamo_stores(clock: Clock) -> Stores:
    return Stores(relations=DynamoRelations(clock=clock, notice_delay=NOTICE_DELAY), notices=DynamoNotices(clock=clock),
                  tenants=DynamoTenants(clock=clock), counters=DynamoCounters(clock=clock), config=DynamoConfig(clock=clock),
                  tokens=DynamoTokens(clock=clock), suppressions=DynamoSuppressions(clock=clock), audit=DynamoAudit(clock=clock),
                  admin_tokens=DynamoAdminTokens(clock=clock), referrals=DynamoReferrals(clock=clock),
                  nurture=DynamoNurture(clock=clock), clock=clock)


@pytest.fixture(params=["fake", "dynamo"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """Every store port of one side, on a fresh state, with the clock they read."""
    clock = Clock()
    if request.param == "fake":
        yield in_memory_stores(clock=clock, notice_delay=NOTICE_DELAY)
        return
    if DYNAMO_MISSING is not None:
        pytest.skip("chalicelib.adapters.dynamo package not merged yet")
    from moto import mock_aws

    from tools.local_aws import provision

    with mock_aws():
        provision()
        configure(os.environ["HUB_TABLE"])
        yield dynamo_stores(clock)
