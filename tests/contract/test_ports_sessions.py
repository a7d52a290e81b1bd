"""The contract of Sessions (the console's sessions and unfinished sign-ins), on the in-memory fake
and on the DynamoDB store in moto: stored by hashes only, touched, deleted, sign-ins taken once."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest

from chalicelib.domain import ports
from chalicelib.domain.console import ConsoleSession, Identity, PendingSignIn, digest, new_secret
from tests.fakes import Clock, InMemorySessions


@pytest.fixture(params=["fake", "dynamo"])
def sessions(request: pytest.FixtureRequest) -> Iterator[tuple[ports.Sessions, Clock]]:
    clock = Clock()
    if request.param == "fake":
        yield InMemorySessions(clock=clock), clock
        return
    from moto import mock_aws

    from chalicelib.adapters.dynamo import DynamoSessions, configure
    from tools.local_aws import provision

    with mock_aws():
        provision()
        configure(os.environ["HUB_TABLE"])
        yield DynamoSessions(clock=clock), clock


def a_session(clock: Clock, session_id: str) -> ConsoleSession:
    return ConsoleSession(id_hash=digest(session_id), identity=Identity("sub-1", "hanako", ("acme:editor", "platform-admin")),
                          csrf=new_secret(), created_at=clock(), last_seen_at=clock())


def test_a_session_is_stored_and_found_by_the_hash_of_its_id(sessions) -> None:
    store, clock = sessions
    session_id = new_secret()
    session = a_session(clock, session_id)
    store.put(session)

    assert store.get(digest(session_id)) == session
    assert store.get(digest(new_secret())) is None


def test_touch_moves_the_last_use_and_delete_ends_it(sessions) -> None:
    store, clock = sessions
    session = a_session(clock, "id-1")
    store.put(session)
    later = clock.advance(minutes=10)
    store.touch(session.id_hash, later)
    found = store.get(session.id_hash)
    assert found is not None and found.last_seen_at == later and found.created_at == session.created_at

    store.delete(session.id_hash)
    assert store.get(session.id_hash) is None
    store.touch(session.id_hash, clock.advance(minutes=1))  # an ended session stays ended
    assert store.get(session.id_hash) is None
    store.delete(session.id_hash)  # twice is fine


def test_a_sign_in_is_taken_once_and_not_after_it_lapsed(sessions) -> None:
    store, clock = sessions
    state = new_secret()
    store.begin(PendingSignIn(digest(state), "verifier-1", clock() + timedelta(minutes=10)))
    taken = store.take(digest(state), clock())
    assert taken is not None and taken.code_verifier == "verifier-1"
    assert store.take(digest(state), clock()) is None

    store.begin(PendingSignIn(digest("late"), "verifier-2", clock() + timedelta(minutes=10)))
    assert store.take(digest("late"), clock.advance(minutes=11)) is None
    assert store.take(digest("unknown"), clock()) is None


def test_the_dynamodb_items_hold_no_session_id_and_expire_with_the_session() -> None:
    """At rest: the SHA-256 of the id only, and a TTL at the session's end (idle or absolute)."""
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.dynamo import DynamoSessions, configure
    from tools.local_aws import provision

    clock = Clock()
    with mock_aws():
        provision()
        configure(os.environ["HUB_TABLE"])
        store = DynamoSessions(clock=clock)
        session_id = new_secret()
        session = a_session(clock, session_id)
        store.put(session)
        items = boto3.resource("dynamodb").Table(os.environ["HUB_TABLE"]).scan()["Items"]
        assert len(items) == 1 and session_id not in repr(items)
        assert digest(session_id) in items[0]["pk"]
        assert int(items[0]["expires_at"]) == int((clock() + timedelta(minutes=30)).timestamp())
        store.touch(session.id_hash, clock.advance(hours=7, minutes=50))
        item = boto3.resource("dynamodb").Table(os.environ["HUB_TABLE"]).scan()["Items"][0]
        assert int(item["expires_at"]) == int((session.created_at + timedelta(hours=8)).timestamp())
