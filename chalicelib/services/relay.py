"""The pages a mail links to: the Career Relay consent page and the one-click opt-out."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from chalicelib.domain import consents, counters, referrals, routing
from chalicelib.domain.errors import Conflict, FormRefused
from chalicelib.domain.events import iso
from chalicelib.domain.person import Person
from chalicelib.domain.ports import Clock, Config, Relations, Suppressions, Tokens
from chalicelib.domain.records import JsonDict, TokenInfo
from chalicelib.domain.tenants import TenantSettings
from chalicelib.services.common import locale_from, same_secret
from chalicelib.services.configuration import Configuration
from chalicelib.services.routing import Routing


@dataclass(frozen=True)
class RelayPage:
    """What the consent page shows for one link."""

    info: TokenInfo
    person: Person
    settings: TenantSettings
    locale: str
    agencies: list[JsonDict] = field(default_factory=list)   # each with its consent_version
    changed: list[str] = field(default_factory=list)  # agencies edited or added since the relay consent: asked again
    current: dict[str, bool] = field(default_factory=dict)
    score: int | None = None
    saved: bool = False
    action: str = "relay"  # what the link's rejection was routed to (docs/routing.md): what the page offers

    @property
    def offers(self) -> tuple[str, ...]:
        return routing.offers(self.action)

    def shown(self, text: str) -> str:
        """What the form carries back of this page (consents.shown), given its consent text."""
        return consents.shown(consents.text_version(self.locale, text), _versions(self.agencies))


@dataclass(frozen=True)
class UnsubscribePage:
    info: TokenInfo
    person: Person
    settings: TenantSettings
    locale: str
    unsubscribed: bool


class RelayPages:
    def __init__(self, tokens: Tokens, relations: Relations, suppressions: Suppressions, config: Config,
                 configuration: Configuration, clock: Clock, routing: Routing) -> None:
        self._tokens = tokens
        self._relations = relations
        self._suppressions = suppressions
        self._config = config
        self._configuration = configuration
        self._clock = clock
        self._routing = routing

    def _token_context(self, token: str, purpose: str) -> tuple[TokenInfo, Person, TenantSettings] | None:
        """The binding, person and tenant settings behind a link token; None for unknown and expired alike."""
        info = self._tokens.resolve(token)
        if info is None or info.purpose != purpose:
            return None
        profile = self._relations.profile(info.tenant, info.person_id)
        settings = self._configuration.tenant_settings(info.tenant)
        if profile is None or settings is None:
            return None
        return info, profile.person, settings

    def relay_page(self, token: str, *, accept_language: str | None = None) -> RelayPage | None:
        """What the consent page shows for a token; None for unknown and expired tokens alike. Showing
        it records nothing: mail scanners fetch links too (docs/kpis.md, "opened")."""
        found = self._token_context(token, "relay")
        if found is None:
            return None
        info, person, settings = found
        locale = person.locale if person.locale in ("ja", "en") else locale_from(accept_language, settings.default_locale)
        action = self._routing.page_action(info)
        agencies = self._configuration.agency_documents(info.tenant) if "relay" in routing.offers(action) else []
        return RelayPage(info=info, person=person, settings=settings, locale=locale, agencies=agencies,
                         changed=consents.changed_agencies(person, _versions(agencies)) if agencies else [],
                         current=consents.current(person), score=consents.survey_score(person), action=action)

    def seen(self, token: str) -> bool:
        """The page was rendered by a browser (it loaded the page's beacon image), or a form came back
        from it: the first time, the link counts as opened. False for unknown and expired tokens."""
        found = self._token_context(token, "relay")
        if found is None:
            return False
        info = found[0]
        if info.opened_at is None and self._tokens.mark_opened(token):
            self._relations.record_contact_event(info.tenant, info.person_id, {
                "type": "link_opened", "occurred_at": iso(self._clock()), "notice": info.notice, "channel": info.channel},
                {counters.LINKS_OPENED: 1, counters.by_channel(counters.LINKS_OPENED, info.channel): 1})
        return True

    def decide(self, token: str, form: Mapping[str, str], *, consent_text: Callable[[RelayPage], str],
               accept_language: str | None = None) -> RelayPage | None:
        """Record the person's choices from the page's POST; None for unknown and expired tokens.
        Conflict when the text or an agency changed since the page was shown (form field "shown",
        RelayPage.shown): nobody consents to what they did not see."""
        page = self.relay_page(token, accept_language=accept_language)
        if page is None:
            return None
        info = page.info
        if page.action == "none":
            return page  # no mail went out for it: a neutral page, nothing recorded
        if not same_secret(form.get("csrf", ""), info.csrf):
            raise FormRefused("stale_form", "the form is stale; reload the page")
        self.seen(token)  # a form this page rendered came back: a person opened it
        choices = {purpose: form.get(purpose) == "yes" if purpose in page.offers else bool(page.current.get(purpose))
                   for purpose in consents.PURPOSES}  # what the page does not offer stays as it was
        choices[consents.RENEW] = "relay" in page.offers and form.get(consents.RENEW) == "yes"
        score = form.get("score", "").strip()
        if score and (not score.isdigit() or not 0 <= int(score) <= 10):
            raise FormRefused("bad_score", "score must be a whole number from 0 to 10")
        text = consent_text(page)
        version = consents.text_version(page.locale, text)
        if form.get("shown", page.shown(text)) != page.shown(text):
            raise Conflict("the details on this page changed since it was shown; read them again")
        self._config.put_once(info.tenant, "consent_text", (version,), {"text": text, "locale": page.locale})
        agencies = _versions(page.agencies)
        decision = self._relations.record_decision(
            info.tenant, info.person_id, choices, at=self._clock(), version=version,
            score=int(score) if score else None, token_ref=info.notice, agencies=agencies, link_channel=info.channel)
        for agency in page.agencies:  # what each version consented to stands for (kept once)
            if agency["slug"] in decision.queue:
                self._config.put_once(info.tenant, "consent_text", (agency["consent_version"],),
                                      referrals.consent_evidence(agency))
        return replace(page, person=decision.person, current=consents.current(decision.person),
                       changed=consents.changed_agencies(decision.person, agencies),
                       score=consents.survey_score(decision.person), saved=True)

    def unsubscribe_page(self, token: str) -> UnsubscribePage | None:
        found = self._token_context(token, "unsubscribe")
        if found is None:
            return None
        info, person, settings = found
        locale = person.locale if person.locale in ("ja", "en") else settings.default_locale
        return UnsubscribePage(info=info, person=person, settings=settings, locale=locale,
                               unsubscribed=bool(person.email and self._suppressions.reasons(info.tenant, person.email)))

    def unsubscribe(self, token: str) -> UnsubscribePage | None:
        """One-click opt-out (RFC 8058): no more mail of any kind, at once; idempotent."""
        page = self.unsubscribe_page(token)
        if page is None:
            return None
        if not page.unsubscribed:
            if page.person.email:
                self._suppressions.add(page.info.tenant, page.person.email, "opted_out")
            self._relations.opt_out(page.info.tenant, page.info.person_id, at=self._clock())
        return replace(page, unsubscribed=True)


def _versions(agencies: list[JsonDict]) -> dict[str, str]:
    """The agencies on a page by slug, each with its consent version."""
    return {str(agency["slug"]): str(agency["consent_version"]) for agency in agencies}
