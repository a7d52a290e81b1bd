"""The HR console (/console/...): sign-in, sign-out, the tenant chooser and a tenant's home page.
Server-rendered, ja first (`?lang=en` switches), no script at all (CSP `script-src 'self'`).

Every console route is wrapped in `guarded`, the one place where the route table of
chalicelib/domain/console_roles.py is enforced: it finds the route's minimum role, the session
behind the `__Host-` cookie, the CSRF token of every POST, and the role on the tenant in the path."""
from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain import console_roles
from chalicelib.domain.console import ABSOLUTE, SIGN_IN_WINDOW, new_secret
from chalicelib.domain.console_roles import Level
from chalicelib.domain.errors import Forbidden, HubError, NotFound, Unauthorized
from chalicelib.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from chalicelib.domain.console import ConsoleSession

SESSION_COOKIE = "__Host-hub-session"
SIGN_IN_COOKIE = "__Host-hub-sign-in"
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; "
                                "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
}
MAX_FORM_BYTES = 4096
# -- e18-people (the pool's bulk tags): a form may name up to 50 people (one `id` field each) -----
MAX_FORM_FIELDS = 64
LANGUAGES = (("ja", "日本語"), ("en", "English"))
TEXT: dict[str, dict[str, Any]] = {
    "ja": {"product": "リレーションハブ 管理コンソール", "sign_in_title": "サインイン", "sign_in": "サインイン",
           "username": "ユーザー名", "password": "パスワード", "sign_out": "サインアウト",
           "local_hint": "ローカル環境のユーザープールにサインインします（make run の表示するユーザー）。",
           "managed_hint": "会社のアカウントでサインインします。", "continue": "サインインへ進む",
           "refused": "サインインできませんでした。ユーザー名とパスワードを確認してください。",
           "expired": "サインインの有効期限が切れました。もう一度サインインしてください。",
           "home": "ホーム", "tenants_title": "開けるテナント", "signed_in_as": "サインイン中", "tenant": "テナント",
           "role": "役割", "all_tenants": "テナント一覧へ", "no_tenants": "開けるテナントはありません。管理者に権限を依頼してください。",
           "platform_hint": "プラットフォーム管理者として、すべてのテナントを開けます（/console/t/<テナント>）。",
           "forbidden": "このページを開く権限がありません。", "not_found": "ページが見つかりません。",
           "may": {"platform-admin": "すべてのテナントで、すべての操作ができます。",
                   "admin": "閲覧・編集に加え、連携元・紹介会社・枠・設定・ユーザー・エクスポート・削除ができます。",
                   "editor": "閲覧に加え、タグ・セグメント・キャンペーン・テンプレート・インポートを編集できます。",
                   "viewer": "人材・KPI・監査ログを閲覧できます。"}},
    "en": {"product": "Relations hub console", "sign_in_title": "Sign in", "sign_in": "Sign in",
           "username": "Username", "password": "Password", "sign_out": "Sign out",
           "local_hint": "Sign in to the local user pool (the users `make run` printed).",
           "managed_hint": "Sign in with your company account.", "continue": "Continue to sign-in",
           "refused": "We could not sign you in. Check the username and password.",
           "expired": "The sign-in expired. Please sign in again.",
           "home": "Home", "tenants_title": "Tenants you may open", "signed_in_as": "Signed in as", "tenant": "Tenant",
           "role": "Role", "all_tenants": "All tenants", "no_tenants": "You may open no tenant yet: ask an administrator.",
           "platform_hint": "As a platform administrator you may open every tenant (/console/t/<tenant>).",
           "forbidden": "You may not open this page.", "not_found": "No such page.",
           "may": {"platform-admin": "Everything, on every tenant.",
                   "admin": "Read and edit, and also sources, agencies, slots, settings, users, exports and erasure.",
                   "editor": "Read, and also edit tags, segments, campaigns, templates and imports.",
                   "viewer": "Read people, KPIs and the audit trail."}},
}


def base() -> str:
    """The path the hub is served under (`/api` on an execute-api URL; empty on a custom domain or locally)."""
    from urllib.parse import urlsplit

    from chalicelib import settings

    return urlsplit(settings.current().public_url).path.rstrip("/")


def _locale(request: Request) -> str:
    return "en" if (request.query_params or {}).get("lang") == "en" else "ja"


def cookie(name: str, value: str, max_age: int) -> str:
    """A `__Host-` cookie: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain (docs/security.md)."""
    return f"{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}"


