"""One mail to one person with their links: the step every notice and nurture mail shares."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain import notices, zones
from chalicelib.domain.delivery import new_link_token
from chalicelib.domain.events import iso
from chalicelib.domain.mail import Template
from chalicelib.domain.person import Person
from chalicelib.domain.ports import Clock, Mailer, Templates, Tokens
from chalicelib.domain.records import LinkGrant
from chalicelib.domain.tenants import TenantSettings


@dataclass(frozen=True)
class Links:
    """A mail's two links, made before it goes: the Career Relay page and the one-click opt-out."""

    sent_at: datetime
    relay: LinkGrant
    unsubscribe: LinkGrant

    @property
    def grants(self) -> tuple[LinkGrant, LinkGrant]:
        return self.relay, self.unsubscribe


class Letters:
    def __init__(self, tokens: Tokens, templates: Templates, mailer: Mailer, clock: Clock, public_url: str) -> None:
        self._tokens = tokens
        self._templates = templates
        self._mailer = mailer
        self._clock = clock
        self._public_url = public_url

    def links(self, tenant: str, *, kind: str, notice: str, channel: str = "hub_notice") -> Links:
        """New tokens for one mail, not kept yet: the caller keeps them (Tokens.keep, or with its
        notice's claim, Notices.claim) before the mail goes."""
        sent_at = self._clock()
        return Links(sent_at=sent_at,
                     relay=LinkGrant(new_link_token(tenant), "relay", notices.link_expiry(kind, sent_at),
                                     notice=notice, channel=channel),
                     unsubscribe=LinkGrant(new_link_token(tenant), "unsubscribe",
                                           sent_at + timedelta(days=notices.UNSUBSCRIBE_LINK_DAYS),
                                           notice=notice, channel=channel))

    def send(self, tenant: str, person: Person, settings: TenantSettings, template: Template, locale: str, *,
             kind: str, notice: str, job_title: str | None, reference: str, channel: str = "hub_notice",
             links: Links | None = None) -> dict[str, str]:
        """Mail one person with their Career Relay link, the sender block and one-click unsubscribe
        (特定電子メール法 Art. 4, RFC 8058); the message id and when it went. Given `links`, they
        were kept already; without, new ones are kept first (one write)."""
        if not person.email:
            raise ValueError("a letter needs an address")  # callers check first: a bug, not bad input
        if links is None:
            links = self.links(tenant, kind=kind, notice=notice, channel=channel)
            self._tokens.keep(tenant, person.person_id, links.grants)
        unsubscribe_link = f"{self._public_url}/u/{links.unsubscribe.token}"
        context: dict[str, str | None] = {
            "name": person.name, "person_name": person.name, "family_name": person.family_name,
            "given_name": person.given_name, "name_kana": person.name_kana, "company_name": settings.company_name, "job_title": job_title,
            "relay_link": f"{self._public_url}/r/{links.relay.token}", "unsubscribe_link": unsubscribe_link,
            "link_expires_on": zones.local_day(links.relay.valid_until, settings.zone), "postal_address": settings.postal_address,
            "contact": settings.contact}
        mail = self._templates.render(template, context, locale)
        message_id = self._mailer.send(tenant, settings, to=person.email, subject=mail.subject, text=mail.text,
                                       html=mail.html, unsubscribe_url=unsubscribe_link, reference=reference)
        return {"message_id": message_id, "sent_at": iso(links.sent_at)}
