"""e20-sources: the DeadLetters port on SQS. A listing receives without deleting (a short
visibility timeout, a bounded number of receives); a redrive finds the message by id, sends its body
to the source queue, then deletes it from the dead-letter queue."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from chalicelib.adapters import resources
from chalicelib.adapters.queues import SqsQueues
from chalicelib.domain.deliveries import DeadLetter
from chalicelib.domain.errors import RetryableError

RECEIVES = 5  # receive calls per listing or redrive, 10 messages each at most
HOLD_S = 30   # a received message is hidden while the listing goes on, then made visible again at once


class SqsDeadLetters:
    def __init__(self, stage: str, queues: SqsQueues) -> None:
        self._stage = stage
        self._queues = queues
        self._urls: dict[str, str] = {}

    @cached_property
    def _sqs(self) -> Any:
        import boto3
        return boto3.client("sqs")

    def _url(self, queue: str) -> str:
        if queue not in self._urls:
            name = resources.queue_name(self._stage, queue) + "-dlq"
            self._urls[queue] = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._urls[queue]

    def _receive(self, queue: str, visibility_s: int) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            answer = self._sqs.receive_message(QueueUrl=self._url(queue), MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                               VisibilityTimeout=visibility_s, AttributeNames=["All"])
        except (BotoCoreError, ClientError) as error:
            raise RetryableError(f"the {queue} dead-letter queue could not be read") from error
        return list(answer.get("Messages", []))

    def _release(self, queue: str, messages: list[dict[str, Any]]) -> None:
        """Visible again at once: a listing (or a redrive of another message) leaves them in place."""
        for first in range(0, len(messages), 10):
            batch = messages[first:first + 10]
            self._sqs.change_message_visibility_batch(QueueUrl=self._url(queue), Entries=[
                {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for index, m in enumerate(batch)])

    def peek(self, queue: str, *, max_messages: int) -> Sequence[DeadLetter]:
        found: dict[str, DeadLetter] = {}
        held: list[dict[str, Any]] = []
        try:
            for _ in range(RECEIVES):
                messages = self._receive(queue, HOLD_S)
                held.extend(messages)
                for message in messages:
                    found.setdefault(message["MessageId"], _letter(queue, message))
                if not messages or len(found) >= max_messages:
                    break
        finally:
            self._release(queue, held)
        return list(found.values())[:max_messages]

    def redrive(self, queue: str, message_id: str, tenant: str) -> bool:
        held: list[dict[str, Any]] = []
        try:
            for _ in range(RECEIVES):
                messages = self._receive(queue, HOLD_S)
                if not messages:
                    return False
                found = next((m for m in messages if m["MessageId"] == message_id
                              and _letter(queue, m).body.get("tenant") == tenant), None)
                held.extend(m for m in messages if m is not found)
                if found is not None:
                    self._queues.send(queue, json.loads(found["Body"]))
                    self._sqs.delete_message(QueueUrl=self._url(queue), ReceiptHandle=found["ReceiptHandle"])
                    return True
            return False
        finally:
            self._release(queue, held)


def _letter(queue: str, message: dict[str, Any]) -> DeadLetter:
    try:
        body = json.loads(message.get("Body") or "{}")
    except ValueError:
        body = {}
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    return DeadLetter(message_id=message["MessageId"], queue=queue, body=body if isinstance(body, dict) else {},
                      sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
                      receives=int(attributes.get("ApproximateReceiveCount", "0")))
