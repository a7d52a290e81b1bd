"""Mail and the pages it links to: settings, templates, notices, the Career Relay page,
consent decisions, unsubscribe, SES feedback."""
from __future__ import annotations

from datetime import timedelta
from typing import Callable, Mapping

from chalicelib.domain import consents, notices, tenants
from chalicelib.domain.errors import BadRequest, Forbidden, RetryableError
from chalicelib.domain.events import iso
from chalicelib.domain.ports import TokenInfo
from chalicelib.services.common import check_tenant, _same, _locale_from


class Correspondence:
    """Use cases of chalicelib.services.Hub, over the ports it holds."""

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
