"""The AWS resources the code expects, defined once: the local run creates them from here, and
infra/ builds the deployed ones from the same definitions."""
from __future__ import annotations

import json
from typing import Any

# One table, keys "<kind>#..." carrying the tenant; gsi1 is a sparse index for due work.
TABLE: dict[str, Any] = {
    "key": [("pk", "S"), ("sk", "S")],
    "indexes": {"gsi1": [("gsi1pk", "S"), ("gsi1sk", "S")]},
    "ttl_attribute": "expires_at",
}


def create_table_kwargs(table_name: str) -> dict[str, Any]:
    """boto3 CreateTable arguments for TABLE (on-demand)."""
    attributes = {name: kind for name, kind in TABLE["key"]}
    for keys in TABLE["indexes"].values():
        attributes.update({name: kind for name, kind in keys})

    def schema(keys: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"AttributeName": keys[0][0], "KeyType": "HASH"}, {"AttributeName": keys[1][0], "KeyType": "RANGE"}]

    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in sorted(attributes.items())],
        "KeySchema": schema(TABLE["key"]),
        "GlobalSecondaryIndexes": [
            {"IndexName": name, "KeySchema": schema(keys), "Projection": {"ProjectionType": "ALL"}}
            for name, keys in TABLE["indexes"].items()
        ],
    }


# Queues between steps, each with a dead-letter queue. The consumer is the app.py function that
# Lambda's event-source mapping calls (with ReportBatchItemFailures; see infra/).
QUEUES: dict[str, dict[str, Any]] = {
    "enrich": {"consumer": "enrich_sources", "timeout_s": 60, "batch_size": 10,
               "purpose": "complete thin vendor notices from the vendor's API"},
    "notices": {"consumer": "send_notices", "timeout_s": 60, "batch_size": 10,
                "purpose": "send rejection notices and alumni farewells with the Career Relay link, and due nurture mail"},
    "writeback": {"consumer": "write_ats_fields", "timeout_s": 60, "batch_size": 10,
                  "purpose": "write Career Relay links into ATS fields (the ats_field delivery) and run its backfill"},
    "deliveries": {"consumer": "log_deliveries", "timeout_s": 30, "batch_size": 10,
                   "purpose": "write duplicate deliveries' entries into the delivery log, off the webhook's request path"},
}
MAX_RECEIVE_COUNT = 5
# Queues that only hold what could not be done, for people to look at (an alarm watches each).
PARKING_QUEUES = {"agency_dead_letters": "agency batches that kept failing; redrive after fixing the agency"}


def queue_name(stage: str, queue: str) -> str:
    return f"relations-hub-{stage}-{queue}"


def queue_env(queue: str) -> str:
    """The environment variable that carries a queue's URL (set by infra/ and by make run)."""
    return f"HUB_QUEUE_{queue.upper()}_URL"


def create_queue_kwargs(stage: str, queue: str, dlq_arn: str) -> dict[str, Any]:
    spec = QUEUES[queue]
    return {"QueueName": queue_name(stage, queue), "Attributes": {
        "VisibilityTimeout": str(6 * spec["timeout_s"]),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}),
    }}


# The tags the hub puts on each tenant's SES sender identity. infra/ lets the mail role send only
# from identities tagged with the stage (aws:ResourceTag), so an identity the hub did not register
# for a tenant (another stage's, or one made by hand) is not the hub's to send from.
SENDER_STAGE_TAG = "relations-hub:stage"
SENDER_TENANT_TAG = "relations-hub:tenant"
