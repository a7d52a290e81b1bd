"""An independent reading of docs/kpis.md: the KPI counts recomputed from people's timelines alone,
to check the counters kept on write against."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

# at one instant the later stage wins; a reversal can only follow its rejection, so it wins that tie
PRECEDENCE = {"applied": 0, "rejected": 2, "rejection_reverted": 3, "hired": 4, "exited": 5}


def recompute(timelines, first_day: str, last_day: str, zone: str = "Asia/Tokyo") -> dict[str, int]:
    """Periods are the tenant's local days (a tenant without settings: Asia/Tokyo)."""
    counts: dict[str, int] = defaultdict(int)

    def in_period(moment: str) -> bool:
        local = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).date().isoformat()
        return first_day <= local <= last_day
    for entries in timelines:
        tracks, exits, applied, hired, contacts = {}, [], [], [], []
        for e in entries:
            kind, at = e["type"], e["occurred_at"]
            if kind in ("applied", "rejected", "rejection_reverted", "hired") and e.get("application_id"):
                key = e["application_id"]
                status = "applied" if kind == "rejection_reverted" else kind
                if key not in tracks or (at, PRECEDENCE[kind]) > tracks[key][:2]:
                    tracks[key] = (at, PRECEDENCE[kind], status)
            if kind == "exited":
                exits.append(at)
            if kind == "applied":
                applied.append(at)
            if kind == "hired":
                hired.append(at)
            if kind in ("notice_sent", "nurture_sent"):  # the hub mailed them
                contacts.append(at)
        returns = applied + hired  # a later application or hire: the person came back

        rejections = sorted(t[0] for t in tracks.values() if t[2] == "rejected")
        endings = []
        if rejections:
            endings.append(rejections[0])
            if in_period(rejections[0]):
                counts["rejected"] += 1
                counts["reapplied"] += any(r > rejections[0] for r in returns)
        if exits:
            first_exit = min(exits)
            endings.append(first_exit)
            if in_period(first_exit):
                counts["alumni"] += 1
                counts["alumni_returned"] += any(r > first_exit for r in returns)
        if endings:
            first = min(endings)
            if in_period(first):
                counts["ended"] += 1
                counts["recontacted"] += any(c >= first for c in contacts)
    return dict(counts)
