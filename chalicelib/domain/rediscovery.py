"""Rediscovery: a known person applying again shows on their timeline as a re-application, and an
alumnus applying or being rehired as a boomerang (pure rules).

The flags are derived when the timeline is read, by replaying its entries in `occurred_at` order,
not stored when a fact arrives: facts arrive in any order (a rejection may arrive after the later
application), and a flag fixed at arrival would differ with the order. Replayed, the same facts
always give the same flags. The KPIs count the same people through their memberships
(`reapplied`, `alumni_returned` in chalicelib/domain/kpis.py), also independent of order."""
from __future__ import annotations

from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.person import PRECEDENCE

ENDED = ("rejected", "offer_declined")


def annotate(timeline: list[JsonObject]) -> list[JsonObject]:
    """The timeline, in its order, with "reapplication": true on applications made while another
    application of the person had ended (rejected or declined), and "boomerang": true on
    applications and hires after the person left the company."""
    order = sorted(range(len(timeline)), key=lambda i: (timeline[i].get("occurred_at", ""),
                                                        PRECEDENCE.get(timeline[i].get("type", ""), 9)))
    status: dict[tuple[str | None, str | None], str] = {}  # by (source, application_id)
    exited = False
    flags: dict[int, dict[str, bool]] = {}
    for index in order:
        entry = timeline[index]
        kind, key = entry.get("type"), (entry.get("source"), entry.get("application_id"))
        if kind in ("applied", "hired"):
            found: dict[str, bool] = {}
            if kind == "applied" and any(s in ENDED for k, s in status.items() if k != key):
                found["reapplication"] = True
            if exited:
                found["boomerang"] = True
            if found:
                flags[index] = found
            status[key] = kind
        elif kind == "rejected":
            status[key] = "offer_declined" if entry.get("by_candidate") else "rejected"
        elif kind == "rejection_reverted":
            status[key] = "applied"
        elif kind == "exited":
            exited = True
    return [{**entry, **flags[i]} if i in flags else entry for i, entry in enumerate(timeline)]
