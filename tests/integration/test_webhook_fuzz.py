"""Every registered source, over HTTP: arbitrary bytes and headers (with each vendor's own header
names) get only JSON 4xx answers, and arbitrary bodies signed correctly get 202 or 400, never 500."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import HubError
from integrations.registry import SOURCES
from tests.conftest import connect, load_fixture, source_fixtures
from tests.contract.test_sources import mutated_fixture

FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
HEADER_NAMES = sorted({name for source in SOURCES for fixture in source_fixtures(source)
                       for name in load_fixture(f"sources/{source}/{fixture}")["headers"]} | {"X-Other"})


def secret_of(source: str) -> str:
    return load_fixture(f"sources/{source}/{source_fixtures(source)[0]}")["secret"]


@pytest.fixture
def connected(client):
    for source in SOURCES:
        connect(client, "fuzz", source, secret_of(source))
    return client


@pytest.fixture
def connected_locally(client, monkeypatch):
    """The hub of `make run`: sign() makes what the local stage verifies (Lever: the replay header)."""
    from chalicelib import wiring

    monkeypatch.setenv("HUB_STAGE", "local")
    wiring.reset()
    for source in SOURCES:
        connect(client, "fuzz", source, secret_of(source))
    return client


@pytest.mark.parametrize("source", sorted(SOURCES))
@FUZZ
@given(body=st.binary(max_size=400),
       headers=st.dictionaries(st.sampled_from(HEADER_NAMES), st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=90),
                               max_size=5))
def test_arbitrary_requests_get_only_json_4xx(connected, source, body, headers):
    answer = connected.http.post(f"/webhooks/fuzz/{source}", headers={"Content-Type": "application/json", **headers}, body=body)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.body)
    assert set(answer.json_body) == {"error", "message"}


@pytest.mark.parametrize("source", sorted(SOURCES))
@FUZZ
@given(data=st.data())
def test_arbitrary_bodies_signed_correctly_get_202_or_400(connected_locally, source, data):
    # arbitrary text, or a recorded delivery with one field replaced by any JSON value
    body = data.draw(st.one_of(st.text(max_size=400).map(str.encode), mutated_fixture(SOURCES[source])))
    try:
        headers = SOURCES[source].sign(body, secret_of(source))
    except (HubError, ValueError):
        assume(False)  # some schemes sign a field of the body (Teamtailor: the resource id): no field, no signature
    answer = connected_locally.http.post(f"/webhooks/fuzz/{source}", headers={"Content-Type": "application/json", **headers},
                                         body=body)
    assert answer.status_code in (202, 400), (answer.status_code, answer.body)
