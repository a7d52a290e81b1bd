"""An agency's slot ledger explained (e20-programs, docs/admin-api.md "The ledger explained"): which
accepted referrals earned each slot, and how many more the next slot needs.

The ledger counts accepted referrals one by one (the n-th accepted referral is stored under its n,
in the same transaction that counts it); a slot is earned when the count crosses the agency's rule
(`referrals.slots_for`). A slot earned at accepted_total T was earned by the accepted referrals after
the previous slot's total, up to T: with 10 a slot, slot n by the accepted referrals 10(n-1)+1..10n.
Referrals accepted before the hub kept their order are counted but cannot be named."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

JsonDict = dict[str, Any]
EXPLAINED_SLOTS = 100  # the newest slots named referral by referral (older ones keep their counts)


def slot_ranges(entries: Sequence[JsonDict]) -> list[tuple[int, int]]:
    """(first, last) accepted referral of each slot_earned entry, in the entries' order."""
    totals = sorted({int(e["accepted_total"]) for e in entries if e.get("type") == "slot_earned"})
    previous = dict(zip(totals, [0, *totals], strict=False))
    return [(previous[int(e["accepted_total"])] + 1, int(e["accepted_total"]))
            for e in entries if e.get("type") == "slot_earned"]


def explain(entries: Sequence[JsonDict], accepted: int, per_slot: int,
            read: Callable[[int, int], list[JsonDict]]) -> tuple[list[JsonDict], JsonDict]:
    """The entries, each slot_earned one with `earned_by` ({first, last, referrals: [{n, at,
    referral_id, person_id, batch_id}]}), and the progress toward the next slot. `read(first, last)`
    gives the accepted referrals first..last (one read for all the slots explained)."""
    ranges = slot_ranges(entries)
    named = sorted(ranges, key=lambda r: r[1])[-EXPLAINED_SLOTS:]
    found: dict[int, JsonDict] = {}
    if named:
        found = {int(r["n"]): r for r in read(named[0][0], named[-1][1])}
    explained, slot_ranges_left = [], iter(ranges)
    for entry in entries:
        if entry.get("type") != "slot_earned":
            explained.append(dict(entry))
            continue
        first, last = next(slot_ranges_left)
        referrals = [found[n] for n in range(first, last + 1) if n in found] if (first, last) in named else []
        explained.append({**entry, "earned_by": {"first": first, "last": last, "referrals": referrals,
                                                 "unnamed": (last - first + 1) - len(referrals)}})
    last_total = max((r[1] for r in ranges), default=0)
    next_at = (accepted // per_slot + 1) * per_slot if per_slot > 0 else 0
    progress = {"accepted": accepted, "since_last_slot": accepted - last_total, "next_slot_at": next_at,
                "still_needed": max(next_at - accepted, 0), "pending": found_pending(accepted, last_total, read)}
    return explained, progress


def found_pending(accepted: int, last_total: int, read: Callable[[int, int], list[JsonDict]]) -> list[JsonDict]:
    """The accepted referrals counted toward the next slot (after the last slot earned)."""
    return read(last_total + 1, accepted) if accepted > last_total else []
