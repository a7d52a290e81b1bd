"""The hub's use cases. Pure: they speak to the world only through the ports they are given."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from chalicelib.domain import (
    consents, inventory, kpis, notices, nurture, people_search, referrals, segments, tenants,
)
from chalicelib.domain.errors import (
    BadRequest, Conflict, Forbidden, HubError, NotFound, PayloadError, PayloadTooLarge, PermanentError, RetryableError,
    SignatureError, UnknownSource, UnknownTenant,
)
from chalicelib.domain.events import HubEvent, Lookup, iso
from chalicelib.domain.people import normalise_email
from chalicelib.domain.ports import (
    Credentials, NoticeRef, PolledSource, Profile, Queues, Relations, SourceAdapter, SourceCredentials, TokenInfo,
)

MAX_BODY_BYTES = 1024 * 1024
NURTURE_PAGE = 100               # people read per index page when walking a segment
NURTURE_PREVIEW_BUDGET = 20_000  # index entries a segment's count preview reads at most
NURTURE_ENROL_BUDGET = 2_000     # index entries saving a campaign enrols at most (the daily job does the rest)
MAX_QUEUE_DELAY_S = 900  # SQS DelaySeconds
RUN_LEASE_S = 600         # an agency batch run holds its agency at most this long (a dead run's lease lapses)
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


@dataclass(frozen=True)
class WebhookReceipt:
    accepted: int    # hub events (or notices to complete) in the delivery, new or already known
    ignored: int     # deliveries the hub does not use (pings, other event types)
    duplicates: int  # accepted items the hub already had

    def to_json(self) -> dict[str, int]:
        return {"accepted": self.accepted, "ignored": self.ignored, "duplicates": self.duplicates}


@dataclass(frozen=True)
class PollReport:
    source: str
    pages: int = 0
    events: int = 0
    new: int = 0
    stopped: str = "done"  # done | rate_limited | budget | busy

    def to_json(self) -> dict:
        return {"source": self.source, "pages": self.pages, "events": self.events, "new": self.new, "stopped": self.stopped}


def _person_id(person_id: str) -> str:
    if not isinstance(person_id, str) or not re.fullmatch(r"p_[0-9a-f]{24}", person_id):
        raise NotFound("no such person")
    return person_id


def check_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise UnknownTenant("unknown tenant")
    return tenant


@dataclass(frozen=True)
class Hub:
    """Built once per container by chalicelib.wiring; by tests with moto-backed adapters."""

    sources: Mapping[str, SourceAdapter]
    credentials: Credentials
    relations: Relations
    queues: Queues | None = None
    polled: Mapping[str, PolledSource] = field(default_factory=dict)
    api_for: Callable[[Any, SourceCredentials], Any] | None = None  # builds a vendor API client
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    config: Any = None          # tenant settings, templates, agencies (documents)
    templates: Any = None       # the mail template module (check, render, default)
    tokens: Any = None          # link tokens
    suppressions: Any = None    # addresses never to mail
    mailer: Any = None          # SES or the tenant's SMTP
    once: Any = None            # side effects done once per key
    public_url: str = "http://127.0.0.1:8000"
    agency_clients: Mapping[str, Any] = field(default_factory=dict)  # integrations.registry.AGENCIES
    referrals_store: Any = None  # referrals, batches, provision records, ledger
    sleep: Callable[[float], None] = lambda seconds: None  # waits between retries (real sleep in wiring)
    agency_timeout_s: float = 15.0
    kpi_publisher: Callable[[str, dict], int] | None = None  # CloudWatch (EMF)
    agency_parallelism: int = 4  # agencies served side by side in one run
    audit_log: Any = None        # who read, exported, erased or changed what
    admin_tokens: Any = None     # tenant-scoped admin tokens
    nurture_store: Any = None    # nurture schedules (chalicelib/adapters/nurture.py)

    # -- intake ---------------------------------------------------------------------------------

    def receive_webhook(self, tenant: str, source: str, headers: Mapping[str, str], raw_body: bytes) -> WebhookReceipt:
        """Verify, parse and record a delivery once; thin notices go to a queue. Nothing slower."""
        if len(raw_body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
        adapter = self.sources.get(source)
        if adapter is None:
            raise UnknownSource("no webhook source is registered under this name")
        check_tenant(tenant)
        headers = {str(k).lower(): str(v) for k, v in headers.items()}
        self._verify(adapter, tenant, source, headers, raw_body)
        notices = adapter.parse(headers, raw_body, tenant=tenant)
        fallback_id = hashlib.sha256(raw_body).hexdigest()  # vendors without a delivery id resend the same bytes
        duplicates = 0
        for index, notice in enumerate(notices):
            delivery_id = f"{notice.delivery_id or fallback_id}:{index}"
            new = self._defer(notice, delivery_id) if isinstance(notice, Lookup) else \
                self._record(notice, delivery_id)
            duplicates += 0 if new else 1
        return WebhookReceipt(accepted=len(notices), ignored=0 if notices else 1, duplicates=duplicates)

    def _record(self, event: HubEvent, delivery_id: str) -> bool:
        """Store a fact once; hand a notice it earned, when due soon, to the notice queue."""
        recorded = self.relations.record_once(event, delivery_id=delivery_id)
        if recorded is None:
            return False
        if recorded.notice is not None:
            self._announce(recorded.notice)
        return True

    def _announce(self, notice: NoticeRef) -> None:
        wait = (notice.due_at - self.clock()).total_seconds()
        if wait > MAX_QUEUE_DELAY_S:
            return  # due later (an exit's effective date): release_notices sends it then
        try:
            self.queues.send("notices", notice.to_json(), delay_s=max(0, int(wait)))
        except RetryableError:
            pass  # the notice is stored as pending: release_notices sends it on its next run

    def release_notices(self, *, grace_s: int = 120) -> int:
        """The sweeper: queue every pending notice due more than grace_s ago (lost or future-dated)."""
        released = 0
        for notice in self.relations.due_notices(self.clock() - timedelta(seconds=grace_s)):
            self.queues.send("notices", notice.to_json())
            released += 1
        return released

    def _verify(self, adapter: SourceAdapter, tenant: str, source: str, headers: Mapping[str, str], raw_body: bytes) -> None:
        credentials = self.credentials.source(tenant, source)
        try:
            adapter.verify(headers, raw_body, credentials.webhook_secrets)
        except SignatureError:
            # This container may hold a secret rotated since it was cached: look once more, fresh.
            fresh = self.credentials.source(tenant, source, fresh=True)
            if fresh.webhook_secrets == credentials.webhook_secrets:
                raise
            adapter.verify(headers, raw_body, fresh.webhook_secrets)

    def _defer(self, lookup: Lookup, delivery_id: str) -> bool:
        """Queue a thin notice for enrichment once per delivery id."""
        if not self.relations.mark_delivery(lookup.tenant, lookup.source, delivery_id):
            return False
        try:
            self.queues.send("enrich", lookup.to_json())
        except Exception:
            # not queued: forget the delivery so the vendor's retry is taken, and ask for that retry
            self.relations.unmark_delivery(lookup.tenant, lookup.source, delivery_id)
            raise RetryableError("the notice could not be queued; retry") from None
        return True

    def enrich(self, lookup: Lookup) -> int:
        """Complete a thin notice from the vendor's API and record its events; the new ones counted.

        Errors propagate: the queue redelivers, then parks the message in its dead-letter queue."""
        adapter = self.sources[lookup.source]
        credentials = self.credentials.source(lookup.tenant, lookup.source)
        events = adapter.fetch(lookup, self.api_for(adapter, credentials))
        return sum(1 for event in events if self._record(event, f"{lookup.delivery_id}:{event.fact_key()[:16]}"))

    # -- polling --------------------------------------------------------------------------------

    def poll_due_sources(self) -> list[PollReport]:
        """The scheduled run: every tenant's polled sources. One failing source does not stop the others."""
        reports = []
        for tenant in self.relations.tenants():
            reports.extend(self.poll_sources(tenant))
        return reports

    def poll_sources(self, tenant: str, *, max_pages: int = 20) -> list[PollReport]:
        check_tenant(tenant)
        reports = []
        for source in self.relations.sources(tenant):
            if source in self.polled:
                try:
                    reports.append(self.poll_source(tenant, source, max_pages=max_pages))
                except RetryableError:
                    reports.append(PollReport(source, stopped="unavailable"))
                except HubError as error:  # refused credentials, a malformed answer: this source only
                    reports.append(PollReport(source, stopped=error.code))
        return reports

    def poll_source(self, tenant: str, source: str, *, max_pages: int = 20) -> PollReport:
        adapter = self.polled[source]
        credentials = self.credentials.source(tenant, source)
        api = self.api_for(adapter, credentials)
        state = self.relations.poll_state(tenant, source)
        cursor, version = state.cursor, state.version
        pages = events = new = 0
        while True:
            page = adapter.poll(api, cursor, tenant=tenant, now=self.clock())
            pages += 1
            for event in page.events:
                events += 1
                new += self._record(event, f"poll:{event.fact_key()}")
            version = self.relations.save_poll_state(tenant, source, page.cursor, version)
            if version is None:
                return PollReport(source, pages, events, new, "busy")  # another run advanced the cursor
            cursor = page.cursor
            if page.wait_s:
                return PollReport(source, pages, events, new, "rate_limited")
            if not page.more:
                return PollReport(source, pages, events, new, "done")
            if pages >= max_pages:
                return PollReport(source, pages, events, new, "budget")

    # -- configuration --------------------------------------------------------------------------

    def connect_source(self, tenant: str, source: str, webhook_secret: object = None, api_key: object = None,
                       api_base_url: object = None) -> None:
        """Store a tenant's connection to a source, creating the tenant when new."""
        if source not in self.sources and source not in self.polled:
            raise UnknownSource("no source is registered under this name")
        check_tenant(tenant)
        if source in self.sources:
            if not isinstance(webhook_secret, str) or not 8 <= len(webhook_secret) <= 4096:
                raise BadRequest("webhook_secret must be a string of 8 to 4096 characters")
            check_secret = getattr(self.sources[source], "check_secret", None)  # schemes with a key format
            if check_secret:
                check_secret(webhook_secret)
        elif webhook_secret is not None:
            raise BadRequest("this source is polled: it takes an api_key, not a webhook_secret")
        elif api_key is None:
            raise BadRequest("this source is polled: api_key is required")
        if api_key is not None and (not isinstance(api_key, str) or not 1 <= len(api_key) <= 4096):
            raise BadRequest("api_key must be a string of 1 to 4096 characters")
        if api_base_url is not None and (not isinstance(api_base_url, str) or not _URL.match(api_base_url)):
            raise BadRequest("api_base_url must be an http(s) URL")
        self.credentials.store_source(tenant, source, webhook_secret, api_key, api_base_url)
        self.relations.add_source(tenant, source)

    # -- inventory ------------------------------------------------------------------------------

    def import_inventory(self, tenant: str, csv_text: str) -> dict:
        """Record the relationships of a CSV; valid rows are kept, the others reported by line."""
        check_tenant(tenant)
        events, errors = inventory.read(csv_text, tenant=tenant)
        new = sum(1 for _, event in events if self._record(event, f"import:{event.fact_key()}"))
        return {"rows": len(events) + len(errors), "imported": new, "duplicates": len(events) - new,
                "errors": [e.to_json() for e in errors]}

    # -- people ---------------------------------------------------------------------------------

    def person(self, tenant: str, person_id: str) -> Profile | None:
        if not isinstance(person_id, str) or len(person_id) > 100:
            return None
        return self.relations.profile(check_tenant(tenant), person_id)

    def people_by_email(self, tenant: str, email: str) -> list[Profile]:
        address = normalise_email(email)
        if address is None:
            raise BadRequest("email is not an e-mail address")
        return self.relations.find_by_email(check_tenant(tenant), address)

    def search_people(self, tenant: str, query: Mapping[str, str]) -> dict:
        """People by e-mail, name prefix, tag and role (all given must hold), a page at a time, through
        the search index: the most selective term given is read, the others filter that page."""
        check_tenant(tenant)
        terms = people_search.parse(query)
        if terms.email:
            found = self.people_by_email(tenant, terms.email)  # one at most: shown with the timeline
            return {"people": [people_search.profile_json(p.person, p.timeline) for p in found if terms.matches(p.person)],
                    "next": None}
        kind, value = terms.lead()
        ids, after = self.relations.search(tenant, kind, value, limit=terms.limit, after=terms.after)
        people = [p for p in self.relations.people(tenant, ids) if terms.matches(p)]
        return {"people": [people_search.summary(p) for p in people], "next": terms.cursor(after)}

    def tag_person(self, tenant: str, person_id: str, body: dict) -> dict:
        change = people_search.tag_change(body)
        person = self.relations.set_tags(check_tenant(tenant), _person_id(person_id), change)
        if person is None:
            raise NotFound("no such person")
        return people_search.summary(person)

    def export_person(self, tenant: str, person_id: str) -> dict:
        """Everything held about one person (a disclosure request, APPI Art. 33), provision records included."""
        held = self.relations.held(check_tenant(tenant), _person_id(person_id))
        if held is None:
            raise NotFound("no such person")
        person = held.pop("person")
        return {"exported_at": iso(self.clock()), "tenant": tenant, "person": people_search.full(person), **held,
                "suppressed_for": self.suppressions.reasons(tenant, person.email) if person.email else [],
                "provisions": self.referrals_store.provisions(tenant, person.person_id)}

    def erase_person(self, tenant: str, person_id: str) -> dict:
        """Erase one person (a deletion request): see Relations.erase for what goes and what stays."""
        if not self.relations.erase(check_tenant(tenant), _person_id(person_id)):
            raise NotFound("no such person")
        kept = self.referrals_store.provisions(tenant, person_id)
        return {"erased": person_id, "provision_records_kept": len(kept),
                "kept_until": max((record["keep_until"] for record in kept), default=None)}

    # -- admin access ----------------------------------------------------------------------------

    def audit(self, tenant: str, *, who: str, action: str, target: str | None) -> None:
        self.audit_log.record(tenant, who=who, action=action, target=target)

    def audit_entries(self, tenant: str, query: Mapping[str, str]) -> dict:
        check_tenant(tenant)
        limit, before = people_search.page(query)
        entries, after = self.audit_log.entries(tenant, limit=limit, before=before)
        return {"entries": entries, "next": people_search.encode_cursor({"after": after}) if after else None}

    def issue_admin_token(self, tenant: str, *, by: str) -> dict:
        check_tenant(tenant)
        self.relations.add_tenant(tenant)
        token_id, token = self.admin_tokens.issue(tenant, by=by)
        return {"id": token_id, "token": token, "tenant": tenant}

    def revoke_admin_token(self, tenant: str, token_id: str) -> dict:
        check_tenant(tenant)
        if not re.fullmatch(r"[0-9a-f]{16}", token_id or "") or not self.admin_tokens.revoke(tenant, token_id):
            raise NotFound("no such token")
        return {"revoked": token_id}


    # -- tenant settings and templates ------------------------------------------------------------

    def put_settings(self, tenant: str, body: dict) -> dict:
        check_tenant(tenant)
        stored = self.tenant_settings(tenant)
        settings, password = tenants.read_settings(body, has_password=bool(stored and stored.smtp and stored.smtp.has_password))
        if password is not None:
            self.credentials.store_smtp_password(tenant, password)
        self.config.put(tenant, "SETTINGS", settings.to_json())
        self.relations.add_tenant(tenant)
        return settings.to_json()

    def tenant_settings(self, tenant: str) -> tenants.TenantSettings | None:
        found = self.config.get(check_tenant(tenant), "SETTINGS")
        return tenants.from_json(found[0]) if found else None

    def template(self, tenant: str, kind: str, locale: str):
        """The tenant's template for kind and locale, else the shipped default."""
        self.templates.check_kind(kind, locale)
        found = self.config.get(check_tenant(tenant), f"TEMPLATE#{kind}#{locale}")
        if not found:
            return self.templates.default(kind, locale)
        data, version = found
        return self.templates.Template(subject=data["subject"], text=data["text"], html=data.get("html"), version=version)

    def _template_from(self, body: dict):
        unknown = set(body) - {"subject", "text", "html"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        for name in ("subject", "text"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise BadRequest(f"{name} must be a non-empty string")
        if body.get("html") is not None and not isinstance(body["html"], str):
            raise BadRequest("html must be a string")
        template = self.templates.Template(subject=body["subject"], text=body["text"], html=body.get("html") or None)
        self.templates.check(template)
        return template

    def put_template(self, tenant: str, kind: str, locale: str, body: dict) -> dict:
        check_tenant(tenant)
        self.templates.check_kind(kind, locale)
        template = self._template_from(body)
        version = self.config.put(tenant, f"TEMPLATE#{kind}#{locale}",
                                  {"subject": template.subject, "text": template.text, "html": template.html})
        return {"kind": kind, "locale": locale, "version": version}

    def preview_template(self, tenant: str, kind: str, locale: str, body: dict | None) -> dict:
        """Render a template (the one given, or the stored one) with sample data; nothing is stored."""
        check_tenant(tenant)
        self.templates.check_kind(kind, locale)
        template = self._template_from(body) if body else self.template(tenant, kind, locale)
        settings = self.tenant_settings(tenant)
        sample = dict(self.templates.SAMPLE)
        if settings:
            sample.update(company_name=settings.company_name, postal_address=settings.postal_address, contact=settings.contact)
        mail = self.templates.render(template, sample, locale)
        return {"subject": mail.subject, "text": mail.text, "html": mail.html}

    # -- notices ----------------------------------------------------------------------------------

    def send_notice(self, tenant: str, person_id: str, notice: str) -> str:
        """Send one planned notice, once; returns what became of it (sent, cancelled, suppressed, skipped)."""
        view = self.relations.notice_view(tenant, person_id, notice)
        if view is None or view.status != "pending":
            return "skipped"
        person = view.person
        track = person.tracks.get(view.track)
        if not notices.still_due(view.kind, track.status if track else None, track.at if track else None, view.fact_at):
            self.relations.decide_notice(tenant, person_id, notice, "cancelled")
            return "cancelled"
        if not person.email or self.suppressions.reasons(tenant, person.email):
            self.relations.decide_notice(tenant, person_id, notice, "suppressed")
            return "suppressed"
        settings = self.tenant_settings(tenant)
        if settings is None:
            raise RetryableError("the tenant has no mail settings yet (PUT /admin/tenants/{tenant}/settings)")
        locale = person.locale if person.locale in self.templates.LOCALES else settings.default_locale
        template = self.template(tenant, view.kind, locale)

        def deliver() -> dict:
            return self._mail(tenant, person, settings, template, locale, kind=view.kind, notice=notice,
                              job_title=view.job_title, reference=notice[-16:])

        result = self.once.run(tenant, f"notice:{person_id}:{notice}", deliver)
        entry = {"type": "notice_sent", "notice": view.kind, "source": view.source, "occurred_at": result["sent_at"],
                 "template_version": template.version, "locale": locale}
        self.relations.notice_sent(tenant, person_id, notice, kind=view.kind, sent_at=result["sent_at"],
                                   message_id=result["message_id"], template_version=template.version, locale=locale,
                                   entry=entry)
        return "sent"

    def _mail(self, tenant: str, person, settings, template, locale: str, *, kind: str, notice: str,
              job_title: str | None, reference: str) -> dict:
        """Mail one person with their Career Relay link, the sender block and one-click unsubscribe
        (特定電子メール法 Art. 4, RFC 8058); the message id and when it went."""
        sent_at = self.clock()
        valid_until = notices.link_expiry(kind, sent_at)
        relay = self.tokens.issue(tenant, person.person_id, "relay", valid_until, notice=notice)
        unsubscribe = self.tokens.issue(tenant, person.person_id, "unsubscribe",
                                        sent_at + timedelta(days=notices.UNSUBSCRIBE_LINK_DAYS), notice=notice)
        context = {"person_name": person.name, "company_name": settings.company_name, "job_title": job_title,
                   "relay_link": f"{self.public_url}/r/{relay}", "unsubscribe_link": f"{self.public_url}/u/{unsubscribe}",
                   "link_expires_on": notices.day(valid_until), "postal_address": settings.postal_address,
                   "contact": settings.contact}
        mail = self.templates.render(template, context, locale)
        message_id = self.mailer.send(tenant, settings, to=person.email, subject=mail.subject, text=mail.text,
                                      html=mail.html, unsubscribe_url=context["unsubscribe_link"], reference=reference)
        return {"message_id": message_id, "sent_at": iso(sent_at)}

    # -- the Career Relay page ----------------------------------------------------------------------

    def _token_context(self, token: str, purpose: str):
        """The binding, profile and tenant settings behind a link token; None for unknown and expired alike."""
        info = self.tokens.resolve(token)
        if info is None or info.purpose != purpose:
            return None
        profile = self.relations.profile(info.tenant, info.person_id)
        settings = self.tenant_settings(info.tenant)
        if profile is None or settings is None:
            return None
        return info, profile, settings

    def relay_page(self, token: str, *, accept_language: str | None = None, opened: bool = True) -> dict | None:
        """What the consent page shows for a token; None for unknown and expired tokens alike."""
        found = self._token_context(token, "relay")
        if found is None:
            return None
        info, profile, settings = found
        if opened and info.opened_at is None and self.tokens.mark_opened(token):
            self.relations.record_contact_event(info.tenant, info.person_id, {
                "type": "link_opened", "occurred_at": iso(self.clock()), "notice": info.notice}, {"links.opened": 1})
        person = profile.person
        locale = person.locale if person.locale in ("ja", "en") else _locale_from(accept_language, settings.default_locale)
        agencies = self.agencies(info.tenant)
        return {"info": info, "person": person, "settings": settings, "locale": locale, "agencies": agencies,
                "current": consents.current(person), "score": person.consents.get("survey", {}).get("score")}

    def agencies(self, tenant: str) -> list[dict]:
        """Partner agencies the tenant has configured (name, country, data items), for the page and batches."""
        return [data for data, _ in self.config.list(tenant, "AGENCY#")] if self.config else []

    # -- agencies, batches, the slot ledger -------------------------------------------------------

    def put_agency(self, tenant: str, slug: str, body: dict) -> dict:
        check_tenant(tenant)
        agency, auth = referrals.read_agency(slug, body, tuple(self.agency_clients))
        self.credentials.store_agency_auth(tenant, slug, auth)
        self.config.put(tenant, f"AGENCY#{slug}", agency.to_json())
        self.relations.add_tenant(tenant)
        return agency.to_json()

    def agency(self, tenant: str, slug: str) -> referrals.Agency:
        found = self.config.get(check_tenant(tenant), f"AGENCY#{slug}") if isinstance(slug, str) else None
        if not found:
            raise NotFound("no such agency")
        return referrals.Agency.from_json(found[0])

    def run_agency_batches(self, tenant: str, *, max_batches: int = 20) -> list[dict]:
        """Send each agency its queued referrals in batches. Agencies run side by side, so a slow or
        failing one holds up none of the others."""
        from concurrent.futures import ThreadPoolExecutor

        agencies = [referrals.Agency.from_json(a) for a in self.agencies(check_tenant(tenant))]
        if not agencies:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self.agency_parallelism, len(agencies)))) as pool:
            return list(pool.map(lambda agency: self._run_agency(tenant, agency, max_batches), agencies))

    def run_all_agency_batches(self) -> list[dict]:
        return [report for tenant in self.relations.tenants() for report in self.run_agency_batches(tenant)]

    def _run_agency(self, tenant: str, agency: referrals.Agency, max_batches: int) -> dict:
        report = {"agency": agency.slug, "batches": 0, "sent": 0, "accepted": 0, "declined": 0, "withdrawals": 0,
                  "failed_batches": 0, "parked": 0, "status": "ok"}
        store = self.referrals_store
        state = store.state(tenant, agency.slug)
        now = self.clock()
        if state.paused_until and state.paused_until > iso(now):
            return {**report, "status": "paused"}
        if not store.acquire(tenant, agency.slug, RUN_LEASE_S):
            return {**report, "status": "busy"}  # another run is serving this agency right now
        try:
            return self._serve_agency(tenant, agency, max_batches, report, now)
        finally:
            store.release(tenant, agency.slug)

    def _serve_agency(self, tenant: str, agency: referrals.Agency, max_batches: int, report: dict, now: datetime) -> dict:
        store = self.referrals_store
        client = self._agency_client(tenant, agency)
        try:
            for referral in store.pending_withdrawals(tenant, agency.slug):
                client.withdraw(referral.referral_id, iso(now))
                store.withdrawal_sent(referral)
                report["withdrawals"] += 1
            for batch in store.open_batches(tenant, agency.slug):  # a run that stopped halfway, or a partial answer
                self._deliver(tenant, agency, client, batch, report)
            while report["batches"] < max_batches:
                queued = store.queued(tenant, agency.slug, agency.batch_size)
                if not queued:
                    break
                batch = store.new_batch(tenant, agency.slug)
                settings = self.tenant_settings(tenant)
                ids = [referral.pk.split("#P#", 1)[1] for referral in queued]
                names = {person.person_id: person.name for person in self.relations.people(tenant, ids)}
                store.claim(tenant, queued, batch, agency, {person_id: {
                    "recipient": {"legal_name": agency.legal_name, "name": agency.name, "country": agency.country},
                    "data_items": list(agency.data_items),
                    "consent": {"given_at": referral.consent_at, "text_version": referral.consent_version,
                                "channel": consents.CHANNEL},
                    "keep_until": iso(referrals.keep_until(now)), "expires_at": referrals.keep_until(now),
                    "person_name": names.get(person_id)} for person_id, referral in zip(ids, queued)})
                if not batch.members:
                    store.close_batch(batch, "empty")
                    continue
                self._deliver(tenant, agency, client, batch, report, settings)
        except HubError as error:
            report["status"] = error.code
        return report

    def _agency_client(self, tenant: str, agency: referrals.Agency):
        auth = self.credentials.agency_auth(tenant, agency.slug)
        return self.agency_clients[agency.client].Client(agency.endpoint, auth, timeout=(3.05, self.agency_timeout_s))

    def _deliver(self, tenant: str, agency: referrals.Agency, client, batch, report: dict, settings=None) -> None:
        """Send one batch (retrying within the run), then record every answer exactly once."""
        store = self.referrals_store
        settings = settings or self.tenant_settings(tenant)
        members = [m for m in store.members(tenant, batch) if m.status == "sending"]
        profiles = store.profiles(tenant, [m.pk.split("#P#", 1)[1] for m in members])
        payload, by_id = [], {}
        for member in members:
            person_id = member.pk.split("#P#", 1)[1]
            profile = profiles.get(person_id)
            if profile is None or not profile[2]:
                store.fail(tenant, member, "consent withdrawn or person erased before sending")
                continue
            person, timeline, _ = profile
            payload.append(referrals.payload(person, timeline, member.referral_id, agency.data_items,
                                             {"at": member.consent_at, "text_version": member.consent_version}))
            by_id[member.referral_id] = member
        if not payload:
            store.close_batch(batch)
            return
        referrer = {"company_name": settings.company_name if settings else tenant,
                    "contact": settings.contact if settings else ""}
        report["batches"] += 1
        error: HubError | None = None
        for attempt in range(referrals.MAX_TRIES_PER_RUN):
            try:
                results = client.send(batch.sk.split("#", 1)[1], batch.idempotency_key, referrer, payload)
                error = None
                break
            except RetryableError as failure:
                error = failure
                if attempt + 1 < referrals.MAX_TRIES_PER_RUN:
                    self.sleep(referrals.backoff_s(attempt, retry_after=failure.retry_after_s))
            except (PermanentError, PayloadError) as failure:
                error = failure
                break
        if error is not None:
            self._batch_failed(tenant, agency, batch, by_id, error, report)
            return
        report["sent"] += len(payload)
        answers: dict[str, tuple] = {}  # one answer per referral, the first, whatever the agency repeats
        for result in results:
            answers.setdefault(result.referral_id, (by_id[result.referral_id], result.status, result.agency_ref))
        for outcome in store.settle(tenant, agency, list(answers.values())):
            if outcome:
                report[outcome] += 1
        answered = {r.referral_id for r in results}
        if answered >= set(by_id):
            store.close_batch(batch)
        else:  # a partial answer: the rest go again with this batch's key
            store.batch_attempted(batch, "partial answer", park=False)
        store.save_state(tenant, agency.slug, 0, None)

    def _batch_failed(self, tenant: str, agency: referrals.Agency, batch, members: dict, error: HubError, report: dict) -> None:
        store = self.referrals_store
        report["failed_batches"] += 1
        park = (batch.attempts or 0) + 1 >= referrals.MAX_BATCH_ATTEMPTS or isinstance(error, PermanentError)
        store.batch_attempted(batch, error.message, park=park)
        if park:
            report["parked"] += 1
            for member in members.values():
                store.fail(tenant, member, error.code)
            self.queues.send("agency_dead_letters", {"tenant": tenant, "agency": agency.slug, "batch": batch.sk,
                                                     "error": error.code, "referrals": len(members)})
        state = store.state(tenant, agency.slug)
        failures = (state.consecutive_failures or 0) + 1
        pause = referrals.pause_for(failures)
        store.save_state(tenant, agency.slug, failures, iso(self.clock() + pause) if pause else None)
        if pause:
            report["status"] = "circuit_open"

    def ledger(self, tenant: str, slug: str) -> dict:
        agency = self.agency(tenant, slug)
        counts = self.referrals_store.ledger_counts(tenant, slug)
        entries = self.referrals_store.ledger_entries(tenant, slug)
        return {**counts, "slot_balance": counts["slots_earned"] - counts["slots_used"],
                "referrals_per_slot": agency.referrals_per_slot, "entries": entries}

    def use_slot(self, tenant: str, slug: str, body: dict, *, by: str) -> dict:
        self.agency(tenant, slug)
        note = body.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 500):
            raise BadRequest("note must be a string of at most 500 characters")
        entry = self.referrals_store.use_slot(tenant, slug, note=note, by=by)
        if entry is None:
            raise Conflict("no free slot left: the balance is 0")
        return entry

    def provisions(self, tenant: str, person_id: str) -> list[dict]:
        if not isinstance(person_id, str) or not person_id or len(person_id) > 100:
            raise BadRequest("give ?person_id=...")
        return self.referrals_store.provisions(check_tenant(tenant), person_id)

    def decide(self, token: str, form: Mapping[str, str], *, consent_text: Callable[[dict], str],
               accept_language: str | None = None) -> dict | None:
        """Record the person's choices from the page's POST; None for unknown and expired tokens."""
        page = self.relay_page(token, accept_language=accept_language, opened=False)
        if page is None:
            return None
        info: TokenInfo = page["info"]
        if not _same(form.get("csrf", ""), info.csrf):
            raise Forbidden("the form is stale; reload the page")
        choices = {purpose: form.get(purpose) == "yes" for purpose in consents.PURPOSES}
        score = form.get("score", "").strip()
        if score and (not score.isdigit() or not 0 <= int(score) <= 10):
            raise BadRequest("score must be a whole number from 0 to 10")
        text = consent_text(page)
        version = consents.text_version(page["locale"], text)
        self.config.put_once(info.tenant, f"CONSENT_TEXT#{version}", {"text": text, "locale": page["locale"]})
        decision = self.relations.record_decision(
            info.tenant, info.person_id, choices, at=self.clock(), version=version,
            score=int(score) if score else None, token_ref=info.notice,
            agencies=[a["slug"] for a in page["agencies"]])
        page = {**page, "person": decision.person, "current": consents.current(decision.person),
                "score": decision.person.consents.get("survey", {}).get("score"), "saved": True}
        return page

    def mail_feedback(self, notification: dict) -> int:
        """Suppress the addresses SES reports as hard-bounced or complaining; how many."""
        from chalicelib.domain import feedback
        suppressions = feedback.read(notification)
        for item in suppressions:
            self.suppressions.add(item.tenant, item.email, item.reason)
        return len(suppressions)

    # -- unsubscribe ------------------------------------------------------------------------------

    def unsubscribe_page(self, token: str) -> dict | None:
        found = self._token_context(token, "unsubscribe")
        if found is None:
            return None
        info, profile, settings = found
        locale = profile.person.locale if profile.person.locale in ("ja", "en") else settings.default_locale
        return {"info": info, "person": profile.person, "settings": settings, "locale": locale,
                "unsubscribed": bool(profile.person.email and self.suppressions.reasons(info.tenant, profile.person.email))}

    def unsubscribe(self, token: str) -> dict | None:
        """One-click opt-out (RFC 8058): no more mail of any kind, at once; idempotent."""
        page = self.unsubscribe_page(token)
        if page is None:
            return None
        info, person = page["info"], page["person"]
        if not page["unsubscribed"]:
            if person.email:
                self.suppressions.add(info.tenant, person.email, "opted_out")
            self.relations.opt_out(info.tenant, info.person_id, at=self.clock())
        return {**page, "unsubscribed": True}


    # -- KPIs -------------------------------------------------------------------------------------

    def kpis(self, tenant: str, first: str | None, last: str | None, by: str | None = None) -> dict:
        """The KPIs over [first, last] (default: the last 30 days) and a series per day; per cut with `by`."""
        check_tenant(tenant)
        first_day, last_day = _period(first, last, self.clock())
        if by is not None and by not in kpis.CUTS:
            raise BadRequest(f"by must be one of {', '.join(kpis.CUTS)}")
        days = self.relations.counter_days(tenant, first_day.isoformat(), last_day.isoformat())
        snapshots = self.relations.snapshots(tenant, first_day.isoformat(), last_day.isoformat())
        total: dict[str, int] = {}
        for counts in days.values():
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
        retained = self.relations.counters(tenant).get("kpi.retained", 0)
        series = []
        day = first_day
        while day <= last_day:
            snap = snapshots.get(day.isoformat())
            series.append({"date": day.isoformat(), **kpis.compute(
                days.get(day.isoformat(), {}), retained=snap["relations_retained"] if snap else None)})
            day += timedelta(days=1)
        answer = {"from": first_day.isoformat(), "to": last_day.isoformat(),
                  "current": kpis.compute(total, retained=retained), "series": series}
        if by:
            answer["by"] = by
            answer["cuts"] = {value: kpis.compute(total, retained=None, cut=f"{by}={value}")
                              for value in kpis.cut_values(total, by)}
        return answer

    def publish_kpis(self, tenant: str) -> dict:
        """The daily run: publish the tenant's KPIs (last 30 days) and keep the day's snapshot; once a day."""
        today = self.clock().date()
        current = self.kpis(tenant, (today - timedelta(days=29)).isoformat(), today.isoformat())["current"]
        if not self.relations.save_snapshot(tenant, today.isoformat(), current):
            return {"tenant": tenant, "date": today.isoformat(), "published": 0, "status": "already_published"}
        published = self.kpi_publisher(tenant, current) if self.kpi_publisher else 0
        return {"tenant": tenant, "date": today.isoformat(), "published": published, "status": "published"}

    def publish_all_kpis(self) -> list[dict]:
        return [self.publish_kpis(tenant) for tenant in self.relations.tenants()]

    def dashboard(self, tenant: str) -> dict:
        """What the HR dashboard shows: the last 30 days' KPIs and trend, and each agency's slots."""
        data = self.kpis(tenant, None, None)
        data["agencies"] = [{**agency, **self.referrals_store.ledger_counts(tenant, agency["slug"])}
                            for agency in self.agencies(tenant) if "endpoint" in agency]
        data["settings"] = self.tenant_settings(tenant)
        return data

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


def _same(given: str, expected: str) -> bool:
    import hmac
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _locale_from(accept_language: str | None, default: str) -> str:
    """The first of ja/en the browser asks for (quality order), else the tenant's default."""
    ranked = []
    for index, part in enumerate((accept_language or "").split(",")):
        lang, _, q = part.strip().partition(";q=")
        try:
            quality = float(q) if q else 1.0
        except ValueError:
            quality = 0.0
        ranked.append((-quality, index, lang.strip().lower()[:2]))
    for _, _, lang in sorted(ranked):
        if lang in ("ja", "en"):
            return lang
    return default



def _period(first: str | None, last: str | None, now: datetime):
    from datetime import date

    try:
        last_day = date.fromisoformat(last) if last else now.date()
        first_day = date.fromisoformat(first) if first else last_day - timedelta(days=29)
    except (TypeError, ValueError):
        raise BadRequest("from and to must be dates (YYYY-MM-DD)") from None
    if first_day > last_day:
        raise BadRequest("from must not be after to")
    if (last_day - first_day).days > 366:
        raise BadRequest("the period is at most 367 days")
    return first_day, last_day
