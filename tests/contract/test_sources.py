"""Contract of every registered source, parametrised over the registry: a new vendor is tested
the moment it is registered."""
from __future__ import annotations

import contextlib
import importlib
import json
import os
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import HubEvent, Lookup
from integrations.registry import LOCAL_SOURCES, SOURCES
from tests.conftest import load_fixture, source_fixtures

# A module being written can be held to the contract before it is registered:
# CONTRACT_EXTRA_SOURCES=lever,ashby pytest tests/contract
_EXTRA = [importlib.import_module(f"integrations.sources.{name}")
          for name in os.environ.get("CONTRACT_EXTRA_SOURCES", "").split(",") if name]
ALL = {**SOURCES, **{m.NAME: m for m in _EXTRA}}
ADAPTERS = pytest.mark.parametrize("adapter", ALL.values(), ids=ALL.keys())
# sign() makes what the local stage verifies (Lever: the hub's replay header, which no other stage reads)
AS_LOCALLY = pytest.mark.parametrize("adapter", [LOCAL_SOURCES.get(name, m) for name, m in ALL.items()], ids=ALL.keys())
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def recorded(adapter):
    for name in source_fixtures(adapter.NAME):
        fx = load_fixture(f"sources/{adapter.NAME}/{name}")
        yield name, fx, {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode()


@ADAPTERS
def test_every_source_has_recorded_deliveries_with_a_cited_doc(adapter):
    fixtures = list(recorded(adapter))
    assert fixtures, f"tests/fixtures/sources/{adapter.NAME}/ has no recorded delivery"
    assert all(fx.get("doc") for _, fx, _, _ in fixtures)


@ADAPTERS
def test_every_recorded_delivery_verifies_and_parses_to_hub_events(adapter):
    for name, fx, headers, body in recorded(adapter):
        with freeze_time(fx.get("now") or datetime.now(UTC)):
            adapter.verify(headers, body, [fx["secret"]])
        notices = adapter.parse(headers, body, tenant="acme")
        assert all(isinstance(n, (HubEvent, Lookup)) and n.tenant == "acme" and n.source == adapter.NAME for n in notices), name


@AS_LOCALLY
def test_signing_round_trips(adapter):
    for _, fx, _, body in recorded(adapter):
        headers = {k.lower(): v for k, v in adapter.sign(body, fx["secret"]).items()}
        adapter.verify(headers, body, [fx["secret"]])


@AS_LOCALLY
def test_a_signature_made_with_another_secret_fails(adapter):
    for _, fx, _, body in recorded(adapter):
        other = fx["secret"][:-4] + ("AAAA" if not fx["secret"].endswith("AAAA") else "BBBB")
        headers = {k.lower(): v for k, v in adapter.sign(body, other).items()}
        with pytest.raises(SignatureError):
            adapter.verify(headers, body, [fx["secret"]])


@ADAPTERS
def test_every_source_describes_itself_for_the_docs(adapter):
    assert adapter.EVENTS and all(isinstance(e, str) for e in adapter.EVENTS)
    assert isinstance(adapter.SIGNING, str) and adapter.SIGNING
    assert adapter.__doc__ and "Vendor docs:" in adapter.__doc__ and "Auth:" in adapter.__doc__


@ADAPTERS
def test_unknown_event_type_parses_to_nothing(adapter):
    """EVENT_FIELD: where the event type sits ("body", path...) or ("header", name)."""
    place, *path = adapter.EVENT_FIELD
    for _, _, headers, body in recorded(adapter):
        if place == "header":
            headers = {**headers, path[0]: "an.event.the_hub.does_not_use"}
        else:
            data = json.loads(body)
            target = data
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = "an.event.the_hub.does_not_use"
            body = json.dumps(data).encode()
        assert adapter.parse(headers, body, tenant="acme") == []


header_values = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=120)


@ADAPTERS
@FUZZ
@given(body=st.binary(max_size=2048),
       headers=st.dictionaries(st.sampled_from(["signature", "webhook-id", "webhook-timestamp", "webhook-signature",
                                                "content-type", "x-anything"]), header_values, max_size=5),
       secret=st.text(min_size=1, max_size=64))
def test_verify_only_ever_refuses_with_signature_error(adapter, body, headers, secret):
    with contextlib.suppress(SignatureError):
        adapter.verify(headers, body, [secret])


def json_values():
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                        max_leaves=25)


@ADAPTERS
@FUZZ
@given(data=st.data())
def test_parse_returns_events_or_payload_error_for_any_body(adapter, data):
    body = data.draw(st.one_of(st.binary(max_size=1024), json_values().map(lambda v: json.dumps(v).encode()),
                               mutated_fixture(adapter)))
    try:
        notices = adapter.parse({}, body, tenant="acme")
    except PayloadError:
        return
    assert all(isinstance(n, (HubEvent, Lookup)) for n in notices)


def mutated_fixture(adapter):
    """A recorded delivery with one field replaced by any JSON value: the shapes vendors really break."""
    bodies = [json.loads(body) for _, _, _, body in recorded(adapter)]

    def paths(value, prefix=()):
        yield prefix
        if isinstance(value, dict):
            for k, v in value.items():
                yield from paths(v, prefix + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value[:3]):
                yield from paths(v, prefix + (i,))

    def mutate(args):
        index, path_index, value = args
        doc = json.loads(json.dumps(bodies[index % len(bodies)]))
        all_paths = list(paths(doc))[1:]
        if not all_paths:
            return json.dumps(value).encode()
        path = all_paths[path_index % len(all_paths)]
        target = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        return json.dumps(doc).encode()

    return st.tuples(st.integers(0, 50), st.integers(0, 10_000), json_values()).map(mutate)


# -- what the signature covers ----------------------------------------------------------------------

UNCOVERED = {name for name, m in ALL.items() if getattr(m, "SIGNATURE_COVERS_BODY", None) is False}
UNCOVERED_ADAPTERS = pytest.mark.parametrize("adapter", [ALL[n] for n in sorted(UNCOVERED)], ids=sorted(UNCOVERED))


@ADAPTERS
def test_every_source_declares_whether_its_signature_covers_the_body(adapter):
    assert isinstance(getattr(adapter, "SIGNATURE_COVERS_BODY", None), bool)


def test_the_sources_whose_signature_does_not_cover_the_body_are_the_token_and_id_signers():
    # static tokens (Personio, SmartHR), a signature over the resource id (Teamtailor), over token and time (Lever)
    assert {"lever", "teamtailor", "personio", "smarthr"} <= UNCOVERED


@UNCOVERED_ADAPTERS
def test_a_source_whose_signature_does_not_cover_the_body_parses_its_deliveries_to_lookups_only(adapter):
    for name, _, headers, body in recorded(adapter):
        assert all(isinstance(n, Lookup) for n in adapter.parse(headers, body, tenant="acme")), name


@UNCOVERED_ADAPTERS
@FUZZ
@given(data=st.data())
def test_a_source_whose_signature_does_not_cover_the_body_never_parses_any_body_to_a_hub_event(adapter, data):
    body = data.draw(mutated_fixture(adapter))
    with contextlib.suppress(PayloadError):
        assert all(isinstance(n, Lookup) for n in adapter.parse({}, body, tenant="acme"))
