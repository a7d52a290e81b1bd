"""Nurture: segments, campaigns, the nurture job (docs/nurture.md)."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from chalicelib.domain import nurture, segments
from chalicelib.domain.errors import BadRequest, NotFound, PermanentError, RetryableError
from chalicelib.domain.events import iso
from chalicelib.services.common import NURTURE_PAGE, NURTURE_PREVIEW_BUDGET, NURTURE_ENROL_BUDGET, check_tenant


class Nurture:
    """Use cases of chalicelib.services.Hub, over the ports it holds."""

    # -- nurture: segments, campaigns, the nurture job (docs/nurture.md) ---------------------------

    def put_segment(self, tenant: str, slug: str, body: dict) -> dict:
        check_tenant(tenant)
        nurture.check_slug(slug, "segment")
        unknown = set(body) - {"expression"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        segment = segments.parse(body.get("expression"))
        version = self.config.put(tenant, f"SEGMENT#{slug}", {"expression": segment.expression})
        return {"segment": slug, "expression": segment.expression, "version": version,
                "read_through": [f"{kind}:{value}" for kind, value in segment.drivers]}

    def segment(self, tenant: str, slug: str) -> segments.Segment:
        nurture.check_slug(slug, "segment")
        found = self.config.get(check_tenant(tenant), f"SEGMENT#{slug}")
        if not found:
            raise NotFound("no such segment")
        return segments.parse(found[0]["expression"])

    def segment_preview(self, tenant: str, slug: str) -> dict:
        """The segment and how many people it holds now, read through its drivers' index."""
        segment = self.segment(tenant, slug)
        count, complete = 0, True
        for members in self._segment_pages(tenant, segment, self.clock(), budget=NURTURE_PREVIEW_BUDGET):
            if members is None:
                complete = False
                break
            count += len(members)
        return {"segment": slug, "expression": segment.expression, "count": count, "complete": complete}

    def _segment_pages(self, tenant: str, segment, now: datetime, *, budget: int | None):
        """The segment's members a page at a time: each driver's index read in pages, the profiles
        batch-read and filtered. A None page means the budget of index entries ran out first."""
        seen: set[str] = set()
        for kind, value in segment.drivers:
            after = None
            while True:
                ids, after = self.relations.search(tenant, kind, value, limit=NURTURE_PAGE, after=after)
                fresh = [pid for pid in ids if pid not in seen]
                seen.update(fresh)
                yield [p for p in self.relations.people(tenant, fresh) if segment.matches(p, now)] if fresh else []
                if after is None:
                    break
                if budget is not None and len(seen) >= budget:
                    yield None
                    return

    def put_campaign(self, tenant: str, slug: str, body: dict) -> dict:
        """Store a campaign and enrol its segment's members (up to a budget; the daily job does the rest)."""
        check_tenant(tenant)
        campaign = nurture.read_campaign(slug, body, kinds=tuple(self.templates.KINDS))
        if not self.config.get(tenant, f"SEGMENT#{campaign.segment}"):
            raise BadRequest(f"segment '{campaign.segment}' does not exist: PUT .../segments/{campaign.segment} first")
        version = self.config.put(tenant, f"CAMPAIGN#{slug}", campaign.to_json())
        self.relations.add_tenant(tenant)
        enrolment = self._enrol(tenant, campaign, budget=NURTURE_ENROL_BUDGET) if campaign.active else None
        return {**campaign.to_json(), "version": version, "enrolment": enrolment}

    def campaign(self, tenant: str, slug: str) -> dict:
        """A campaign and what it did so far: mails sent, occurrences passed by reason, deferrals."""
        nurture.check_slug(slug, "campaign")
        found = self.config.get(check_tenant(tenant), f"CAMPAIGN#{slug}")
        if not found:
            raise NotFound("no such campaign")
        prefix = f"nurture.campaign.{slug}."
        counts = {k[len(prefix):]: v for k, v in self.relations.counters(tenant).items() if k.startswith(prefix)}
        stats = {"sent": counts.get("sent", 0), "deferred": counts.get("deferred", 0),
                 "skipped": {k[len("skipped."):]: v for k, v in counts.items() if k.startswith("skipped.") and v}}
        return {**found[0], "version": found[1], "stats": stats}

    def _enrol(self, tenant: str, campaign: nurture.Campaign, *, budget: int | None) -> dict:
        """Give each eligible member of the campaign's segment a schedule at their next occurrence.
        Reads the segment through its drivers (cost grows with the segment, not the table)."""
        report = {"members": 0, "scheduled": 0, "complete": True}
        try:
            segment = self.segment(tenant, campaign.segment)
        except NotFound:
            return {**report, "complete": False}
        now = self.clock()
        for members in self._segment_pages(tenant, segment, now, budget=budget):
            if members is None:
                report["complete"] = False
                break
            report["members"] += len(members)
            eligible = [p for p in members if nurture.why_not(p) is None]
            existing = self.nurture_store.schedules(tenant, campaign.slug, [p.person_id for p in eligible])
            for person in eligible:
                current = existing.get(person.person_id)
                enrolled_at = current.enrolled_at if current else iso(now)
                due = nurture.occurrence(person, campaign.cadence, last_done=current.last_done if current else None,
                                         enrolled_at=enrolled_at)
                if (current.occurrence if current else None) == due:
                    continue  # as planned (perhaps deferred by the interval): leave it
                planned = nurture.Schedule(campaign.slug, enrolled_at, occurrence=due, next_due=due,
                                           last_done=current.last_done if current else None,
                                           last_outcome=current.last_outcome if current else None)
                report["scheduled"] += self.nurture_store.plan(tenant, person.person_id, planned, expected=current)
        return report

    def run_nurture(self, tenant: str) -> dict:
        """The nurture job for one tenant: enrol each active campaign's segment, then queue every
        schedule that is due (read from the sparse due index alone) for the mail step."""
        check_tenant(tenant)
        report = {"tenant": tenant, "campaigns": 0, "members": 0, "scheduled": 0}
        for data, _ in self.config.list(tenant, "CAMPAIGN#"):
            campaign = nurture.Campaign.from_json(data)
            if campaign.active:
                enrolment = self._enrol(tenant, campaign, budget=None)
                report["campaigns"] += 1
                report["members"] += enrolment["members"]
                report["scheduled"] += enrolment["scheduled"]
        return {**report, **self.dispatch_nurture(tenant)}

    def dispatch_nurture(self, tenant: str) -> dict:
        """Queue the schedules due now for the mail step; reads only the due index entries."""
        due = self.nurture_store.due(check_tenant(tenant), self.clock())
        for person_id, campaign, when in due:
            self.queues.send("notices", {"tenant": tenant, "person_id": person_id, "campaign": campaign, "due": when})
        return {"due": len(due), "queued": len(due)}

    def run_all_nurture(self) -> list[dict]:
        return [self.run_nurture(tenant) for tenant in self.relations.tenants()]

    def send_nurture(self, tenant: str, person_id: str, slug: str, due: str) -> str:
        """Send one due nurture mail, once, if the law, the person and the interval allow it; else pass
        the occurrence with a reason or defer it. Returns what became of it."""
        store = self.nurture_store
        schedule = store.schedule(tenant, person_id, slug)
        if schedule is None or schedule.next_due != due:
            return "skipped"  # done already (a second job run, a redelivered message), moved, or erased
        now = self.clock()
        found = self.config.get(tenant, f"CAMPAIGN#{slug}")
        campaign = nurture.Campaign.from_json(found[0]) if found else None
        people = self.relations.people(tenant, [person_id])
        person = people[0] if people else None
        if campaign is None or not campaign.active or person is None:
            return self._pass_nurture(tenant, person_id, schedule, "campaign_inactive", next_due=None)
        try:
            in_segment = self.segment(tenant, campaign.segment).matches(person, now)
        except NotFound:
            in_segment = False
        if not in_segment:  # out of the due index until enrolment finds them in the segment again
            return self._pass_nurture(tenant, person_id, schedule, "left_segment", next_due=None)
        natural = nurture.occurrence(person, campaign.cadence, last_done=schedule.last_done, enrolled_at=schedule.enrolled_at)
        if natural != schedule.occurrence:  # a new ending since it was planned
            store.plan(tenant, person_id, replace(schedule, occurrence=natural, next_due=natural), expected=schedule)
            return "rescheduled"
        following = nurture.occurrence(person, campaign.cadence, last_done=schedule.occurrence,
                                       enrolled_at=schedule.enrolled_at)
        reason = nurture.why_not(person) or ("suppressed" if self.suppressions.reasons(tenant, person.email) else None)
        if reason:
            return self._pass_nurture(tenant, person_id, schedule, reason, next_due=following)
        settings = self.tenant_settings(tenant)
        if settings is None:
            raise RetryableError("the tenant has no mail settings yet (PUT /admin/tenants/{tenant}/settings)")
        key = nurture.mail_key(person_id, slug, schedule.occurrence)
        claim, until = store.claim(tenant, person_id, slug, due, key, now=now, interval_days=settings.nurture_interval_days)
        if claim == "stale":
            return "skipped"
        if claim == "interval":  # another nurture mail went out lately: try again when the interval ends
            store.plan(tenant, person_id, replace(schedule, next_due=until), expected=schedule,
                       counters={"nurture.deferred": 1, f"nurture.campaign.{slug}.deferred": 1})
            return "deferred"
        locale = person.locale if person.locale in self.templates.LOCALES else settings.default_locale
        template = self.template(tenant, campaign.template_kind, locale)
        notice = f"NURTURE#{slug}"
        try:
            result = self.once.run(tenant, key, lambda: self._mail(
                tenant, person, settings, template, locale, kind=campaign.template_kind, notice=notice, job_title=None,
                reference=hashlib.sha256(key.encode()).hexdigest()[:16]))
        except PermanentError:
            return self._pass_nurture(tenant, person_id, schedule, "mail_refused", next_due=following)
        entry = {"type": "nurture_sent", "campaign": slug, "template_kind": campaign.template_kind,
                 "occurred_at": result["sent_at"], "template_version": template.version, "locale": locale}
        done = replace(schedule, occurrence=following, next_due=following, last_done=schedule.occurrence, last_outcome="sent")
        counters = {"nurture.sent": 1, f"nurture.sent.{campaign.template_kind}": 1, f"nurture.campaign.{slug}.sent": 1}
        recorded = store.sent(tenant, person_id, due, done, sent_at=result["sent_at"], entry=entry, counters=counters)
        return "sent" if recorded else "skipped"

    def _pass_nurture(self, tenant: str, person_id: str, schedule, reason: str, *, next_due: str | None) -> str:
        """Mark an occurrence done without mail, for a reason (counted), and plan the next one, if any."""
        passed = replace(schedule, occurrence=next_due, next_due=next_due, last_done=schedule.occurrence,
                         last_outcome=reason)
        self.nurture_store.plan(tenant, person_id, passed, expected=schedule, counters={
            "nurture.skipped": 1, f"nurture.skipped.{reason}": 1, f"nurture.campaign.{schedule.campaign}.skipped.{reason}": 1})
        return reason
