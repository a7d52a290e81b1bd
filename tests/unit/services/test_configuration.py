"""Configuration: a tenant's settings (the sender block the law asks for, the mail transport) and its
mail templates, checked, versioned and previewed."""
from __future__ import annotations

import json
import time

import pytest

from chalicelib.domain.errors import BadRequest, HubError, RetryableError, UnknownTenant
from tests.unit.services.support import SETTINGS


def test_settings_are_stored_with_their_defaults_and_create_the_tenant(services):
    answer = services.configuration.put_settings("acme", SETTINGS)

    assert answer == {**SETTINGS, "mail_transport": "ses", "nurture_interval_days": 90, "time_zone": "Asia/Tokyo", "phone_region": "JP",
                      "sender_domain": "example.com",
                      "sender_status": "verified", "dns_records": answer["dns_records"], "notices_waiting": 0}
    assert services.ports.tenants.tenants() == ["acme"]
    settings = services.configuration.tenant_settings("acme")
    assert settings.company_name == "サンプル株式会社" and settings.default_locale == "ja"
    assert services.configuration.mail_settings("acme") == settings


@pytest.mark.parametrize("change,needle", [
    ({"sender_email": "not-mail"}, "sender_email"), ({"default_locale": "fr"}, "default_locale"),
    ({"mail_transport": "pigeon"}, "mail_transport"), ({"mail_transport": "smtp"}, "smtp"),
    ({"smtp": {"host": "bad host!", "port": 25}}, "smtp.host"), ({"company_name": ""}, "company_name"),
    ({"extra": 1}, "unknown fields"), ({"nurture_interval_days": 0}, "nurture_interval_days"),
])
def test_bad_settings_are_refused_naming_the_field(services, change, needle):
    with pytest.raises(BadRequest, match=needle):
        services.configuration.put_settings("acme", {**SETTINGS, **change})
    assert services.configuration.tenant_settings("acme") is None


def test_the_smtp_password_is_kept_with_the_credentials_and_survives_a_change_without_it(services):
    smtp = {"host": "smtp.example.jp", "port": 587, "username": "hub", "password": "p4ssw0rd"}

    answer = services.configuration.put_settings("acme", {**SETTINGS, "mail_transport": "smtp", "smtp": smtp})

    assert answer["smtp"]["password_stored"] is True and "p4ssw0rd" not in json.dumps(answer)
    assert "p4ssw0rd" not in json.dumps(services.ports.config.get("acme", "settings").data)
    assert services.ports.credentials.smtp_password("acme") == "p4ssw0rd"
    without = {k: v for k, v in smtp.items() if k != "password"}
    again = services.configuration.put_settings("acme", {**SETTINGS, "mail_transport": "smtp", "smtp": without})
    assert again["smtp"]["password_stored"] is True
    assert services.ports.credentials.smtp_password("acme") == "p4ssw0rd"


def test_mail_waits_as_a_retryable_error_until_the_tenant_has_settings(services):
    with pytest.raises(RetryableError):
        services.configuration.mail_settings("acme")
    with pytest.raises(UnknownTenant):
        services.configuration.tenant_settings("Bad_Tenant!")


# -- templates ------------------------------------------------------------------------------------

def test_a_tenant_template_is_versioned_and_replaces_the_default(services, acme):
    default = services.configuration.template("acme", "rejection", "ja")
    body = {"subject": "{{ company_name }}より", "text": "{{ person_name }}様"}

    first = services.configuration.put_template("acme", "rejection", "ja", body)
    second = services.configuration.put_template("acme", "rejection", "ja", {**body, "text": "{{ person_name }} 様"})

    assert (first, second) == ({"kind": "rejection", "locale": "ja", "version": 1},
                               {"kind": "rejection", "locale": "ja", "version": 2})
    stored = services.configuration.template("acme", "rejection", "ja")
    assert (stored.subject, stored.text, stored.version) == ("{{ company_name }}より", "{{ person_name }} 様", 2)
    assert default.subject != stored.subject
    assert services.configuration.template("acme", "rejection", "en").subject != stored.subject  # per locale


@pytest.mark.parametrize("template,needle", [
    ({"subject": "x", "text": "a\n{% if %}"}, "text, line 2"),
    ({"subject": "x", "text": "a\n\n{{ salary }}"}, "text, line 3: unknown variable 'salary'"),
    ({"subject": "{{ x.y }", "text": "a"}, "subject, line 1"),
    ({"subject": "x", "text": "a", "html": "<p>{{ nope }}</p>"}, "html, line 1: unknown variable 'nope'"),
    ({"subject": "x"}, "text must be"),
    ({"subject": "x", "text": "a", "footer": "b"}, "unknown fields"),
    ({"subject": "x", "text": "{{ company_name.__class__.__mro__ }}"}, ""),  # no reaching Python internals
])
def test_bad_templates_are_refused_naming_the_part_and_line(services, acme, template, needle):
    with pytest.raises(BadRequest) as refused:
        services.configuration.put_template("acme", "rejection", "ja", template)
    assert needle in refused.value.message
    assert services.ports.config.get("acme", "template", ("rejection", "ja")) is None


