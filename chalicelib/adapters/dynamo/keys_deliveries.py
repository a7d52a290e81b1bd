"""e20-sources: the keys of the delivery log, part of keys.py's key map (kept apart: keys.py is full).

`T#<tenant>#DLV#<source>` / `<at>#<nonce>`: one partition per tenant and source, newest last, each
entry removed by the table's TTL after 14 days (chalicelib/domain/deliveries.py KEEP)."""
from __future__ import annotations


def delivery_log_pk(tenant: str, source: str) -> str:
    return f"T#{tenant}#DLV#{source}"


def delivery_log_sk(at: str, nonce: str) -> str:
    return f"{at}#{nonce}"
