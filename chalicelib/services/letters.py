"""One mail to one person with their links: the step every notice and nurture mail shares."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import notices, zones
from chalicelib.domain.events import iso
from chalicelib.domain.mail import Template
from chalicelib.domain.person import Person
from chalicelib.domain.ports import Clock, Mailer, Templates, Tokens
from chalicelib.domain.tenants import TenantSettings


class Letters:
    def __init__(self, tokens: Tokens, templates: Templates, mailer: Mailer, clock: Clock, public_url: str) -> None:
        self._tokens = tokens
        self._templates = templates
        self._mailer = mailer
        self._clock = clock
        self._public_url = public_url

    def send(self, tenant: str, person: Person, settings: TenantSettings, template: Template, locale: str, *,
             kind: str, notice: str, job_title: str | None, reference: str, channel: str = "hub_notice") -> dict[str, str]:
        """Mail one person with their Career Relay link, the sender block and one-click unsubscribe
        (特定電子メール法 Art. 4, RFC 8058); the message id and when it went."""
        if not person.email:
            raise ValueError("a letter needs an address")  # callers check first: a bug, not bad input
        sent_at = self._clock()
        valid_until = notices.link_expiry(kind, sent_at)
        relay = self._tokens.issue(tenant, person.person_id, "relay", valid_until, notice=notice, channel=channel)
        unsubscribe = self._tokens.issue(tenant, person.person_id, "unsubscribe",
                                         sent_at + timedelta(days=notices.UNSUBSCRIBE_LINK_DAYS), notice=notice, channel=channel)
        context: dict[str, str | None] = {
            "name": person.name, "person_name": person.name, "family_name": person.family_name,
            "given_name": person.given_name, "name_kana": person.name_kana, "company_name": settings.company_name, "job_title": job_title,
            "relay_link": f"{self._public_url}/r/{relay}", "unsubscribe_link": f"{self._public_url}/u/{unsubscribe}",
            "link_expires_on": zones.local_day(valid_until, settings.zone), "postal_address": settings.postal_address,
            "contact": settings.contact}
        mail = self._templates.render(template, context, locale)
        message_id = self._mailer.send(tenant, settings, to=person.email, subject=mail.subject, text=mail.text,
                                       html=mail.html, unsubscribe_url=f"{self._public_url}/u/{unsubscribe}",
                                       reference=reference)
        return {"message_id": message_id, "sent_at": iso(sent_at)}
