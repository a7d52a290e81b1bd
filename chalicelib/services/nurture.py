"""Nurture: segments, campaigns, the nurture job (docs/nurture.md)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.domain import counters, listing, nurture, people_search, segments, senders
from chalicelib.domain.errors import BadRequest, NotFound, PermanentError, TemplateError
from chalicelib.domain.events import iso
from chalicelib.domain.person import Person
from chalicelib.domain.ports import Clock, Config, Counters, NurtureSchedules, Once, Queues, Relations, Suppressions, Templates, Tenants
from chalicelib.domain.records import JsonDict
from chalicelib.services.common import (
    LIST_COUNT_BUDGET,
    LIST_COUNT_PAGE_BUDGET,
    MEMBERS_QUERIES,
    MEMBERS_READ_BUDGET,
    NURTURE_ENROL_BUDGET,
    NURTURE_PAGE,
    NURTURE_PREVIEW_BUDGET,
    check_tenant,
)
from chalicelib.services.configuration import Configuration
from chalicelib.services.letters import Letters
from chalicelib.services.senders import Senders


class Nurture:
    def __init__(self, *, config: Config, relations: Relations, counters: Counters, schedules: NurtureSchedules, suppressions: Suppressions,
                 queues: Queues, once: Once, templates: Templates, tenants: Tenants, configuration: Configuration,
                 letters: Letters, senders: Senders, clock: Clock) -> None:
        self._config = config
        self._relations = relations
        self._counters = counters
        self._schedules = schedules
        self._suppressions = suppressions
        self._queues = queues
        self._once = once
        self._templates = templates
        self._tenants = tenants
        self._configuration = configuration
        self._letters = letters
        self._senders = senders
        self._clock = clock

    # -- segments -------------------------------------------------------------------------------

    def put_segment(self, tenant: str, slug: str, body: Mapping[str, Any]) -> JsonDict:
        check_tenant(tenant)
        nurture.check_slug(slug, "segment")
        unknown = set(body) - {"expression", "description"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        segment = segments.parse(body.get("expression"))
        description = nurture.check_description(body.get("description"))
        version = self._config.put(tenant, "segment", (slug,), {"expression": segment.expression,
                                                                 **({"description": description} if description else {})})
        return {"segment": slug, "expression": segment.expression, "description": description, "version": version,
                "read_through": [f"{kind}:{value}" for kind, value in segment.drivers]}

    def segment(self, tenant: str, slug: str) -> segments.Segment:
        nurture.check_slug(slug, "segment")
        found = self._config.get(check_tenant(tenant), "segment", (slug,))
        if not found:
            raise NotFound("no such segment")
        return segments.parse(found.data["expression"])

    def segment_filter(self, tenant: str, slug: str) -> tuple[segments.Segment, Callable[[Person], bool]]:
        """A saved segment as a filter on people (the console's pool): the segment and its test now,
        in the tenant's time zone (the same `matches` the nurture job uses)."""
        segment = self.segment(tenant, slug)
        now, zone = self._clock(), self._configuration.zone(tenant)
        return segment, lambda person: segment.matches(person, now, zone)

    def segment_preview(self, tenant: str, slug: str) -> JsonDict:
        """The segment and how many people it holds now, read through its drivers' index."""
        segment = self.segment(tenant, slug)
        count, complete = self._count(tenant, segment, budget=NURTURE_PREVIEW_BUDGET, seen=set())
        description = self._config.get(tenant, "segment", (slug,))
        return {"segment": slug, "expression": segment.expression, "count": count, "complete": complete,
                "description": description.data.get("description") if description else None}

    # -- e20-programs: the console's segment editor counts an expression before it is saved --
    def preview_expression(self, tenant: str, expression: object, *, first: int = 10) -> JsonDict:
        """An expression's count now (read like GET .../segments/{s}: through its drivers, up to the
        same budget) and its first members; BadRequest naming the position when it does not parse."""
        check_tenant(tenant)
        segment = segments.parse(expression)
        count, complete, members = 0, True, list[Person]()
        for page in self._segment_pages(tenant, segment, self._clock(), budget=NURTURE_PREVIEW_BUDGET):
            if page is None:
                complete = False
                break
            count += len(page)
            members += page[:max(first - len(members), 0)]
        return {"expression": segment.expression, "count": count, "complete": complete,
                "read_through": [f"{kind}:{value}" for kind, value in segment.drivers],
                "people": [people_search.summary(p) for p in members]}

    def _count(self, tenant: str, segment: segments.Segment, *, budget: int, seen: set[str]) -> tuple[int, bool]:
        """How many members, counted through the drivers' index up to budget entries (seen: the ids read)."""
        count = 0
        for members in self._segment_pages(tenant, segment, self._clock(), budget=budget, seen=seen):
            if members is None:
                return count, False
            count += len(members)
        return count, True

    def _segment_pages(self, tenant: str, segment: segments.Segment, now: datetime, *,
                       budget: int | None, seen: set[str] | None = None) -> Iterator[list[Person] | None]:
        """The segment's members a page at a time: each driver's index read in pages, the profiles
        batch-read and filtered. A None page means the budget of index entries ran out first."""
        seen = set() if seen is None else seen
        zone = self._configuration.zone(tenant)
        for kind, value in segment.drivers:
            after = None
            while True:
                ids, after = self._relations.search(tenant, kind, value, limit=NURTURE_PAGE, after=after)
                fresh = [pid for pid in ids if pid not in seen]
                seen.update(fresh)
                yield [p for p in self._relations.people(tenant, fresh) if segment.matches(p, now, zone)] if fresh else []
                if after is None:
                    break
                if budget is not None and len(seen) >= budget:
                    yield None
                    return

    # -- campaigns ------------------------------------------------------------------------------

    def put_campaign(self, tenant: str, slug: str, body: Mapping[str, Any]) -> JsonDict:
        """Store a campaign and enrol its segment's members (up to a budget; the daily job does the rest)."""
        check_tenant(tenant)
        campaign = nurture.read_campaign(slug, dict(body), kinds=tuple(self._templates.KINDS))
        if not self._config.get(tenant, "segment", (campaign.segment,)):
            raise BadRequest(f"segment '{campaign.segment}' does not exist: PUT .../segments/{campaign.segment} first")
        version = self._config.put(tenant, "campaign", (slug,), campaign.to_json())
        self._tenants.add_tenant(tenant)
        enrolment = self._enrol(tenant, campaign, budget=NURTURE_ENROL_BUDGET) if campaign.active else None
        return {**campaign.to_json(), "version": version, "enrolment": enrolment}

    def campaign(self, tenant: str, slug: str) -> JsonDict:
        """A campaign and what it did so far: mails sent, occurrences passed by reason, deferrals."""
        nurture.check_slug(slug, "campaign")
        found = self._config.get(check_tenant(tenant), "campaign", (slug,))
        if not found:
            raise NotFound("no such campaign")
        stats = counters.campaign_stats(self._counters.totals(tenant), slug)
        return {**found.data, "version": found.version, "stats": stats}

    def _enrol(self, tenant: str, campaign: nurture.Campaign, *, budget: int | None) -> JsonDict:
        """Give each eligible member of the campaign's segment a schedule at their next occurrence.
        Reads the segment through its drivers (cost grows with the segment, not the table)."""
        report: JsonDict = {"members": 0, "scheduled": 0, "complete": True}
        try:
            segment = self.segment(tenant, campaign.segment)
        except NotFound:
            return {**report, "complete": False}
        now = self._clock()
        zone = self._configuration.zone(tenant)
        for members in self._segment_pages(tenant, segment, now, budget=budget):
            if members is None:
                report["complete"] = False
                break
            report["members"] += len(members)
            eligible = [p for p in members if nurture.why_not(p) is None]
            existing = self._schedules.schedules(tenant, campaign.slug, [p.person_id for p in eligible])
            for person in eligible:
                current = existing.get(person.person_id)
                enrolled_at = current.enrolled_at if current else iso(now)
                due = nurture.occurrence(person, campaign.cadence, last_done=current.last_done if current else None,
                                         enrolled_at=enrolled_at, zone=zone)
                if (current.occurrence if current else None) == due:
                    continue  # as planned (perhaps deferred by the interval): leave it
                planned = nurture.Schedule(campaign.slug, enrolled_at, occurrence=due, next_due=due,
                                           last_done=current.last_done if current else None,
                                           last_outcome=current.last_outcome if current else None)
                report["scheduled"] += self._schedules.plan(tenant, person.person_id, planned, expected=current)
        return report

    # -- the nurture job --------------------------------------------------------------------------

    def run_nurture(self, tenant: str) -> JsonDict:
        """The nurture job for one tenant: enrol each active campaign's segment, then queue every
        schedule that is due (read from the sparse due index alone) for the mail step."""
        check_tenant(tenant)
        report: JsonDict = {"tenant": tenant, "campaigns": 0, "members": 0, "scheduled": 0}
        for document in self._config.list(tenant, "campaign"):
            campaign = nurture.Campaign.from_json(document.data)
            if campaign.active:
                enrolment = self._enrol(tenant, campaign, budget=None)
                report["campaigns"] += 1
                report["members"] += enrolment["members"]
                report["scheduled"] += enrolment["scheduled"]
        return {**report, **self.dispatch_nurture(tenant)}

    def dispatch_nurture(self, tenant: str) -> JsonDict:
        """Queue the schedules due now for the mail step; reads only the due index entries."""
        due = self._schedules.due(check_tenant(tenant), self._clock())
        for mail in due:
            self._queues.send("notices", {"tenant": tenant, "person_id": mail.person_id, "campaign": mail.campaign,
                                          "due": mail.due})
        return {"due": len(due), "queued": len(due)}

    def run_all_nurture(self) -> list[JsonDict]:
        return [self.run_nurture(tenant) for tenant in self._tenants.tenants()]

    def send_nurture(self, tenant: str, person_id: str, slug: str, due: str) -> str:
        """Send one due nurture mail, once, if the law, the person and the interval allow it; else pass
        the occurrence with a reason or defer it. Returns what became of it."""
        store = self._schedules
        schedule = store.schedule(tenant, person_id, slug)
        if schedule is None or schedule.next_due != due:
            return "skipped"  # done already (a second job run, a redelivered message), moved, or erased
        now = self._clock()
        found = self._config.get(tenant, "campaign", (slug,))
        campaign = nurture.Campaign.from_json(found.data) if found else None
        people = self._relations.people(tenant, [person_id])
        person = people[0] if people else None
        if campaign is None or not campaign.active or person is None:
            return self._pass(tenant, person_id, schedule, "campaign_inactive", next_due=None)
        zone = self._configuration.zone(tenant)
        try:
            in_segment = self.segment(tenant, campaign.segment).matches(person, now, zone)
        except NotFound:
            in_segment = False
        if not in_segment:  # out of the due index until enrolment finds them in the segment again
            return self._pass(tenant, person_id, schedule, "left_segment", next_due=None)
        natural = nurture.occurrence(person, campaign.cadence, last_done=schedule.last_done,
                                     enrolled_at=schedule.enrolled_at, zone=zone)
        if natural != schedule.occurrence:  # a new ending since it was planned
            store.plan(tenant, person_id, replace(schedule, occurrence=natural, next_due=natural), expected=schedule)
            return "rescheduled"
        following = nurture.occurrence(person, campaign.cadence, last_done=schedule.occurrence,
                                       enrolled_at=schedule.enrolled_at, zone=zone)
        reason = nurture.why_not(person) or (
            "suppressed" if person.email and self._suppressions.reasons(tenant, person.email) else None)
        if reason:
            return self._pass(tenant, person_id, schedule, reason, next_due=following)
        settings = self._configuration.mail_settings(tenant)
        if self._senders.status(tenant, settings) != senders.VERIFIED:
            return "sender_pending"  # still due: the next nurture run queues it again (nothing claimed, nothing counted)
        key = nurture.mail_key(person_id, slug, schedule.occurrence or due)
        claim, until = store.claim(tenant, person_id, slug, due, key, now=now,
                                   interval_days=settings.nurture_interval_days)
        if claim == "stale":
            return "skipped"
        if claim == "interval":  # another nurture mail went out lately: try again when the interval ends
            store.plan(tenant, person_id, replace(schedule, next_due=until), expected=schedule,
                       counters={counters.NURTURE_DEFERRED: 1, counters.campaign(slug, "deferred"): 1})
            return "deferred"
        locale = self._configuration.locale_for(person.locale, settings)
        template = self._configuration.template(tenant, campaign.template_kind, locale)
        try:
            result = self._once.run(tenant, key, lambda: self._letters.send(
                tenant, person, settings, template, locale, kind=campaign.template_kind, notice=nurture.link_ref(slug),
                job_title=None, reference=hashlib.sha256(key.encode()).hexdigest()[:16]))
        except TemplateError:  # the tenant's template cannot render: this occurrence passes, the next may not
            return self._pass(tenant, person_id, schedule, "template_error", next_due=following)
        except PermanentError:
            return self._pass(tenant, person_id, schedule, "mail_refused", next_due=following)
        entry = {"type": "nurture_sent", "campaign": slug, "template_kind": campaign.template_kind,
                 "occurred_at": result["sent_at"], "template_version": template.version, "locale": locale}
        done = replace(schedule, occurrence=following, next_due=following, last_done=schedule.occurrence,
                       last_outcome="sent")
        sent = {counters.NURTURE_SENT: 1, counters.nurture_sent(campaign.template_kind): 1,
                counters.campaign(slug, "sent"): 1}
        recorded = store.sent(tenant, person_id, due, done, sent_at=result["sent_at"], entry=entry, counters=sent)
        return "sent" if recorded else "skipped"

    def _pass(self, tenant: str, person_id: str, schedule: nurture.Schedule, reason: str, *,
              next_due: str | None) -> str:
        """Mark an occurrence done without mail, for a reason (counted), and plan the next one, if any."""
        passed = replace(schedule, occurrence=next_due, next_due=next_due, last_done=schedule.occurrence,
                         last_outcome=reason)
        self._schedules.plan(tenant, person_id, passed, expected=schedule, counters={
            counters.NURTURE_SKIPPED: 1, counters.nurture_skipped(reason): 1,
            counters.campaign_skipped(schedule.campaign, reason): 1})
        return reason

    # -- issue 18, the admin API's lists: segments, a segment's members, campaigns --------------------

    def list_segments(self, tenant: str, query: Mapping[str, str]) -> JsonDict:
        """A page of the saved segments, each with its count when a bounded read gives it (else null:
        GET the segment, which counts up to its own budget)."""
        limit, after = listing.read_page(query, "segments")
        named, following = self._config.page(check_tenant(tenant), "segment", limit=limit, after=after)
        left, answer = LIST_COUNT_PAGE_BUDGET, []
        for slug, document in named:
            segment = segments.parse(document.data["expression"])
            count: int | None = None
            if left > 0:
                seen: set[str] = set()
                counted, complete = self._count(tenant, segment, budget=min(LIST_COUNT_BUDGET, left), seen=seen)
                count, left = (counted if complete else None), left - len(seen)
            answer.append({"segment": slug, "expression": segment.expression,
                           "description": document.data.get("description"), "version": document.version,
                           "read_through": [f"{kind}:{value}" for kind, value in segment.drivers], "count": count})
        return {"segments": answer, "next": listing.cursor("segments", following)}

    def segment_members(self, tenant: str, slug: str, query: Mapping[str, str]) -> JsonDict:
        """A page of the segment's members (the people search's summary), read as the count and the
        nurture job read them: each driver's index a page at a time, the profiles batch-read and
        matched. A member holding two drivers is listed under the first. Reads are bounded: a page may
        hold fewer than limit people while next is not null."""
        segment = self.segment(tenant, slug)
        wanted = listing.read_members_page(query, slug, segment)
        now, zone = self._clock(), self._configuration.zone(tenant)
        driver, after, found, read, queries = wanted.driver, wanted.after, list[Person](), 0, 0
        while driver < len(segment.drivers) and len(found) < wanted.limit:
            if read >= MEMBERS_READ_BUDGET or queries >= MEMBERS_QUERIES:
                break
            kind, value = segment.drivers[driver]
            ids, after = self._relations.search(tenant, kind, value, limit=min(wanted.limit - len(found), NURTURE_PAGE),
                                                after=after)
            read, queries = read + len(ids), queries + 1
            found += [p for p in self._relations.people(tenant, ids) if segment.matches(p, now, zone)
                      and not listing.listed_earlier(p, segment, driver)] if ids else []
            if after is None:
                driver, after = driver + 1, None
        following = listing.members_cursor(slug, segment, driver, after)
        return {"segment": slug, "people": [people_search.summary(p) for p in found], "next": following}

    def list_campaigns(self, tenant: str, query: Mapping[str, str]) -> JsonDict:
        """A page of the campaigns with their counters (one read for the page): sent, deferred, skipped."""
        limit, after = listing.read_page(query, "campaigns")
        named, following = self._config.page(check_tenant(tenant), "campaign", limit=limit, after=after)
        totals = self._counters.totals(tenant) if named else {}
        answer = []
        for slug, document in named:
            stats = counters.campaign_stats(totals, slug)
            skipped = stats["skipped"]
            answer.append({**document.data, "campaign": slug, "version": document.version,
                           "paused": not document.data.get("active", True), "next_run": None,
                           "sent": stats["sent"], "deferred": stats["deferred"],
                           "skipped": sum(skipped.values()) if isinstance(skipped, dict) else 0, "stats": stats})
        return {"campaigns": answer, "next": listing.cursor("campaigns", following)}
