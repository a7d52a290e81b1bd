"""Where a tenant's counters live: no hot item.

Every change a tenant's intake records ADDs to its counters in the same transaction. On one item
(`TOTAL`, and today's `DAY#<day>`) every transaction of a tenant would touch the same two items, and
DynamoDB cancels a transaction that touches an item another transaction is writing
(TransactionConflict): a burst of webhooks would serialise on them. So the counters are spread over
SHARDS shards per item, in the tenant's counter partition `T#<tenant>#CTR`:

  TOTAL#S<nn>             the running totals, shard nn (00 .. SHARDS-1)
  DAY#<yyyy-mm-dd>#S<nn>  one local day's counters, shard nn

A writer picks the shard by a hash of the person the change is about (any shard when there is
none); a reader sums the shards. Items written before shards (`TOTAL`, `DAY#<yyyy-mm-dd>`) are read
and summed too, so existing tables need no migration: the totals are one BatchGetItem of
SHARDS + 1 keys, a range of days one query (the same requests whatever the people stored;
docs/kpis.md)."""
from __future__ import annotations

import hashlib
import random

SHARDS = 32          # 0: the single items of before (the bench's `before` run sets it)
TOTAL = "TOTAL"
_DAY = "DAY#"
_SHARD = "#S"


def shard_of(person_id: str | None) -> int:
    """The shard a change about this person goes to (a random one when it is about no one)."""
    if person_id is None:
        return random.randrange(SHARDS)
    return int.from_bytes(hashlib.sha256(person_id.encode()).digest()[:4], "big") % SHARDS


def total_sk(shard: int | None) -> str:
    """The totals item: shard `shard`, or (None) the unsharded item written before shards."""
    return TOTAL if shard is None or not SHARDS else f"{TOTAL}{_SHARD}{shard:02d}"


def day_sk(day: str, shard: int | None) -> str:
    return _DAY + day if shard is None or not SHARDS else f"{_DAY}{day}{_SHARD}{shard:02d}"


def total_sks() -> list[str]:
    """Every totals item a reader sums: the unsharded one of before, then each shard."""
    return [TOTAL, *(total_sk(shard) for shard in range(SHARDS))]


def day_range(first: str, last: str) -> tuple[str, str]:
    """The sort keys bounding every day item (unsharded or a shard) from first to last."""
    return _DAY + first, _DAY + last + "#~"  # "#S<nn>" sorts below "#~"


def day_of(sk: str) -> str:
    """The day of a day item, sharded or not."""
    return sk[len(_DAY):].split("#", 1)[0]
