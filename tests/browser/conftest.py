"""The browser tests' shared fixtures: per module, `make run`'s local hub (tests/localhub.py) and
Debian's Chromium (tests/browser/support.py). A module that needs the hub started otherwise (more
settings, seeded data) defines its own `hub`."""
from __future__ import annotations

import pytest

from tests import localhub
from tests.browser.support import chromium


@pytest.fixture(scope="module")
def hub():
    with localhub.local_hub() as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched
