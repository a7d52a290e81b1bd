"""The key of an agency's accepted referrals in order, part of keys.py's key map (kept apart: keys.py is full).

`T#<tenant>#AGY#<agency>` / `ACC#<n, 10 digits>`: the n-th accepted referral of the agency, written in
the transaction that counts it in the ledger, so the ledger explains each slot by the ten referrals
that earned it (docs/console.md, "Agencies")."""
from __future__ import annotations

from chalicelib.adapters.dynamo import keys


def accepted_sk(n: int) -> str:
    return f"ACC#{n:010d}"


def batches_prefix() -> str:
    """The sort-key prefix of an agency's batches (keys.batch_key): the recent batches are read by it."""
    return keys.batch_key("_", "_", "")[1]