RUNAWAY = {  # each must be stopped by a limit, quickly, and refused as a 400 (templates.py's docstring)
    "9M loop iterations": "{% for a in range(3000) %}{% for b in range(3000) %}{% endfor %}{% endfor %}",
    "a 2 MB string": "{{ 'x' * 2000000 }}",
    "a 20 MB string": "{{ 'x' * 20000000 }}",
    "a 2 GB string": "{{ 'x' * 2000000000 }}",
    "exponential recursion": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "endless recursion": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "a missing partial": "{% include 'mail/nope.j2' %}",
    "a page of the hub": "{% include 'pages/base.html.j2' %}",
    "a computed name": "{% include company_name %}",
    "an import of a foreign name": "{% import '../../app.py' as app %}",
    "extends of a foreign name": "{% extends 'mail/layout.html.j2' %}",
}


@pytest.mark.parametrize("name", RUNAWAY)
def test_templates_that_run_away_or_reach_outside_the_partials_are_a_400_at_put_and_preview(services, acme, name):
    body = {"subject": "x", "text": RUNAWAY[name]}
    started = time.monotonic()
    with pytest.raises(BadRequest) as refused:
        services.configuration.put_template("acme", "rejection", "ja", body)
    with pytest.raises(BadRequest):
        services.configuration.preview_template("acme", "rejection", "ja", body)
    assert time.monotonic() - started < 12  # two renders, each killed after 5 s at the latest
    assert refused.value.status == 400 and services.ports.config.get("acme", "template", ("rejection", "ja")) is None


def test_a_stored_template_that_fails_is_a_400_at_preview_not_a_5xx(services, acme):
    """A template stored before the limits (straight through the port) is refused as the caller's input."""
    services.ports.config.put("acme", "template", ("rejection", "ja"), {"subject": "x", "text": "{{ 'x' * 2000000 }}"})

    with pytest.raises(HubError) as refused:
        services.configuration.preview_template("acme", "rejection", "ja", None)

    assert refused.value.status == 400 and refused.value.code == "template_error"
    assert "longer than" in refused.value.message


def test_the_hubs_own_partials_may_be_included(services, acme):
    body = {"subject": "x", "text": "{{ person_name }} 様\n{% include 'mail/link_block.ja.text.j2' %}"}
    services.configuration.put_template("acme", "rejection", "ja", body)

    preview = services.configuration.preview_template("acme", "rejection", "ja", None)

    assert preview["text"].count("https://hub.example.com/r/sample") == 1  # the included block, not a second one


@pytest.mark.parametrize("kind,locale", [("promo", "ja"), ("rejection", "fr")])
def test_unknown_template_kinds_and_locales_are_refused(services, acme, kind, locale):
    with pytest.raises(BadRequest):
        services.configuration.template("acme", kind, locale)
    with pytest.raises(BadRequest):
        services.configuration.put_template("acme", kind, locale, {"subject": "x", "text": "y"})


def test_preview_renders_the_default_and_a_draft_with_the_tenants_sender_without_storing(services, acme):
    default = services.configuration.preview_template("acme", "alumni_farewell", "ja", None)
    draft = services.configuration.preview_template("acme", "rejection", "en", {"subject": "S", "text": "Draft {{ relay_link }}"})

    assert "サンプル株式会社" in default["text"] and default["html"].startswith("<!doctype html>")
    assert draft["subject"] == "S" and draft["text"].startswith("Draft https://")
    assert services.ports.config.get("acme", "template", ("rejection", "en")) is None


def test_html_templates_are_autoescaped_in_previews(services, acme):
    services.configuration.put_template("acme", "rejection", "en", {
        "subject": "Hi", "text": "Hi {{ person_name }}", "html": "<p>Hi {{ person_name }}</p>"})

    preview = services.configuration.preview_template("acme", "rejection", "en", None)

    assert "<p>Hi 山田 花子</p>" in preview["html"]


def test_a_person_is_written_to_in_their_language_when_the_hub_has_it(services, acme):
    settings = services.configuration.tenant_settings("acme")

    assert services.configuration.locale_for("en", settings) == "en"
    assert services.configuration.locale_for("fr", settings) == "ja"
    assert services.configuration.locale_for(None, settings) == "ja"
