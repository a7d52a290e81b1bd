"""Counters kept on write (Transaction.count ADDs them, in shards: counter_keys) and the KPI snapshots
of each day (the Counters port). Reads sum the shards and the unsharded items written before them;
they grow with the days asked for, never with the people stored."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo import convert, counter_keys, keys, reads
from chalicelib.adapters.dynamo.models import LedgerEntryItem
from chalicelib.adapters.dynamo.transaction import conditional
from chalicelib.domain.records import JsonDict


class DynamoCounters:
    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock  # (counters are dated by the facts they count; every store takes the clock)

    def totals(self, tenant: str) -> dict[str, int]:
        """The running totals: every shard and the unsharded item of before, summed (one BatchGetItem)."""
        pk = keys.counters_pk(tenant)
        return _summed(reads.raw_items([(pk, sk) for sk in counter_keys.total_sks()]))

    def days(self, tenant: str, first: str, last: str) -> dict[str, dict[str, int]]:
        """The day counters from first to last (YYYY-MM-DD), by day, their shards summed (one query)."""
        by_day: dict[str, list[dict[str, Any]]] = {}
        for item in reads.raw_range(keys.counters_pk(tenant), *counter_keys.day_range(first, last)):
            by_day.setdefault(counter_keys.day_of(item["sk"]["S"]), []).append(item)
        return {day: _summed(items) for day, items in by_day.items()}

    def snapshots(self, tenant: str, first: str, last: str) -> dict[str, JsonDict]:
        return {keys.day_of_snapshot(item.sk): item.entry for item in LedgerEntryItem.query(
            keys.kpi_pk(tenant), LedgerEntryItem.sk.between(keys.snapshot_sk(first), keys.snapshot_sk(last)),
            consistent_read=True)}

    def save_snapshot(self, tenant: str, day: str, document: JsonDict) -> bool:
        """Store the day's snapshot once; False when that day has one."""
        item = LedgerEntryItem(keys.kpi_pk(tenant), keys.snapshot_sk(day), entry=document)
        return conditional(lambda: item.save(condition=LedgerEntryItem.pk.does_not_exist()))


def _summed(items: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for item in items:
        for name, value in convert.numbers(item).items():
            total[name] = total.get(name, 0) + value
    return total
