"""Notices: the rejection notice and the alumni farewell, sent once each; SES feedback."""
from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain import feedback, notices, outbox, senders
from chalicelib.domain.errors import HubError, RetryableError, TemplateError
from chalicelib.domain.ports import Notices, Suppressions
from chalicelib.domain.records import JsonDict, NoticeView, SentMail
from chalicelib.services.common import check_tenant
from chalicelib.services.configuration import Configuration
from chalicelib.services.letters import Letters
from chalicelib.services.routing import Routing
from chalicelib.services.senders import Senders


class Correspondence:
    def __init__(self, notices: Notices, suppressions: Suppressions, configuration: Configuration,
                 letters: Letters, senders: Senders, routing: Routing,
                 hub_notice: Callable[[str, str], bool] | None = None) -> None:
        self._notices = notices
        self._suppressions = suppressions
        self._configuration = configuration
        self._letters = letters
        self._senders = senders
        self._hub_notice = hub_notice  # (tenant, source) -> whether the hub mails rejections (delivery.py)
        self._routing = routing

    def send_notice(self, tenant: str, person_id: str, notice: str) -> str:
        """Send one planned notice, once (the claim: docs/notices.md); returns what became of it (sent, cancelled, suppressed, failed,
        skipped, or waiting: the tenant's sender is not verified yet, and the notice waits for it,
        still pending). A template that cannot render (an error, over its limits) fails that notice
        with the reason template_error, for the admin to see: retrying cannot help, and the batch goes on."""
        view = self._notices.view(tenant, person_id, notice)
        if view is None or view.status != "pending":
            return "skipped"
        try:
            return self._send_pending(tenant, person_id, notice, view)
        except HubError as error:
            # a notice that keeps failing (no settings, a dead SMTP host) ends failed after
            # notices.MAX_ATTEMPTS, out of the outbox, with its reason; the admin may requeue it
            if self._notices.attempted(tenant, person_id, notice, error.code) >= notices.MAX_ATTEMPTS:
                self._notices.decide(tenant, person_id, notice, "failed", reason=error.code)
                return "failed"
            raise

    def requeue_notices(self, tenant: str, person_id: str) -> JsonDict:
        """The person's failed notices back in the outbox, due now, attempts forgotten (the admin's route);
        the next sweep queues them."""
        return {"requeued": self._notices.requeue(check_tenant(tenant), person_id)}

    def _send_pending(self, tenant: str, person_id: str, notice: str, view: NoticeView) -> str:
        if view.mailed is not None:  # mailed by an earlier attempt whose record failed: record it, no mail
            mailed = view.mailed
            self._notices.sent(tenant, person_id, notice, kind=mailed.kind, mail=mailed.mail, entry=mailed.entry)
            return "sent"
        person = view.person
        track = person.tracks.get(view.track)
        if not notices.still_due(view.kind, track.status if track else None, track.at if track else None, view.fact_at):
            self._notices.decide(tenant, person_id, notice, "cancelled")
            return "cancelled"
        if view.kind == "rejection" and self._hub_notice is not None and not self._hub_notice(tenant, view.source):
            self._notices.decide(tenant, person_id, notice, "cancelled", reason="delivered_by_ats")
            return "cancelled"  # the ATS mails the rejection with the link (the ats_field delivery)
        route = self._routing.plan(tenant, view, self._configuration.tenant_settings(tenant))
        if route.wait_until is not None:  # the tenant's delay, or the invitation's days: the sweep brings it back
            return "postponed" if self._routing.postpone(tenant, person_id, notice, route.wait_until) else "skipped"
        if route.decision is not None and route.decision.action == "none":
            self._routing.record(tenant, person_id, route, view)
            self._notices.decide(tenant, person_id, notice, "cancelled", reason="routed_none")
            return "cancelled"
        if not person.email:
            self._notices.decide(tenant, person_id, notice, "suppressed")
            return "suppressed"
        settings = self._configuration.mail_settings(tenant)
        status = self._senders.status(tenant, settings)
        if status != senders.VERIFIED:  # not a failure: release_waiting lets it go once the sender is verified
            self._notices.wait(tenant, person_id, notice, senders.waiting_reason(status))
            return "waiting"
        locale = self._configuration.locale_for(person.locale, settings)
        template = self._configuration.template(tenant, route.kind, locale)
        links = self._letters.links(tenant, kind=route.kind, notice=notice, channel=route.channel)
        # once per notice (docs/notices.md): the claim, the links and the suppression check in one write
        claim = self._notices.claim(tenant, person_id, notice, email=person.email, until=links.sent_at + outbox.CLAIM_FOR,
                                    links=links.grants)
        if claim == "suppressed":
            self._notices.decide(tenant, person_id, notice, "suppressed")
            return "suppressed"
        if claim == "busy":
            raise RetryableError("the notice is being mailed elsewhere")
        if claim != "claimed":
            return "skipped"  # decided meanwhile
        self._routing.record(tenant, person_id, route, view)
        try:
            result = self._letters.send(tenant, person, settings, template, locale, kind=route.kind, notice=notice,
                                        job_title=view.job_title, reference=notice[-16:], channel=route.channel, links=links)
        except TemplateError:
            self._notices.decide(tenant, person_id, notice, "failed", reason="template_error")
            return "failed"
        mail = SentMail(sent_at=result["sent_at"], message_id=result["message_id"],
                        template_version=template.version, locale=locale)
        entry = {"type": "notice_sent", "notice": route.kind, "source": view.source, "occurred_at": mail.sent_at,
                 "template_version": template.version, "locale": locale, "channel": route.channel,
                 **(route.decision.fields() if route.decision else {})}
        try:
            self._notices.sent(tenant, person_id, notice, kind=route.kind, mail=mail, entry=entry)
        except Exception:
            # the mail went: whatever stopped its record, the retry records it and never mails again
            self._notices.mailed(tenant, person_id, notice, kind=route.kind, mail=mail, entry=entry)
            raise
        return "sent"

    def release_waiting(self) -> int:
        """The sweeper's part for senders: every tenant whose sender is verified now (or who moved to
        SMTP) has its waiting notices made due again, for release_notices to queue; how many."""
        released = 0
        for tenant in self._notices.waiting_tenants():
            settings = self._configuration.tenant_settings(tenant)
            if settings is not None and self._senders.status(tenant, settings) == senders.VERIFIED:
                released += len(self._notices.resume(tenant))
        return released

    def senders_overdue(self) -> int:
        """How many tenants have notices waiting for a sender still not verified a day after it was
        registered (the metric SenderUnverified: the operator's cue to check the tenant's DNS records)."""
        overdue = 0
        for tenant in self._notices.waiting_tenants():
            settings = self._configuration.tenant_settings(tenant)
            if settings is not None and self._senders.overdue(tenant, settings):
                overdue += 1
        return overdue

    def mail_feedback(self, notification: JsonDict) -> int:
        """Suppress the addresses SES reports as hard-bounced or complaining; how many."""
        suppressions = feedback.read(notification)
        for item in suppressions:
            self._suppressions.add(item.tenant, item.email, item.reason)
        return len(suppressions)
