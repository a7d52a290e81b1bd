"""The keys of gsi1, the sparse index of waiting work: an item carries gsi1pk/gsi1sk only while
it waits (a notice to send, a referral to batch or withdraw, an open batch, a due nurture mail).
Part of keys.py's key map, which re-exports these; kept apart so each file stays short."""
from __future__ import annotations

OUTBOX = "OUTBOX"  # notices waiting to go out, all tenants, by due time: read for items stored before OUTBOX#<tenant>


def outbox_pk(tenant: str) -> str:
    """A tenant's notices waiting to go out, by due time (the sweep serves each tenant with a budget of its own)."""
    return f"OUTBOX#{tenant}"


def outbox_sk(due_at: str, tenant: str, person_id: str, notice: str) -> str:
    return f"{due_at}#{tenant}#{person_id}#{notice}"


def outbox_entry(sk: str) -> tuple[str, str, str, str]:
    """(due at, tenant, person id, notice sk) of an outbox entry."""
    due, tenant, person_id, notice = sk.split("#", 3)
    return due, tenant, person_id, notice


def queued_pk(tenant: str, agency: str) -> str:
    return f"REFQ#{tenant}#{agency}"


def withdrawals_pk(tenant: str, agency: str) -> str:
    return f"WDQ#{tenant}#{agency}"


def waiting_person_sk(at: str, person_id: str) -> str:
    """The gsi1 sort key of a referral waiting in REFQ# or WDQ#: oldest first."""
    return f"{at}#{person_id}"


def open_batches_pk(tenant: str, agency: str) -> str:
    return f"OPENB#{tenant}#{agency}"


def open_batch_sk(created_at: str, batch_id: str) -> str:
    return f"{created_at}#{batch_id}"


def nurture_due_pk(tenant: str) -> str:
    return f"NURT#{tenant}"


def nurture_due_sk(next_due: str, campaign: str, person_id: str) -> str:
    return f"{next_due}#{campaign}#{person_id}"


def nurture_due_entry(sk: str) -> tuple[str, str, str]:
    """(next due, campaign, person id) of a due schedule."""
    due, campaign, person_id = sk.split("#", 2)
    return due, campaign, person_id



def waiting_pk(tenant: str) -> str:
    """A tenant's notices waiting for its sender (gsi1sk: their outbox_sk, the same entry they had under OUTBOX)."""
    return f"NWAIT#{tenant}"
