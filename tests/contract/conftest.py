"""The `stores` fixture of the port contract suites: each test runs on the in-memory fakes
(tests/fakes.py) and on the DynamoDB adapters in in-process moto, against one controllable clock."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.fakes import Clock, Stores, in_memory_stores

NOTICE_DELAY = timedelta(minutes=5)


def dynamo_stores(clock: Clock) -> Stores:
    from chalicelib.adapters import dynamo

    return Stores(relations=dynamo.DynamoRelations(clock=clock, notice_delay=NOTICE_DELAY),
                  notices=dynamo.DynamoNotices(clock=clock), tenants=dynamo.DynamoTenants(clock=clock),
                  counters=dynamo.DynamoCounters(clock=clock), config=dynamo.DynamoConfig(clock=clock),
                  tokens=dynamo.DynamoTokens(clock=clock), suppressions=dynamo.DynamoSuppressions(clock=clock),
                  audit=dynamo.DynamoAudit(clock=clock), admin_tokens=dynamo.DynamoAdminTokens(clock=clock),
                  referrals=dynamo.DynamoReferrals(clock=clock), nurture=dynamo.DynamoNurture(clock=clock),
                  sender_domains=dynamo.DynamoSenderDomains(clock=clock), clock=clock)


@pytest.fixture(params=["fake", "dynamo"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """Every store port of one side, on a fresh state, with the clock they read."""
    clock = Clock()
    if request.param == "fake":
        yield in_memory_stores(clock=clock, notice_delay=NOTICE_DELAY)
        return
    from moto import mock_aws

    from chalicelib.adapters.dynamo import configure
    from tools.local_aws import provision

    with mock_aws():
        provision()
        configure(os.environ["HUB_TABLE"])
        yield dynamo_stores(clock)
