"""Counters kept on write (Transaction.count ADDs them) and the KPI snapshots of each day (the
Counters port). Reads grow with the days asked for, never with the people stored."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.adapters.dynamo import convert, keys, reads
from chalicelib.adapters.dynamo.models import LedgerEntryItem
from chalicelib.adapters.dynamo.transaction import conditional
from chalicelib.domain.records import JsonDict


class DynamoCounters:
    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock  # (counters are dated by the facts they count; every store takes the clock)

    def totals(self, tenant: str) -> dict[str, int]:
        return convert.numbers(reads.raw_item((keys.counters_pk(tenant), keys.COUNTERS_TOTAL)))

    def days(self, tenant: str, first: str, last: str) -> dict[str, dict[str, int]]:
        """The day counters from first to last (YYYY-MM-DD), by day."""
        items = reads.raw_range(keys.counters_pk(tenant), keys.counters_day_sk(first), keys.counters_day_sk(last))
        return {keys.day_of_counters(item["sk"]["S"]): convert.numbers(item) for item in items}

    def snapshots(self, tenant: str, first: str, last: str) -> dict[str, JsonDict]:
        return {keys.day_of_snapshot(item.sk): item.entry for item in LedgerEntryItem.query(
            keys.kpi_pk(tenant), LedgerEntryItem.sk.between(keys.snapshot_sk(first), keys.snapshot_sk(last)),
            consistent_read=True)}

    def save_snapshot(self, tenant: str, day: str, document: JsonDict) -> bool:
        """Store the day's snapshot once; False when that day has one."""
        item = LedgerEntryItem(keys.kpi_pk(tenant), keys.snapshot_sk(day), entry=document)
        return conditional(lambda: item.save(condition=LedgerEntryItem.pk.does_not_exist()))
