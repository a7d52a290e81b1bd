"""Every source that calls its vendor's API (thin notices, polling) maps the vendor's faults the same
way, against a real HTTP server on loopback: 429 -> retry after Retry-After, 5xx and timeouts ->
retry, 401 -> permanent. A new vendor is held to it the moment it is registered."""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
from werkzeug import Response

from chalicelib.domain.errors import PermanentError, RetryableError
from chalicelib.domain.events import Lookup
from integrations.http import VendorApi
from integrations.registry import POLLED, SOURCES
from tests.conftest import load_fixture, source_fixtures
from tests.loopback import LOOPBACK

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def first_lookup(adapter) -> Lookup | None:
    for name in source_fixtures(adapter.NAME):
        fx = load_fixture(f"sources/{adapter.NAME}/{name}")
        headers = {k.lower(): v for k, v in fx["headers"].items()}
        for notice in adapter.parse(headers, fx["body"].encode(), tenant="acme"):
            if isinstance(notice, Lookup):
                return notice
    return None


LOOKUPS = {name: lookup for name, adapter in SOURCES.items() if hasattr(adapter, "fetch") and (lookup := first_lookup(adapter))}
CALLERS = {name: (lambda api, a=SOURCES[name], lookup=lookup: a.fetch(lookup, api)) for name, lookup in LOOKUPS.items()}
CALLERS.update({name: (lambda api, a=adapter: a.poll(api, None, tenant="acme", now=NOW)) for name, adapter in POLLED.items()})
ADAPTERS = {**SOURCES, **POLLED}
CASES = pytest.mark.parametrize("name", sorted(CALLERS))


def api(httpserver, name, timeout=(0.5, 0.5)) -> VendorApi:
    adapter = ADAPTERS[name]
    return VendorApi(egress=LOOPBACK, vendor=name,
                     base_url=httpserver.url_for("/api"), headers=adapter.auth_headers("key-1"), timeout=timeout)


def every_path(httpserver):
    return httpserver.expect_request(re.compile(".*"))


def test_every_source_with_thin_notices_has_a_recorded_one():
    thin = {name for name, a in SOURCES.items() if hasattr(a, "fetch")}
    assert thin <= set(CALLERS), thin - set(CALLERS)


@CASES
def test_429_with_retry_after_raises_retryable_with_delay(httpserver, name):
    every_path(httpserver).respond_with_response(Response("slow down", status=429, headers={"Retry-After": "17"}))
    with pytest.raises(RetryableError) as error:
        CALLERS[name](api(httpserver, name))
    assert error.value.retry_after_s == 17


@CASES
def test_5xx_raises_retryable(httpserver, name):
    every_path(httpserver).respond_with_data("down", status=503)
    with pytest.raises(RetryableError):
        CALLERS[name](api(httpserver, name))


@CASES
def test_401_raises_permanent(httpserver, name):
    every_path(httpserver).respond_with_data("no", status=401)
    with pytest.raises(PermanentError):
        CALLERS[name](api(httpserver, name))


@CASES
def test_a_slow_answer_past_the_timeout_raises_retryable(httpserver, name):
    release = threading.Event()

    def slow(_request):
        release.wait(5)
        return Response("{}", content_type="application/json")

    every_path(httpserver).respond_with_handler(slow)
    try:
        with pytest.raises(RetryableError):
            CALLERS[name](api(httpserver, name, timeout=(0.5, 0.3)))
    finally:
        release.set()
