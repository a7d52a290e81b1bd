"""e20-sources: the contract of DeliveryLog (the in-memory fake and DynamoDB in moto) and of
DeadLetters (the fake over FakeQueues and SQS in moto): newest first, paged, 14 days, tests left out
of `last`; dead letters listed without being taken, redriven once, only the tenant's."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.deliveries import KEEP, DeadLetters, Delivery, DeliveryLog
from tests.fakes import Clock, FakeDeadLetters, FakeQueues, InMemoryDeliveryLog


@pytest.fixture(params=["fake", "dynamo"])
def delivery_log(request: pytest.FixtureRequest) -> Iterator[tuple[DeliveryLog, Clock]]:
    clock = Clock()
    if request.param == "fake":
        yield InMemoryDeliveryLog(clock=clock), clock
        return
    from moto import mock_aws

    from chalicelib.adapters.dynamo import configure
    from chalicelib.adapters.dynamo.deliveries import DynamoDeliveryLog
    from tools.local_aws import provision

    with mock_aws():
        provision()
        configure(os.environ["HUB_TABLE"])
        yield DynamoDeliveryLog(clock=clock), clock


def test_deliveries_come_newest_first_in_pages_per_tenant_and_source(delivery_log) -> None:
    log, clock = delivery_log
    for outcome in ("accepted", "duplicate", "ignored"):
        log.record("acme", "greenhouse", Delivery(clock(), outcome, event="reject_candidate"))
        clock.advance(timedelta(seconds=1))
    log.record("acme", "greenhouse", Delivery(clock(), "refused", reason="signature"))
    log.record("globex", "greenhouse", Delivery(clock(), "accepted"))
    first, cursor = log.entries("acme", "greenhouse", limit=3, before=None)
    assert [d.outcome for d in first] == ["refused", "ignored", "duplicate"] and cursor is not None
    rest, end = log.entries("acme", "greenhouse", limit=3, before=cursor)
    assert [d.outcome for d in rest] == ["accepted"] and end is None
    assert first[0].reason == "signature" and rest[0].event == "reject_candidate"
    assert log.entries("acme", "lever", limit=3, before=None) == ([], None)


def test_the_last_delivery_leaves_tests_out_and_ends_after_14_days(delivery_log) -> None:
    log, clock = delivery_log
    assert log.last("acme", "greenhouse") is None
    log.record("acme", "greenhouse", Delivery(clock(), "accepted"))
    clock.advance(timedelta(seconds=1))
    log.record("acme", "greenhouse", Delivery(clock(), "accepted", test=True))
    last = log.last("acme", "greenhouse")
    assert last is not None and not last.test
    clock.advance(KEEP)
    assert log.last("acme", "greenhouse") is None


@pytest.fixture(params=["fake", "sqs"])
def dead_letters(request: pytest.FixtureRequest) -> Iterator[tuple[DeadLetters, Any, Any]]:
    """(the port, park(queue, body) -> None, waiting(queue) -> bodies on the source queue)."""
    if request.param == "fake":
        queues = FakeQueues()
        fake = FakeDeadLetters(queues, clock=Clock())
        yield fake, fake.park, queues.bodies
        return
    import boto3
    from moto import mock_aws

    from chalicelib.adapters import resources
    from chalicelib.adapters.dead_letters import SqsDeadLetters
    from chalicelib.adapters.queues import SqsQueues
    from tools.local_aws import provision

    with mock_aws():
        urls = provision()
        sqs = boto3.client("sqs")

        def park(queue: str, body: dict) -> None:
            url = sqs.get_queue_url(QueueName=resources.queue_name("test", queue) + "-dlq")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))

        def waiting(queue: str) -> list[dict]:
            answer = sqs.receive_message(QueueUrl=urls[resources.queue_env(queue)], MaxNumberOfMessages=10)
            return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

        yield SqsDeadLetters("test", SqsQueues("test", {})), park, waiting


def test_dead_letters_are_listed_in_place_and_redriven_once_for_their_tenant(dead_letters) -> None:
    port, park, waiting = dead_letters
    park("notices", {"tenant": "acme", "person_id": "p_1", "notice": "N#1"})
    park("notices", {"tenant": "globex", "person_id": "p_2", "notice": "N#2"})
    listed = port.peek("notices", max_messages=10)
    assert sorted(letter.body["tenant"] for letter in listed) == ["acme", "globex"]
    assert len(port.peek("notices", max_messages=10)) == 2  # still there
    mine = next(letter for letter in listed if letter.body["tenant"] == "acme")
    assert not port.redrive("notices", mine.message_id, "globex")
    assert port.redrive("notices", mine.message_id, "acme")
    assert not port.redrive("notices", mine.message_id, "acme")
    assert waiting("notices") == [{"tenant": "acme", "person_id": "p_1", "notice": "N#1"}]
    assert [letter.body["tenant"] for letter in port.peek("notices", max_messages=10)] == ["globex"]
    assert port.peek("enrich", max_messages=10) == []
