"""e20-content: the console's templates (editor+) and settings (admin) screens (issue 20 points 2 and 6;
docs/console.md "Templates and settings"). Every route is `guarded` (the one role table, the session,
CSRF, the tenant) and calls the services the admin API calls (Configuration.put_template /
preview_template / template_versions, put_settings, Writeback's delivery, Routing.put_rules), writing
the same audit entries with the signed-in user as actor. Bad input answers the page again (400) with
what was entered and the message next to its field, or, for a template, next to its line.

The templates and settings forms are multipart/form-data (console_forms: a template part may be
20,000 characters, more than the console's urlencoded limit)."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.errors import BadRequest, HubError, NotFound
from chalicelib.handlers import console_admin
from chalicelib.handlers.console import _form, _locale, guarded, redirect, render
from chalicelib.handlers.console_content_text import KINDS, LOCALE_NAMES, MODES, PARTS, TEXT, ZONES

if TYPE_CHECKING:
    from chalicelib.domain.console import ConsoleSession

_AT_LINE = re.compile(r"^(subject|text|html)(?:, line (\d+))?: (.*)$", re.S)
SETTINGS_FIELDS = ("company_name", "sender_email", "postal_address", "contact", "default_locale", "mail_transport",
                   "time_zone", "phone_region", "nurture_interval_days", "notice_delay_minutes")
SMTP_FIELDS = ("host", "port", "username", "password", "starttls")
# what a field is set to while the rest of the form is checked (each error is the service's own rule)
_STAND_IN: dict[str, Any] = {"company_name": "x", "sender_email": "x@example.com", "postal_address": "x", "contact": "x",
                             "default_locale": "ja", "mail_transport": "ses", "time_zone": None, "phone_region": "JP",
                             "nurture_interval_days": 90, "notice_delay_minutes": None}
_SMTP_STAND_IN: dict[str, Any] = {"host": "smtp.example.com", "port": 587, "username": None, "password": None, "starttls": True}


def _page(request: Request, session: ConsoleSession, tenant: str, name: str, status: int = 200, **context: Any) -> Response:
    locale = _locale(request)
    en = locale == "en"
    return render(request, name, status, x=console_admin.TEXT[locale], c=TEXT[locale], tenant=tenant, csrf=session.csrf,
                  lang_q="?lang=en" if en else "", me=session.identity.actor,
                  role=wiring.hub().console.grants(session).role_name(tenant),
                  kinds={k: v[en] for k, v in KINDS.items()}, locales={k: v[en] for k, v in LOCALE_NAMES.items()},
                  parts={k: v[en] for k, v in PARTS.items()}, **context)


def _lang(request: Request, joiner: str = "?") -> str:
    return f"{joiner}lang=en" if _locale(request) == "en" else ""


# -- templates ---------------------------------------------------------------------------------------

@guarded
def templates_page(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """Every kind and locale, with the version in use (the admin API's GET .../templates)."""
    listed = wiring.hub().configuration.template_list(tenant)["templates"]
    rows = {kind: {t["locale"]: t for t in listed if t["kind"] == kind} for kind in KINDS}
    return _page(request, session, tenant, "templates", rows=rows, title=TEXT[_locale(request)]["templates_title"])


def _checked_kind(kind: str, locale: str) -> None:
    from chalicelib.adapters.templates import check_kind

    try:
        check_kind(kind, locale)
    except BadRequest:
        raise NotFound("no such template") from None


@guarded
def template_page(request: Request, session: ConsoleSession, tenant: str, kind: str, locale: str) -> Response:
    """The editor with the stored template (or, with ?version=N, a kept version loaded), its preview
    on the sample person, the variables, the history and the audit entries."""
    _checked_kind(kind, locale)
    c = TEXT[_locale(request)]
    current = wiring.hub().configuration.template(tenant, kind, locale)
    form = {"subject": current.subject, "text": current.text, "html": current.html or ""}
    query, notice = request.query_params or {}, None
    if (saved := query.get("saved", "")).isdigit():
        notice = c["saved"].format(v=saved)
    if (wanted := query.get("version", "")).isdigit():
        kept = next((v for v in _history(tenant, kind, locale) if v["version"] == int(wanted)), None)
        if kept is not None:
            form = {part: kept.get(part) or "" for part in PARTS}
            notice = c["loaded"].format(v=wanted)
    return _editor(request, session, tenant, kind, locale, form, notice=notice, preview=_preview(tenant, kind, locale, form))


@guarded
def template_submit(request: Request, session: ConsoleSession, tenant: str, kind: str, locale: str) -> Response:
    """`op` preview: the form rendered on the sample person, nothing stored. `op` save: the admin API's
    PUT (checked the same way), audited `template.change` with the user as actor. A refused template
    comes back with the message at its line and the text as typed (400)."""
    _checked_kind(kind, locale)
    fields = _form(request)
    form = {part: fields.get(part, "").replace("\r\n", "\n") for part in PARTS}
    body = {"subject": form["subject"], "text": form["text"], "html": form["html"] if form["html"].strip() else None}
    configuration = wiring.hub().configuration
    try:
        if fields.get("op") == "save":
            stored = configuration.put_template(tenant, kind, locale, body, by=session.identity.actor)
            wiring.hub().console.audit(session, tenant, "template.change", f"{kind}/{locale}")
            return redirect(f"/console/t/{tenant}/templates/{kind}/{locale}?saved={stored['version']}{_lang(request, '&')}")
        preview = configuration.preview_template(tenant, kind, locale, body)
    except HubError as refused:
        return _editor(request, session, tenant, kind, locale, form, status=400, error=_at_line(refused.message, form))
    return _editor(request, session, tenant, kind, locale, form, preview=preview)


def _preview(tenant: str, kind: str, locale: str, form: dict[str, str]) -> dict[str, Any] | None:
    body = {"subject": form["subject"], "text": form["text"], "html": form["html"] or None}
    try:
        return wiring.hub().configuration.preview_template(tenant, kind, locale, body)
    except HubError:
        return None  # a stored template that no longer renders: the editor shows it, Preview says why


def _at_line(message: str, form: dict[str, str]) -> dict[str, Any]:
    """A refusal as the editor shows it: the part, the line, the message, and the lines around it."""
    found = _AT_LINE.match(message)
    if not found:
        return {"part": None, "line": None, "message": message, "excerpt": []}
    part, line, text = found.group(1), int(found.group(2)) if found.group(2) else None, found.group(3)
    lines = form.get(part, "").split("\n")
    excerpt = [(n, lines[n - 1]) for n in range(max(1, line - 2), min(len(lines), line + 2) + 1)] if line else []
    return {"part": part, "line": line, "message": text, "excerpt": excerpt}


def _history(tenant: str, kind: str, locale: str) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = wiring.hub().configuration.template_versions(tenant, kind, locale)["versions"]
    return versions


def _editor(request: Request, session: ConsoleSession, tenant: str, kind: str, locale: str, form: dict[str, str], *,
            status: int = 200, notice: str | None = None, error: dict[str, Any] | None = None,
            preview: dict[str, Any] | None = None) -> Response:
    from chalicelib.adapters.templates import FILTERS, LOCALES, SAMPLE, VARIABLES
    from chalicelib.services.configuration import TEMPLATE_VERSIONS_KEPT

    c, en = TEXT[_locale(request)], _locale(request) == "en"
    target = f"{kind}/{locale}"
    try:
        trail = wiring.hub().access.audit_entries(tenant, {"action": "template.change", "limit": "100"})["entries"]
    except HubError:
        trail = []
    zone = wiring.hub().configuration.zone(tenant)
    history = [{**v, "at": _local(v.get("at"), zone)} for v in _history(tenant, kind, locale)]
    title = c["editor_title"].format(kind=KINDS[kind][en], locale=LOCALE_NAMES[locale][en])
    return _page(request, session, tenant, "templates_edit", status, title=title, kind=kind, template_locale=locale,
                 form=form, notice=notice, error=error, preview=preview, variables=VARIABLES, filters=FILTERS,
                 sample=SAMPLE, history=history, kept=TEMPLATE_VERSIONS_KEPT,
                 trail=[{**e, "at": _local(e.get("at"), zone)} for e in trail if e.get("target") == target][:20],
                 others=[other for other in LOCALES if other != locale])


def _local(at: object, zone: str) -> str:
    """An ISO time as the tenant's local date and minute (YYYY-MM-DD HH:MM)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if not isinstance(at, str):
        return ""
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    except (ValueError, KeyError):
        return at[:16].replace("T", " ")


# -- settings ----------------------------------------------------------------------------------------

@guarded
def settings_page(request: Request, session: ConsoleSession, tenant: str) -> Response:
    done = (request.query_params or {}).get("done", "")
    notice = TEXT[_locale(request)]["done"].get(done)
    return _settings(request, session, tenant, notice=notice)


def _settings(request: Request, session: ConsoleSession, tenant: str, status: int = 200, *, values: dict[str, str] | None = None,
              errors: dict[str, str] | None = None, notice: str | None = None, delivery_errors: dict[str, dict[str, str]] | None = None,
              delivery_values: dict[str, dict[str, str]] | None = None, rules_text: str | None = None) -> Response:
    hub = wiring.hub()
    answer = hub.configuration.settings_answer(tenant)
    if values is None:
        values = _values_of(answer)
    sources = []
    for source in hub.source_list.list_sources(tenant)["sources"]:
        name = source["source"]
        chosen = {k: "" if v is None else str(v) for k, v in hub.writeback.delivery(tenant, name).to_json().items()}
        sources.append({"source": name, "values": (delivery_values or {}).get(name, chosen),
                        "errors": (delivery_errors or {}).get(name, {})})
    routing = hub.routing.rules_answer(tenant)
    if rules_text is None:
        rules_text = json.dumps({"rules": routing["rules"]}, ensure_ascii=False, indent=2)
    en = _locale(request) == "en"
    return _page(request, session, tenant, "settings", status, title=TEXT[_locale(request)]["settings_title"], values=values,
                 errors=errors or {}, notice=notice, answer=answer, sources=sources, routing=routing, rules_text=rules_text,
                 zones=ZONES, modes={k: v[en] for k, v in MODES.items()},
                 password_stored=bool(answer and (answer.get("smtp") or {}).get("password_stored")))


def _values_of(answer: dict[str, Any] | None) -> dict[str, str]:
    if not answer:
        return {"default_locale": "ja", "mail_transport": "ses", "time_zone": "Asia/Tokyo", "phone_region": "JP",
                "nurture_interval_days": "90", "smtp_port": "587", "smtp_starttls": "on"}
    values = {name: "" if answer.get(name) is None else str(answer[name]) for name in SETTINGS_FIELDS}
    smtp = answer.get("smtp") or {}
    values.update({f"smtp_{k}": "" if smtp.get(k) is None else str(smtp[k]) for k in ("host", "port", "username")})
    values["smtp_starttls"] = "on" if smtp.get("starttls", True) else ""
    return values


def _number(value: str) -> int | str | None:
    value = value.strip()
    return None if not value else int(value) if value.isdigit() else value


def settings_body(form: dict[str, str]) -> dict[str, Any]:
    """The admin PUT's body a settings form stands for (the numbers as numbers; an empty password: keep it)."""
    body: dict[str, Any] = {name: form.get(name, "") for name in SETTINGS_FIELDS}
    interval = _number(body["nurture_interval_days"])
    body["nurture_interval_days"] = 90 if interval is None else interval
    body["notice_delay_minutes"] = _number(body["notice_delay_minutes"])
    zone = form.get("time_zone_other", "").strip() if body["time_zone"] == "other" else body["time_zone"].strip()
    body["time_zone"] = zone or None
    if body["mail_transport"] == "smtp" or form.get("smtp_host", "").strip():
        smtp: dict[str, Any] = {"host": form.get("smtp_host", "").strip(), "port": _number(form.get("smtp_port", "")) or 587,
                                "username": form.get("smtp_username", "").strip() or None,
                                "starttls": bool(form.get("smtp_starttls"))}
        if form.get("smtp_password"):
            smtp["password"] = form["smtp_password"]
        body["smtp"] = smtp
    return body


def field_of(message: str) -> str:
    """The form field a service's message names (`smtp.port must be ...` -> smtp_port); `_form` when none."""
    head = re.match(r"^(?:delivery\.)?([a-z_]+(?:\.[a-z_]+)?)", message)
    name = head.group(1).replace(".", "_") if head else ""
    known = (*SETTINGS_FIELDS, *(f"smtp_{k}" for k in SMTP_FIELDS), "mode", "field", "on_behalf_of", "invitation_delay_days")
    if name in known:
        return name
    return "smtp_host" if name == "smtp" else "sender_email" if "sender" in message or "domain" in message else "_form"


def settings_errors(body: dict[str, Any]) -> dict[str, str]:
    """Every field's error, by the service's own reading of the settings (tenants.read_settings): a
    refused field is replaced by a stand-in and the rest read again, so all of them are named at once."""
    from chalicelib.domain.tenants import read_settings

    errors: dict[str, str] = {}
    trial = {**body, "smtp": dict(body["smtp"])} if body.get("smtp") else dict(body)
    for _ in range(len(_STAND_IN) + len(SMTP_FIELDS) + 1):
        try:
            read_settings(trial)
            break
        except BadRequest as refused:
            field = field_of(refused.message)
            if field in errors or field == "_form":
                errors.setdefault("_form", refused.message)
                break
            errors[field] = refused.message
            if field.startswith("smtp_"):
                trial["smtp"] = {**(trial.get("smtp") or {}), field[5:]: _SMTP_STAND_IN[field[5:]]}
            else:
                trial[field] = _STAND_IN[field]
    return errors


@guarded
def settings_submit(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """The admin PUT .../settings through the same service; audited `settings.change`."""
    form = _form(request)
    values = {k: v for k, v in form.items() if k not in ("csrf", "smtp_password")}
    body = settings_body(form)
    errors = settings_errors(body)
    if not errors:
        try:
            wiring.hub().configuration.put_settings(tenant, body)
        except HubError as refused:
            errors = {field_of(refused.message): refused.message}
    if errors:
        return _settings(request, session, tenant, 400, values=values, errors=errors)
    wiring.hub().console.audit(session, tenant, "settings.change")
    return redirect(f"/console/t/{tenant}/settings?done=settings{_lang(request, '&')}")


@guarded
def delivery_submit(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """A source's delivery, as the admin PUT .../sources/{s} with {"delivery": ...} alone: the source
    must be connected, the mode is checked by the write-back's rule; audited `source.connect`."""
    form = _form(request)
    source = form.get("source", "")
    values = {k: form.get(k, "") for k in ("mode", "field", "on_behalf_of", "invitation_delay_days")}
    data: dict[str, Any] = {"mode": values["mode"], "invitation_delay_days": _number(values["invitation_delay_days"]) or 0}
    data.update({k: values[k].strip() for k in ("field", "on_behalf_of") if values[k].strip()})
    hub = wiring.hub()
    try:
        try:
            hub.intake.source_status(tenant, source)
        except HubError:
            raise BadRequest("mode: this source is not connected") from None
        chosen = hub.writeback.check_delivery(source, data)
        hub.writeback.save_delivery(tenant, source, chosen)
    except HubError as refused:
        field = field_of(refused.message.removeprefix("delivery.mode ").replace("delivery.", ""))
        if refused.message.startswith("delivery.mode ats_field"):
            field = "field" if "needs" in refused.message else "mode"
        return _settings(request, session, tenant, 400, delivery_errors={source: {field if field != "_form" else "mode": refused.message}},
                         delivery_values={source: values})
    hub.console.audit(session, tenant, "source.connect", source)
    return redirect(f"/console/t/{tenant}/settings?done=delivery{_lang(request, '&')}")


@guarded
def routing_submit(request: Request, session: ConsoleSession, tenant: str) -> Response:
    """The admin PUT .../routing through the same service; audited `routing.change`."""
    c = TEXT[_locale(request)]
    text = _form(request).get("rules", "")
    try:
        try:
            parsed = json.loads(text or "[]")
        except json.JSONDecodeError as bad:
            raise BadRequest(c["json_error"].format(line=bad.lineno, col=bad.colno, msg=bad.msg)) from None
        wiring.hub().routing.put_rules(tenant, {"rules": parsed} if isinstance(parsed, list) else parsed)
    except HubError as refused:
        return _settings(request, session, tenant, 400, errors={"rules": refused.message}, rules_text=text)
    except (TypeError, AttributeError):
        return _settings(request, session, tenant, 400, errors={"rules": 'rules: {"rules": [...]}'}, rules_text=text)
    wiring.hub().console.audit(session, tenant, "routing.change")
    return redirect(f"/console/t/{tenant}/settings?done=routing{_lang(request, '&')}")
