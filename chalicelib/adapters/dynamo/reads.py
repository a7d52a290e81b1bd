"""Reads several stores share: items by key, a person's profile, raw items whose attribute names
are data (counters, ledgers)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.dynamo import convert, keys
from chalicelib.adapters.dynamo.models import HubItem, PersonItem, connection, table_name
from chalicelib.domain.person import Person


def utc_now() -> datetime:
    """The stores' default clock."""
    return datetime.now(UTC)


def batch_get(wanted: Iterable[keys.Key]) -> dict[keys.Key, HubItem]:
    """The items found under these keys (strongly consistent), by key."""
    unique = list(dict.fromkeys(wanted))
    if not unique:
        return {}
    return {(item.pk, item.sk): item for item in HubItem.batch_get(unique, consistent_read=True)}


def person(tenant: str, person_id: str) -> Person | None:
    try:
        item = PersonItem.get(*keys.profile_key(tenant, person_id), consistent_read=True)
    except PersonItem.DoesNotExist:
        return None
    return convert.person(item, tenant, person_id)


def contacted(tenant: str, person_id: str, sent_at: str) -> tuple[Person, Person] | None:
    """The person as stored and as they are once the hub mailed them at sent_at (last contact
    moved, which the re-contact KPI follows); None when they are gone."""
    before = person(tenant, person_id)
    if before is None:
        return None
    return contacted_from(before, sent_at)


def contacted_from(before: Person, sent_at: str) -> tuple[Person, Person]:
    """contacted, from the person as read already."""
    return before, replace(before, last_contact_at=max(before.last_contact_at or "", sent_at))


def raw_item(key: keys.Key) -> dict[str, Any]:
    """One item as DynamoDB holds it ({} when absent): for items whose attribute names are data."""
    answer = connection().client.get_item(TableName=table_name(), ConsistentRead=True,
                                          Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}})
    item: dict[str, Any] = answer.get("Item", {})
    return item


def raw_items(wanted: list[keys.Key]) -> list[dict[str, Any]]:
    """The items found under these keys (at most 100), as DynamoDB holds them: one BatchGetItem
    (again for any keys DynamoDB leaves unprocessed)."""
    request: dict[str, Any] = {table_name(): {"ConsistentRead": True,
                                              "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted]}}
    found: list[dict[str, Any]] = []
    while request:
        answer = connection().client.batch_get_item(RequestItems=request)
        found += answer.get("Responses", {}).get(table_name(), [])
        request = answer.get("UnprocessedKeys") or {}
    return found


def raw_range(pk: str, first_sk: str, last_sk: str) -> list[dict[str, Any]]:
    """The items of a partition with sort keys from first_sk to last_sk, as DynamoDB holds them."""
    query: dict[str, Any] = {
        "TableName": table_name(), "ConsistentRead": True, "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":a": {"S": first_sk}, ":b": {"S": last_sk}}}
    found: list[dict[str, Any]] = []
    while True:
        page = connection().client.query(**query)
        found += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