def _cookies(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in (request.headers or {}).items():
        if name.lower() == "cookie":
            for part in value.split(";"):
                key, _, val = part.strip().partition("=")
                found.setdefault(key, val)
    return found


def _form(request: Request) -> dict[str, str]:
    from chalicelib.handlers import console_forms  # e18-admin: the import screen posts multipart/form-data

    if console_forms.is_multipart(request):
        return console_forms.read(request).fields
    raw = request.raw_body or b""
    if len(raw) > MAX_FORM_BYTES:
        raise Forbidden("the form is too large")
    try:
        fields = parse_qs(raw.decode("utf-8"), max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Forbidden("the form could not be read") from None
    return {key: values[0] for key, values in fields.items()}


def render(request: Request, name: str, status: int = 200, headers: dict[str, Any] | None = None, **context: Any) -> Response:
    from chalicelib.adapters import templates  # Jinja2 on first page (cold start)

    locale = _locale(request)
    context.setdefault("csrf", None)
    html = templates.page(f"console/{name}", locale=locale, t=TEXT[locale], languages=LANGUAGES, base=base(), **context)
    return Response(body=html, status_code=status, headers={**HEADERS, **(headers or {})})


def redirect(location: str, headers: dict[str, Any] | None = None) -> Response:
    return Response(body="", status_code=303, headers={**HEADERS, "Location": base() + location, **(headers or {})})


def _refusal(request: Request, error: HubError) -> Response:
    text = TEXT[_locale(request)]
    if error.status == 413:  # e18-admin: an upload over the limit says what to do
        from chalicelib.handlers.console_admin import too_large

        return too_large(request)
    message = text["not_found"] if isinstance(error, NotFound) else text["forbidden"]
    status = error.status if error.status in (403, 404) else 403
    return render(request, "home", status, title=message, username="", tenant=None, tenants=[], platform=False)


def guarded(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Every console route: its minimum role from the one table (no entry: 403), the session
    (none: to the sign-in page, or 403 for a POST), the CSRF token of a POST (missing or wrong: 403),
    and the role on the path's tenant (another tenant's URL: 403)."""

    @wraps(handler)
    def route(request: Request, *args: str) -> Response:
        try:
            path = (request.context or {}).get("resourcePath") or ""
            needed = console_roles.needed(request.method, path)
            if needed is None:
                raise Forbidden("this route is not in the role table")
            if needed == Level.PUBLIC:
                return handler(request, None, *args)
            session = wiring.hub().console.session(_cookies(request).get(SESSION_COOKIE, ""))
            if request.method != "GET":
                if session is None:
                    raise Forbidden("no session")
                wiring.hub().console.check_csrf(session, _form(request).get("csrf"))
            if session is None:
                return redirect("/console/sign-in")
            tenant = (request.uri_params or {}).get("tenant")
            if not console_roles.allowed(wiring.hub().console.grants(session), needed, tenant):
                raise Forbidden("this role may not use this route on this tenant")
            return handler(request, session, *args)
        except HubError as error:
            logger.info("console request refused", extra={"error": error.code, "status": error.status})
            metrics.add_metric(name="ConsoleRefused", unit=MetricUnit.Count, value=1)
            return _refusal(request, error)

    return route


def _signed_in(opened_id: str, *, clear_sign_in: bool) -> Response:
    cookies = [cookie(SESSION_COOKIE, opened_id, int(ABSOLUTE.total_seconds()))]
    if clear_sign_in:
        cookies.append(cookie(SIGN_IN_COOKIE, "", 0))
    metrics.add_metric(name="ConsoleSignIn", unit=MetricUnit.Count, value=1)
    return redirect("/console", {"Set-Cookie": cookies})


@guarded
def sign_in_page(request: Request, session: ConsoleSession | None) -> Response:
    """AWS: straight to the managed login (state and PKCE verifier kept for ten minutes). Local: the
    password form, its state in a cookie and in the form (no sign-in from another site's form)."""
    started = wiring.hub().console.start_sign_in()
    window = int(SIGN_IN_WINDOW.total_seconds())
    if started is not None:
        return Response(body="", status_code=302, headers={**HEADERS, "Location": started.location,
                                                             "Set-Cookie": cookie(SIGN_IN_COOKIE, started.state, window)})
    state = new_secret()
    error = TEXT[_locale(request)]["refused"] if (request.query_params or {}).get("error") else None
    return render(request, "sign_in", title=TEXT[_locale(request)]["sign_in_title"], managed=False, state=state,
                  error=error, headers={"Set-Cookie": cookie(SIGN_IN_COOKIE, state, window)})


@guarded
def sign_in_submit(request: Request, session: ConsoleSession | None) -> Response:
    """The local stage's password form: same-browser check, then the pool, then the one path."""
    form = _form(request)
    state = _cookies(request).get(SIGN_IN_COOKIE, "")
    if not state or not hmac.compare_digest(state.encode(), form.get("state", "").encode("utf-8", "replace")):
        raise Forbidden("the sign-in form is not this browser's")
    lang = "&lang=en" if _locale(request) == "en" else ""
    try:
        opened = wiring.hub().console.password_sign_in(form.get("username", ""), form.get("password", ""))
    except Unauthorized:
        return redirect(f"/console/sign-in?error=1{lang}")
    return _signed_in(opened.session_id, clear_sign_in=True)


@guarded
def callback(request: Request, session: ConsoleSession | None) -> Response:
    """The managed login comes back with ?code&state: exchanged and verified, then a new session."""
    query = request.query_params or {}
    try:
        opened = wiring.hub().console.finish_sign_in(_cookies(request).get(SIGN_IN_COOKIE, ""), query.get("state", ""),
                                                     query.get("code", ""))
    except Unauthorized:
        text = TEXT[_locale(request)]
        return render(request, "sign_in", 401, title=text["sign_in_title"], managed=True, error=text["expired"])
    return _signed_in(opened.session_id, clear_sign_in=True)


@guarded
def sign_out(request: Request, session: ConsoleSession) -> Response:
    wiring.hub().console.sign_out(session)
    return redirect("/console/sign-in", {"Set-Cookie": cookie(SESSION_COOKIE, "", 0)})


@guarded
def tenants(request: Request, session: ConsoleSession) -> Response:
    held = wiring.hub().console.grants(session)
    listed = sorted((name, held.role_name(name) or "") for name in held.tenants)
    return render(request, "home", title=TEXT[_locale(request)]["home"], username=session.identity.username,
                  tenant=None, tenants=listed, platform=held.platform, csrf=session.csrf)


@guarded
def tenant_home(request: Request, session: ConsoleSession, tenant: str) -> Response:
    from chalicelib.services.common import check_tenant

    try:
        check_tenant(tenant)
    except HubError:
        raise NotFound("no such tenant") from None
    role = wiring.hub().console.grants(session).role_name(tenant)
    return render(request, "home", title=tenant, username=session.identity.username, tenant=tenant, role=role,
                  tenants=[], platform=False, csrf=session.csrf)
