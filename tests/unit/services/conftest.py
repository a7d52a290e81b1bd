"""Fixtures of the service unit tests: the services composed on the in-memory fakes with a fixed
clock, and the tenant `acme` with mail settings and a connected `standard` source."""
from __future__ import annotations

import pytest

from chalicelib.services import Services
from tests.fakes import Clock
from tests.unit.services.support import build, open_acme


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 2026-06-01 09:00 UTC, moved only by the test (and by FakeSleep)


@pytest.fixture
def services(clock: Clock) -> Services:
    return build(clock)


@pytest.fixture
def acme(services: Services) -> str:
    return open_acme(services)
