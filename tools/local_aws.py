"""Create, on the embedded AWS endpoint (or in-process moto), the resources the code expects,
from the code's own definitions (chalicelib/adapters/resources.py). Idempotent."""
from __future__ import annotations

import contextlib
import json
import secrets

import boto3

from chalicelib import settings
from chalicelib.adapters import resources


def provision() -> dict[str, str]:
    """Create the table, the queues with their dead-letter queues and the link key; returns the environment that
    carries the queues' URLs. No SES identity: a tenant's sender is registered by PUT .../settings
    (Senders.register), locally as in AWS, and moto verifies it at once."""
    config = settings.current()
    dynamodb = boto3.client("dynamodb")
    if config.table_name not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(**resources.create_table_kwargs(config.table_name))
        dynamodb.update_time_to_live(TableName=config.table_name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": resources.TABLE["ttl_attribute"]})
    sqs = boto3.client("sqs")
    env = {}
    for queue in resources.QUEUES:
        dlq_url = sqs.create_queue(QueueName=resources.queue_name(config.stage, queue) + "-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(**resources.create_queue_kwargs(config.stage, queue, dlq_arn))["QueueUrl"]
        env[resources.queue_env(queue)] = url
    for queue in resources.PARKING_QUEUES:
        env[resources.queue_env(queue)] = sqs.create_queue(QueueName=resources.queue_name(config.stage, queue))["QueueUrl"]
    provision_link_key(config.secrets_prefix)
    return env


def provision_link_key(prefix: str) -> None:
    """The platform's link key (<prefix>/link-key, as the stack generates it): made once, kept after."""
    client = boto3.client("secretsmanager")
    with contextlib.suppress(client.exceptions.ResourceExistsException):
        client.create_secret(Name=f"{prefix}/link-key", SecretString=json.dumps({"key": secrets.token_urlsafe(48)}))
