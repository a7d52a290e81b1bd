"""A tenant's settings and mail templates: read, changed, previewed."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chalicelib.domain import phones, tenants
from chalicelib.domain.errors import BadRequest, NotFound, RetryableError
from chalicelib.domain.events import iso
from chalicelib.domain.mail import Template
from chalicelib.domain.ports import Clock, Config, Credentials, Egress, Templates, Tenants
from chalicelib.domain.records import JsonDict
from chalicelib.domain.referrals import Agency, consent_version_of
from chalicelib.services.common import check_tenant
from chalicelib.services.senders import Senders

_CONSENT_VERSION = re.compile(r"^(ja|en|r)-[0-9a-f]{16}$")  # consents.text_version, referrals.consent_version_of
# e20-content: a template's last versions kept (a ring of slots, one document each: version % KEPT), with
# who stored each and when, for the console's history (GET .../templates/{kind}/{locale}/versions)
TEMPLATE_VERSIONS_KEPT = 10
_PARTS = ("subject", "text", "html")


class Configuration:
    """Settings and templates per tenant; the agencies configured, for the services that use them."""

    def __init__(self, config: Config, credentials: Credentials, tenants: Tenants, templates: Templates,
                 senders: Senders, egress: Egress, *, clock: Clock | None = None) -> None:
        from chalicelib.services.ports import utc_now

        self._clock = clock or utc_now
        self._config = config
        self._credentials = credentials
        self._tenants = tenants
        self._templates = templates
        self._senders = senders
        self._egress = egress

    # -- settings -----------------------------------------------------------------------------------

    def put_settings(self, tenant: str, body: Mapping[str, Any]) -> JsonDict:
        """Store a tenant's settings. The SMTP password is bound to where it goes: when smtp.host or
        smtp.port change and the request brings no new password, the stored one is dropped (before
        the new settings are written, so it never meets the new server), and a password only ever
        travels over TLS."""
        check_tenant(tenant)
        stored = self.tenant_settings(tenant)
        settings, password = tenants.read_settings(dict(body))
        smtp = settings.smtp
        same_server = bool(stored and stored.smtp and smtp and tenants.same_mail_server(stored.smtp, smtp))
        if smtp is not None:
            kept = same_server and stored is not None and stored.smtp is not None and stored.smtp.has_password
            smtp = replace(smtp, has_password=password is not None or kept)
            settings = replace(settings, smtp=smtp)
            tenants.check_mail_security(smtp)
            self._egress.check_mail_server(smtp.host, smtp.port, tls=smtp.uses_tls)
        self._senders.register(tenant, settings)  # Conflict (nothing stored) when the domain is another's
        if not same_server:
            self._credentials.drop_smtp_password(tenant)
        self._config.put(tenant, "settings", (), settings.to_json())
        if password is not None:
            self._credentials.store_smtp_password(tenant, password)
        self._tenants.add_tenant(tenant)
        return {**settings.to_json(), **self._senders.describe(tenant, settings)}  # smtp.password_stored: kept or not

    def settings_answer(self, tenant: str) -> JsonDict | None:
        """The settings as the admin reads them, with the sender's status (SES); None when there are none."""
        settings = self.tenant_settings(tenant)
        return {**settings.to_json(), **self._senders.describe(tenant, settings)} if settings else None

    def tenant_settings(self, tenant: str) -> tenants.TenantSettings | None:
        found = self._config.get(check_tenant(tenant), "settings")
        return tenants.from_json(found.data) if found else None

    def zone(self, tenant: str) -> str:
        """The tenant's time zone (IANA name): of its settings, else the defaults' (Asia/Tokyo)."""
        settings = self.tenant_settings(tenant)
        return settings.zone if settings else tenants.zone_of(None)

    def phone_region(self, tenant: str) -> str:
        """Where a phone number without a country code is read for the tenant (settings, else JP)."""
        settings = self.tenant_settings(tenant)
        return settings.phone_region if settings else phones.DEFAULT_REGION

    def mail_settings(self, tenant: str) -> tenants.TenantSettings:
        """The settings a mail needs; RetryableError until the tenant has some (the queue retries)."""
        settings = self.tenant_settings(tenant)
        if settings is None:
            raise RetryableError("the tenant has no mail settings yet (PUT /admin/tenants/{tenant}/settings)")
        return settings

    def agency_documents(self, tenant: str) -> list[JsonDict]:
        """Partner agencies the tenant has configured, as stored (name, country, data items, ...),
        each with the consent version of what the consent page tells about it (computed afresh)."""
        return [{**document.data, "consent_version": consent_version_of(document.data)}
                for document in self._config.list(tenant, "agency")]

    def consent_text(self, tenant: str, version: str) -> JsonDict:
        """What a consent version stands for, kept for evidence: a page's exact text ("ja-..."),
        or the facts told about an agency ("r-...")."""
        if not isinstance(version, str) or not _CONSENT_VERSION.match(version):
            raise NotFound("no such consent version")
        found = self._config.get(check_tenant(tenant), "consent_text", (version,))
        if found is None:
            raise NotFound("no such consent version")
        return {"version": version, **found.data}

    def agencies(self, tenant: str) -> list[Agency]:
        """Partner agencies the tenant has configured, for batches."""
        return [Agency.from_json(data) for data in self.agency_documents(tenant)]

    # -- templates ------------------------------------------------------------------------------------

    def template(self, tenant: str, kind: str, locale: str) -> Template:
        """The tenant's template for kind and locale, else the shipped default."""
        self._templates.check_kind(kind, locale)
        found = self._config.get(check_tenant(tenant), "template", (kind, locale))
        if not found:
            return self._templates.default(kind, locale)
        data = found.data
        return Template(subject=data["subject"], text=data["text"], html=data.get("html"), version=found.version)

    def locale_for(self, person_locale: str | None, settings: tenants.TenantSettings) -> str:
        """The locale a person is written to in: theirs when the hub has templates in it."""
        return person_locale if person_locale in self._templates.LOCALES else settings.default_locale

    def _template_from(self, body: Mapping[str, Any]) -> Template:
        unknown = set(body) - {"subject", "text", "html"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        for name in ("subject", "text"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise BadRequest(f"{name} must be a non-empty string")
        if body.get("html") is not None and not isinstance(body["html"], str):
            raise BadRequest("html must be a string")
        template = Template(subject=body["subject"], text=body["text"], html=body.get("html") or None)
        self._templates.check(template)
        return template

    def put_template(self, tenant: str, kind: str, locale: str, body: Mapping[str, Any], *,
                     by: str | None = None) -> JsonDict:
        """Store a checked template as its next version; the version is also kept in the ring of the
        last TEMPLATE_VERSIONS_KEPT with who stored it (an actor as the audit trail names it) and when."""
        check_tenant(tenant)
        self._templates.check_kind(kind, locale)
        template = self._template_from(body)
        parts = {"subject": template.subject, "text": template.text, "html": template.html}
        version = self._config.put(tenant, "template", (kind, locale), parts)
        self._config.put(tenant, "template_version", (kind, locale, str(version % TEMPLATE_VERSIONS_KEPT)),
                         {**parts, "version": version, "at": iso(self._clock()), "by": by})
        return {"kind": kind, "locale": locale, "version": version}

    def template_versions(self, tenant: str, kind: str, locale: str) -> JsonDict:
        """The template's last versions, newest first: each with when, by whom, its parts and which
        parts it changed from the version before it (None when that one is no longer kept).
        At most TEMPLATE_VERSIONS_KEPT reads of one item each."""
        current = self.template(tenant, kind, locale)
        kept: list[JsonDict] = []
        for version in range(current.version, max(0, current.version - TEMPLATE_VERSIONS_KEPT), -1):
            found = self._config.get(tenant, "template_version", (kind, locale, str(version % TEMPLATE_VERSIONS_KEPT)))
            if found is not None and found.data.get("version") == version:
                kept.append({name: found.data.get(name) for name in ("version", "at", "by", *_PARTS)})
        for index, newer in enumerate(kept):
            older = kept[index + 1] if index + 1 < len(kept) else None
            if newer["version"] == 1:
                newer["changed"] = [p for p in _PARTS if newer[p] is not None or p != "html"]
            elif older is not None and older["version"] == newer["version"] - 1:
                newer["changed"] = [p for p in _PARTS if newer[p] != older[p]]
            else:
                newer["changed"] = None  # the version before is no longer kept
        return {"kind": kind, "locale": locale, "version": current.version, "kept": TEMPLATE_VERSIONS_KEPT,
                "versions": kept}

    def template_list(self, tenant: str) -> JsonDict:
        """Every kind and locale with the version in use (0: the shipped default)."""
        check_tenant(tenant)
        return {"templates": [{"kind": kind, "locale": locale, "version": (version := self.template(tenant, kind, locale).version),
                               "default": version == 0}
                              for kind in self._templates.KINDS for locale in self._templates.LOCALES]}

    def preview_template(self, tenant: str, kind: str, locale: str, body: Mapping[str, Any] | None) -> JsonDict:
        """Render a template (the one given, or the stored one) with sample data, and list the
        variables a template may use with their meaning; nothing is stored."""
        check_tenant(tenant)
        self._templates.check_kind(kind, locale)
        template = self._template_from(body) if body else self.template(tenant, kind, locale)
        settings = self.tenant_settings(tenant)
        sample: dict[str, str | None] = dict(self._templates.SAMPLE)
        if settings:
            sample.update(company_name=settings.company_name, postal_address=settings.postal_address,
                          contact=settings.contact)
        mail = self._templates.render(template, sample, locale)
        return {"subject": mail.subject, "text": mail.text, "html": mail.html, "variables": dict(self._templates.VARIABLES)}
