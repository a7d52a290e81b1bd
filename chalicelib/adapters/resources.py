"""The AWS resources the code expects, defined once: the local run creates them from here, and
infra/ builds the deployed ones from the same definitions."""
from __future__ import annotations

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
