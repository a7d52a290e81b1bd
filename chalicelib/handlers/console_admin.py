"""The console's import, audit and users screens (issue 18 point 4; docs/console.md "Screens").
Every route is wrapped in `guarded` (the role table, the session, CSRF, the tenant) and calls the same
services as the admin API, writing the same audit entries with the signed-in user as actor.

Import: the file is read twice, at the preview and at the commit, and never kept by the hub in
between. The preview page carries the file back (base64, in the commit form) with a MAC over the
tenant and the file's SHA-256 keyed by the session's CSRF secret: the commit takes exactly the file
previewed, in the session that previewed it (another session's form, or a changed file: 400)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.errors import BadRequest, HubError, PayloadTooLarge
from chalicelib.handlers import console_forms
from chalicelib.handlers.console import _form, _locale, guarded, redirect, render
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalicelib.domain.console import ConsoleSession

ACTIONS = {  # action code -> (ja, en)
    "people.search": ("人材の検索", "Searched people"), "person.read": ("人材の閲覧", "Read a person"),
    "person.export": ("個人データの書き出し", "Exported a person"), "provisions.read": ("提供記録の閲覧", "Read provisions"),
    "person.tags": ("タグ変更", "Changed tags"), "person.erase": ("個人データの削除", "Erased a person"),
    "person.notices": ("通知の再送", "Requeued notices"), "person.merge": ("人材の統合", "Merged people"),
    "people.import": ("CSVインポート", "Imported a CSV"), "people.import_preview": ("CSVインポートの確認", "Previewed a CSV import"),
    "source.connect": ("連携元の接続", "Connected a source"), "settings.change": ("設定変更", "Changed settings"),
    "template.change": ("テンプレート変更", "Changed a template"), "agency.change": ("紹介会社の設定", "Configured an agency"),
    "slot.use": ("枠の使用", "Used a slot"), "token.issue": ("管理トークン発行", "Issued a token"),
    "token.revoke": ("管理トークン失効", "Revoked a token"), "principal.grant": ("IAM権限付与", "Granted a principal"),
    "principal.revoke": ("IAM権限取消", "Revoked a principal"), "job.poll_sources": ("連携元の取得を実行", "Ran a source poll"),
    "job.agency_batch": ("紹介バッチを実行", "Ran the agency batch"), "job.kpi_publish": ("KPI公開を実行", "Published KPIs"),
    "job.nurture": ("ナーチャリングを実行", "Ran nurture"), "segment.change": ("セグメント変更", "Changed a segment"),
    "campaign.change": ("キャンペーン変更", "Changed a campaign"),
    "user.invite": ("ユーザー招待", "Invited a user"), "user.role": ("役割の変更", "Changed a role"),
    "user.disable": ("ユーザー無効化", "Disabled a user"), "user.enable": ("ユーザー有効化", "Enabled a user"),
    # e20-sources
    "source.test": ("テストイベント送信", "Sent a test event"), "source.rotate": ("シークレット再発行", "Rotated a secret"),
    "dead_letter.redrive": ("失敗した作業の再実行", "Redrove failed work"),
}
ROLES = {"admin": ("管理者", "Admin"), "editor": ("編集者", "Editor"), "viewer": ("閲覧者", "Viewer")}
TEXT: dict[str, dict[str, str]] = {
    "ja": {"nav_home": "ホーム", "nav_import": "インポート", "nav_audit": "監査ログ", "nav_users": "ユーザー", "nav": "メニュー",
           "import_title": "CSVインポート", "import_hint": ("人材の一覧（CSV）を読み込みます。"
                           "まず内容を確認し、問題がなければ取り込みます。"
                           "文字コードは UTF-8・Shift_JIS（CP932）・UTF-16 のどれでも構いません。"),
           "file": "CSVファイル", "paste": "またはCSVを貼り付け", "preview": "内容を確認する", "commit": "この内容で取り込む",
           "again": "別のファイルを選ぶ", "rows": "行数", "valid": "取り込める行", "errors": "エラーのある行", "columns": "使う列",
           "ignored": "使わない列", "line": "行", "column": "列", "error": "エラー", "name": "氏名", "kana": "ふりがな",
           "role": "区分", "date": "日付", "tags": "タグ", "imported": "新しく取り込んだ件数", "duplicates": "取り込み済みだった件数",
           "done": "取り込みました。", "preview_title": "取り込む内容の確認", "nothing_stored": "まだ何も保存していません。",
           "no_file": "CSVファイルを選ぶか、CSVを貼り付けてください。",
           "too_large": "ファイルが大きすぎます（1 MB まで）。ファイルを分けてください。",
           "stale": "確認した内容と違うため取り込めません。もう一度ファイルを選んで確認してください。", "fix": "修正してください",
           "audit_title": "監査ログ", "audit_hint": "誰がいつ何をしたかの記録です（新しい順）。", "when": "日時", "who": "実行者",
           "what": "操作", "target": "対象", "filter": "絞り込む", "clear_filter": "解除", "any_action": "すべての操作",
           "actor_hint": "例: user:… / admin / token:…", "next": "次のページ", "none": "該当する記録はありません。",
           "you": "あなた", "short": "このページは読み取り上限に達したため件数が少なくなっています。",
           "users_title": "ユーザー", "users_hint": "このテナントの管理コンソールを使える人です。",
           "email": "メールアドレス", "invite": "招待する", "invite_title": "ユーザーを招待", "status": "状態",
           "enabled": "有効", "disabled": "無効", "change_role": "役割を変更", "disable": "無効にする", "enable": "有効にする",
           "managed_elsewhere": "他のテナントやプラットフォームにも所属しているため、ここでは変更できません。",
           "invited": "招待しました。招待メールが届きます。", "changed": "変更しました。", "no_users": "ユーザーはいません。",
           "pending": "初回サインイン待ち", "user_role": "役割", "missing": "入力してください。", "bad": "入力を確認してください"},
    "en": {"nav_home": "Home", "nav_import": "Import", "nav_audit": "Audit log", "nav_users": "Users", "nav": "Menu",
           "import_title": "CSV import",
           "import_hint": "Read a list of people (CSV). Check it first, then import it. UTF-8, Shift_JIS (CP932) or UTF-16.",
           "file": "CSV file", "paste": "or paste the CSV", "preview": "Check the file", "commit": "Import this",
           "again": "Choose another file", "rows": "Rows", "valid": "Rows to import", "errors": "Rows with errors",
           "columns": "Columns used",
           "ignored": "Columns ignored", "line": "Line", "column": "Column", "error": "Error", "name": "Name", "kana": "Reading",
           "role": "Role", "date": "Date", "tags": "Tags", "imported": "New records", "duplicates": "Already imported",
           "done": "Imported.", "preview_title": "Check before importing", "nothing_stored": "Nothing has been stored yet.",
           "no_file": "Choose a CSV file or paste the CSV.",
           "too_large": "The file is too large (1 MB at most): split it.",
           "stale": "This is not the file you checked. Choose the file again and check it.", "fix": "Please fix",
           "audit_title": "Audit log", "audit_hint": "Who did what, and when (newest first).", "when": "When", "who": "Who",
           "what": "What", "target": "Record", "filter": "Filter", "clear_filter": "Clear", "any_action": "Any action",
           "actor_hint": "e.g. user:… / admin / token:…", "next": "Next page", "none": "No entries.",
           "you": "you", "short": "This page stopped at its reading limit, so it may show fewer entries.",
           "users_title": "Users", "users_hint": "The people who may use this tenant's console.",
           "email": "E-mail", "invite": "Invite", "invite_title": "Invite a user", "status": "Status",
           "enabled": "Enabled", "disabled": "Disabled", "change_role": "Change role", "disable": "Disable", "enable": "Enable",
           "managed_elsewhere": "Also a member of another tenant or the platform: not changed here.",
           "invited": "Invited: an invitation e-mail is on its way.", "changed": "Changed.", "no_users": "No users.",
           "pending": "Not signed in yet", "user_role": "Role", "missing": "Please fill this in.", "bad": "Please check the form"},
}


def _page(request: Request, session: ConsoleSession, tenant: str, name: str, status: int = 200, **context: Any) -> Response:
    locale = _locale(request)
    x = TEXT[locale]
    context.setdefault("title", x[f"{name.split('_')[0]}_title"])
    return render(request, name, status, x=x, tenant=tenant, csrf=session.csrf, lang_q="?lang=en" if locale == "en" else "",
                  role=wiring.hub().console.grants(session).role_name(tenant), roles={k: v[locale == "en"] for k, v in ROLES.items()},
                  **context)


def too_large(request: Request) -> Response:
    """A console upload over the limit (the guard's refusal, before a session is looked at)."""
    x = TEXT[_locale(request)]
    return render(request, "import_error", 413, x=x, title=x["import_title"], message=x["too_large"])


# -- import ------------------------------------------------------------------------------------------

def _mac(session: ConsoleSession, tenant: str, data: bytes) -> str:
    """Binds a previewed file to the session and tenant (keyed by the session's CSRF secret)."""
    return hmac.new(session.csrf.encode(), tenant.encode() + b"\0" + hashlib.sha256(data).digest(), hashlib.sha256).hexdigest()


def _inventory(request: Request, session: ConsoleSession, tenant: str, data: bytes, *, dry_run: bool) -> dict:
    from chalicelib.services.common import MAX_BODY_BYTES

    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the CSV is over {MAX_BODY_BYTES} bytes: split it")
    report = wiring.hub().intake.import_inventory(tenant, data, dry_run=dry_run)
    counts = ("dry_run", "rows", "valid", "imported", "duplicates")  # never a name: the preview holds some
    logger.info("inventory read", extra={k: report[k] for k in counts if k in report} | {"row_errors": len(report["errors"])})
    wiring.hub().console.audit(session, tenant, "people.import_preview" if dry_run else "people.import")
    return report


def _uploaded(request: Request) -> bytes:
    if not console_forms.is_multipart(request):
        return _form(request).get("csv", "").encode()
    form = console_forms.read(request)
    _, data = form.files.get("file", ("", b""))
    return data if data.strip() else form.fields.get("csv", "").encode()


@guarded
def import_page(request: Request, session: ConsoleSession, tenant: str) -> Response:
    error = TEXT[_locale(request)]["no_file"] if (request.query_params or {}).get("error") else None
    return _page(request, session, tenant, "import", error=error)


@guarded
def import_preview(request: Request, session: ConsoleSession, tenant: str) -> Response:
    data = _uploaded(request)
    lang = "?error=1&lang=en" if _locale(request) == "en" else "?error=1"
    if not data.strip():
        return redirect(f"/console/t/{tenant}/import{lang}")
    try:
        report = _inventory(request, session, tenant, data, dry_run=True)
    except HubError as refused:
        return _page(request, session, tenant, "import", refused.status if refused.status in (400, 413) else 400,
                     error=TEXT[_locale(request)]["too_large"] if refused.status == 413 else refused.message)
    return _page(request, session, tenant, "import_preview", report=report, content=base64.b64encode(data).decode(),
                 mac=_mac(session, tenant, data))


@guarded
def import_commit(request: Request, session: ConsoleSession, tenant: str) -> Response:
    fields = console_forms.read(request).fields if console_forms.is_multipart(request) else _form(request)
    lang = "?error=1&lang=en" if _locale(request) == "en" else "?error=1"
    if not fields.get("content"):
        return redirect(f"/console/t/{tenant}/import{lang}")
    x = TEXT[_locale(request)]
    try:
        data = base64.b64decode(fields["content"], validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data or not hmac.compare_digest(_mac(session, tenant, data), fields.get("mac", "")):
        return _page(request, session, tenant, "import", 400, error=x["stale"])
    try:
        report = _inventory(request, session, tenant, data, dry_run=False)
    except HubError as refused:
        return _page(request, session, tenant, "import", 400, error=refused.message)
    return _page(request, session, tenant, "import_done", report=report)


# -- audit -------------------------------------------------------------------------------------------

@guarded
def audit_page(request: Request, session: ConsoleSession, tenant: str) -> Response:
    query = {k: v for k, v in (request.query_params or {}).items() if k in ("who", "action", "cursor") and v}
    locale = _locale(request)
    try:
        found = wiring.hub().access.audit_entries(tenant, query)
    except BadRequest as refused:
        return _page(request, session, tenant, "audit", 400, error=refused.message, entries=[], next=None, query=query,
                     actions=_actions(locale), me=session.identity.actor)
    return _page(request, session, tenant, "audit", entries=found["entries"], next=found["next"], query=query,
                 actions=_actions(locale), me=session.identity.actor, error=None)


def _actions(locale: str) -> list[tuple[str, str]]:
    return sorted(((code, names[locale == "en"]) for code, names in ACTIONS.items()), key=lambda item: item[0])


# -- users -------------------------------------------------------------------------------------------

@guarded
def users_page(request: Request, session: ConsoleSession, tenant: str) -> Response:
    return _users(request, session, tenant)


def _users(request: Request, session: ConsoleSession, tenant: str, status: int = 200, error: str | None = None) -> Response:
    done = (request.query_params or {}).get("done")
    x = TEXT[_locale(request)]
    platform = wiring.hub().console.grants(session).platform
    return _page(request, session, tenant, "users", status, users=wiring.hub().team.users(tenant), me=session.identity.subject,
                 platform=platform, notice=x.get(done) if done in ("invited", "changed") else None, error=error)


def _users_back(request: Request, tenant: str, done: str) -> Response:
    lang = "&lang=en" if _locale(request) == "en" else ""
    return redirect(f"/console/t/{tenant}/users?done={done}{lang}")


def _user_action(request: Request, session: ConsoleSession, tenant: str, act: Any) -> Response:
    """A users-screen form: an empty one goes back to the page; a refused one shows the page with what to fix."""
    form = _form(request)
    x = TEXT[_locale(request)]
    if not any(form.get(name) for name in ("email", "username")):
        return _users_back(request, tenant, "")
    try:
        act(form)
    except BadRequest as refused:
        return _users(request, session, tenant, 400, f"{x['bad']}: {refused.message}")
    return _users_back(request, tenant, "invited" if "email" in form else "changed")


@guarded
def users_invite(request: Request, session: ConsoleSession, tenant: str) -> Response:
    def invite(form: dict[str, str]) -> None:
        user = wiring.hub().team.invite(tenant, form.get("email", ""), form.get("role", ""))
        wiring.hub().console.audit(session, tenant, "user.invite", target=user.subject)
    return _user_action(request, session, tenant, invite)


@guarded
def users_role(request: Request, session: ConsoleSession, tenant: str) -> Response:
    def change(form: dict[str, str]) -> None:
        hub = wiring.hub()
        user = hub.team.set_role(tenant, form.get("username", ""), form.get("role", ""), by=session.identity,
                                 held=hub.console.grants(session))
        hub.console.audit(session, tenant, "user.role", target=user.subject)
    return _user_action(request, session, tenant, change)


def _enabled(enabled: bool):  # type: ignore[no-untyped-def]
    @guarded
    def route(request: Request, session: ConsoleSession, tenant: str) -> Response:
        def change(form: dict[str, str]) -> None:
            hub = wiring.hub()
            user = hub.team.set_enabled(tenant, form.get("username", ""), enabled, by=session.identity,
                                        held=hub.console.grants(session))
            hub.console.audit(session, tenant, "user.enable" if enabled else "user.disable", target=user.subject)
        return _user_action(request, session, tenant, change)
    return route


users_disable = _enabled(False)
users_enable = _enabled(True)


# -- e20-programs: the menu's entries for the agencies, segments, campaigns and KPI screens -----------
def _program_menu() -> None:
    from chalicelib.handlers.console_programs_text import TEXT as PROGRAMS

    for lang, words in TEXT.items():
        words.update({k: v for k, v in PROGRAMS[lang].items() if k.startswith("nav_")})


_program_menu()
