"""The Queues port on SQS (boto3, built on first use)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from chalicelib.adapters import resources
from chalicelib.domain.errors import RetryableError


class SqsQueues:
    def __init__(self, stage: str, urls: dict[str, str]) -> None:
        self._stage = stage
        self._urls = dict(urls)

    @cached_property
    def _sqs(self):
        import boto3
        return boto3.client("sqs")

    def url(self, queue: str) -> str:
        if queue not in self._urls:  # not configured by environment: find it by its conventional name
            self._urls[queue] = self._sqs.get_queue_url(QueueName=resources.queue_name(self._stage, queue))["QueueUrl"]
        return self._urls[queue]

    def send(self, queue: str, body: Mapping[str, Any], delay_s: int = 0) -> None:
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            self._sqs.send_message(QueueUrl=self.url(queue), MessageBody=json.dumps(body, separators=(",", ":")),
                                   DelaySeconds=min(max(int(delay_s), 0), 900))
        except (BotoCoreError, ClientError) as error:
            raise RetryableError(f"the {queue} queue did not take the message") from error
