"""The console's import, audit and users screens through the app (Chalice test client, DynamoDB in
moto): preview then commit, the commit bound to the previewing session, refusals (viewer, CSRF,
another tenant, platform-admin, lock-out), the audit filters, and users on the in-memory pool."""
from __future__ import annotations

import dataclasses
import json
import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import ADMIN
from tests.fakes import InMemoryConsoleUsers
from tests.integration.test_console import FORM, call, session_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
CP932 = (FIXTURES / "console_row_error_cp932.csv").read_bytes()  # the handmade file and a row without a date


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None) -> tuple[dict, bytes]:
    boundary = "----hub" + uuid.uuid4().hex
    body = b""
    for name, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
    for name, (filename, data) in (files or {}).items():
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                 "Content-Type: text/csv\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body


def post_multipart(client, path: str, session_id: str, fields: dict[str, str], files=None):
    headers, body = multipart(fields, files)
    return client.http.post(path, headers={**headers, "Cookie": f"__Host-hub-session={session_id}"}, body=body)


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def audit_of(hub, tenant: str = "acme") -> list[dict]:
    return hub.access.audit_entries(tenant, {"limit": "100"})["entries"]


EMAILS = re.findall(r"[\w.]+@example\.jp", CP932.decode("cp932"))


def people_count(client) -> int:
    """How many of the fixture's people the tenant holds (searched by e-mail, as the admin API does)."""
    return sum(bool(json.loads(client.http.get(f"/admin/tenants/acme/people?email={email}", headers=ADMIN).body)["people"])
               for email in EMAILS)


# -- import ------------------------------------------------------------------------------------------

def test_a_cp932_upload_is_previewed_storing_nothing_then_committed_once(client, hub):
    session_id, session = session_for(hub, ("acme:editor",))
    page = post_multipart(client, "/console/t/acme/import/preview", session_id, {"csrf": session.csrf},
                          {"file": ("社員.csv", CP932)})
    html = page.body.decode()
    assert page.status_code == 200, html
    report = hub.intake.import_inventory("acme", CP932, dry_run=True)  # the same service, the same answer
    assert f'id="rows">{report["rows"]}<' in html and f'id="valid">{report["valid"]}<' in html
    assert report["errors"] and report["errors"][0]["error_ja"] in html  # a row error, in Japanese
    assert "山田" in html  # the preview shows the admin's own file
    assert people_count(client) == 0
    assert [(e["action"], e["who"]) for e in audit_of(hub) if e["who"] != "admin"] == [
        ("people.import_preview", session.identity.actor)]

    content, mac = hidden(html, "content"), hidden(html, "mac")
    done = post_multipart(client, "/console/t/acme/import", session_id, {"csrf": session.csrf, "content": content, "mac": mac})
    assert done.status_code == 200 and f'id="imported">{report["valid"]}<' in done.body.decode()
    stored = people_count(client)
    assert stored == report["valid"]
    again = post_multipart(client, "/console/t/acme/import", session_id, {"csrf": session.csrf, "content": content, "mac": mac})
    assert 'id="imported">0<' in again.body.decode() and people_count(client) == stored  # same file twice: nothing new
    assert [e["action"] for e in audit_of(hub) if e["who"].startswith("user:")] == [
        "people.import", "people.import", "people.import_preview"]


def test_the_textarea_is_the_fallback_and_an_empty_form_goes_back_to_the_page(client, hub):
    session_id, session = session_for(hub, ("acme:admin",))
    text = "氏名,メールアドレス,区分,日付\n山田 花子,hanako@example.jp,退職者,2024-03-31\n"
    page = post_multipart(client, "/console/t/acme/import/preview", session_id, {"csrf": session.csrf, "csv": text},
                          {"file": ("", b"")})
    assert page.status_code == 200 and 'id="valid">1<' in page.body.decode()
    empty = post_multipart(client, "/console/t/acme/import/preview", session_id, {"csrf": session.csrf, "csv": ""})
    assert (empty.status_code, empty.headers["Location"]) == (303, "/console/t/acme/import?error=1")
    assert "CSV" in call(client, "GET", "/console/t/acme/import?error=1", session_id).body.decode()


def test_another_session_or_a_changed_file_cannot_be_committed(client, hub):
    mine_id, mine = session_for(hub, ("acme:editor",))
    other_id, other = session_for(hub, ("acme:editor",))
    html = post_multipart(client, "/console/t/acme/import/preview", mine_id, {"csrf": mine.csrf},
                          {"file": ("a.csv", CP932)}).body.decode()
    content, mac = hidden(html, "content"), hidden(html, "mac")
    stolen = post_multipart(client, "/console/t/acme/import", other_id, {"csrf": other.csrf, "content": content, "mac": mac})
    assert stolen.status_code == 400 and "確認した内容と違う" in stolen.body.decode()
    import base64
    changed = base64.b64encode(CP932 + "\n佐藤 一郎,ichiro@example.jp,退職者,2024-01-01\n".encode("cp932")).decode()
    tampered = post_multipart(client, "/console/t/acme/import", mine_id, {"csrf": mine.csrf, "content": changed, "mac": mac})
    assert tampered.status_code == 400
    elsewhere = post_multipart(client, "/console/t/acme/import", mine_id, {"csrf": mine.csrf, "content": content, "mac": mac})
    assert elsewhere.status_code == 200
    assert people_count(client) > 0


def test_a_viewer_cannot_import_csrf_is_checked_and_an_oversized_file_is_413(client, hub):
    viewer_id, viewer = session_for(hub, ("acme:viewer",))
    assert call(client, "GET", "/console/t/acme/import", viewer_id).status_code == 403
    refused = post_multipart(client, "/console/t/acme/import/preview", viewer_id, {"csrf": viewer.csrf}, {"file": ("a.csv", CP932)})
    assert refused.status_code == 403 and "権限" in refused.body.decode()
    editor_id, editor = session_for(hub, ("acme:editor",))
    for csrf in ({}, {"csrf": "wrong"}, {"csrf": viewer.csrf}):
        assert post_multipart(client, "/console/t/acme/import/preview", editor_id, csrf, {"file": ("a.csv", CP932)}).status_code == 403
    assert post_multipart(client, "/console/t/globex/import/preview", editor_id, {"csrf": editor.csrf},
                          {"file": ("a.csv", CP932)}).status_code == 403
    big = post_multipart(client, "/console/t/acme/import/preview", editor_id, {"csrf": editor.csrf},
                         {"file": ("big.csv", b"a" * (1024 * 1024 + 10))})
    assert big.status_code == 413 and "大きすぎます" in big.body.decode()
    assert people_count(client) == 0 and [e for e in audit_of(hub) if e["who"].startswith("user:")] == []


def test_a_file_the_service_refuses_is_a_400_page_saying_what_to_fix(client, hub):
    session_id, session = session_for(hub, ("acme:editor",))
    page = post_multipart(client, "/console/t/acme/import/preview", session_id, {"csrf": session.csrf},
                          {"file": ("x.csv", b"a,b\n1,2\n")})
    assert page.status_code == 400 and "必要な列" in page.body.decode()


# -- audit -------------------------------------------------------------------------------------------

def test_the_audit_screen_filters_by_actor_and_action_newest_first_with_a_cursor(client, hub):
    for i in range(30):
        hub.access.audit("acme", who="user:a" if i % 2 else "admin", action="person.tags" if i % 3 else "person.erase",
                         target=f"p{i}")
        hub.ports.clock.advance(seconds=1) if hasattr(hub.ports.clock, "advance") else None
    session_id, _ = session_for(hub, ("acme:viewer",))
    page = call(client, "GET", "/console/t/acme/audit", session_id).body.decode()
    assert "タグ変更" in page and "<code>person.tags</code>" in page and 'id="next"' in page
    only = call(client, "GET", "/console/t/acme/audit?who=user%3Aa&action=person.tags", session_id).body.decode()
    rows = re.findall(r"<tr>\s*<td", only)
    assert rows and all("admin</code>" not in row for row in only.split("<tr>")[2:])
    assert "個人データの削除" not in only.split("<tbody>")[1]
    api = json.loads(client.http.get("/admin/tenants/acme/audit?who=user:a&action=person.tags&limit=100", headers=ADMIN).body)
    expected = [e for e in audit_of(hub) if e["who"] == "user:a" and e["action"] == "person.tags"]
    assert api["entries"] == expected and len(expected) == only.count("<tr>") - 1
    bad = call(client, "GET", "/console/t/acme/audit?action=DROP%20TABLE", session_id)
    assert bad.status_code == 400 and "action" in bad.body.decode()
    assert client.http.get("/admin/tenants/acme/audit?action=Bad!", headers=ADMIN).status_code == 400


def test_the_audit_screen_is_per_tenant(client, hub):
    hub.access.audit("globex", who="admin", action="person.erase", target="p1")
    session_id, _ = session_for(hub, ("acme:viewer",))
    assert 'id="none"' in call(client, "GET", "/console/t/acme/audit", session_id).body.decode()
    assert call(client, "GET", "/console/t/globex/audit", session_id).status_code == 403


# -- users -------------------------------------------------------------------------------------------

@pytest.fixture
def pool(hub, monkeypatch):
    """The hub with the in-memory pool (the moto adapter is held to the same contract in tests/contract)."""
    from chalicelib import services, wiring

    groups = [f"{t}:{r}" for t in ("acme", "globex") for r in ("admin", "editor", "viewer")]
    users = InMemoryConsoleUsers(groups=["platform-admin", *groups])
    users.seed("boss", "acme:admin", email="boss@example.jp", subject="sub-boss")
    users.seed("sato", "acme:viewer", email="sato@example.jp")
    users.seed("both", "acme:editor", "globex:viewer", email="both@example.jp")
    users.seed("root", "acme:admin", "platform-admin", email="root@example.jp")
    users.seed("gx", "globex:admin", email="gx@example.jp")
    rebuilt = services.compose(dataclasses.replace(hub.ports, console_users=users))
    monkeypatch.setattr(wiring, "hub", lambda: rebuilt)
    return rebuilt, users


def admin_session(hub, subject: str = "sub-boss", groups=("acme:admin",)):
    from chalicelib.domain.console import ConsoleSession, Identity, digest, new_secret
    from chalicelib.domain.events import utc

    session_id, now = new_secret(), utc(hub.ports.clock())
    session = ConsoleSession(digest(session_id), Identity(subject, "boss", groups), new_secret(), now, now)
    hub.ports.sessions.put(session)
    return session_id, session


def post_form(client, path: str, session_id: str, fields: dict[str, str]):
    return client.http.post(path, headers={**FORM, "Cookie": f"__Host-hub-session={session_id}"}, body=urlencode(fields))


def test_an_admin_lists_invites_changes_a_role_disables_and_enables(client, pool, caplog):
    hub, users = pool
    session_id, session = admin_session(hub)
    page = call(client, "GET", "/console/t/acme/users", session_id).body.decode()
    assert "sato@example.jp" in page and "both@example.jp" in page and "gx@example.jp" not in page
    invited = post_form(client, "/console/t/acme/users/invite", session_id,
                        {"csrf": session.csrf, "email": "new.hire@example.jp", "role": "editor"})
    assert (invited.status_code, invited.headers["Location"]) == (303, "/console/t/acme/users?done=invited")
    [new] = [u for u in users.users.values() if u.email == "new.hire@example.jp"]
    assert new.groups == ("acme:editor",) and users.invited == ["new.hire@example.jp"]
    assert post_form(client, "/console/t/acme/users/role", session_id,
                     {"csrf": session.csrf, "username": "sato", "role": "admin"}).status_code == 303
    assert users.user("sato").groups == ("acme:admin",)
    assert post_form(client, "/console/t/acme/users/disable", session_id, {"csrf": session.csrf, "username": "sato"}).status_code == 303
    assert users.user("sato").enabled is False
    assert post_form(client, "/console/t/acme/users/enable", session_id, {"csrf": session.csrf, "username": "sato"}).status_code == 303
    assert users.user("sato").enabled is True
    entries = audit_of(hub)
    assert [e["action"] for e in entries] == ["user.enable", "user.disable", "user.role", "user.invite"]
    assert {e["who"] for e in entries} == {session.identity.actor}
    assert [e["target"] for e in entries] == ["sub-sato", "sub-sato", "sub-sato", new.subject]
    assert "example.jp" not in json.dumps(entries) and "example.jp" not in caplog.text  # addresses: never logged or audited
    assert "招待しました" in call(client, "GET", "/console/t/acme/users?done=invited", session_id).body.decode()


def test_a_tenant_admin_cannot_touch_other_tenants_users_or_platform_admins_or_lock_themselves_out(client, pool):
    hub, users = pool
    session_id, session = admin_session(hub)
    for path, fields in (("role", {"username": "gx", "role": "viewer"}), ("disable", {"username": "gx"}),
                         ("role", {"username": "root", "role": "viewer"}), ("disable", {"username": "root"}),
                         ("disable", {"username": "both"}), ("role", {"username": "nobody", "role": "viewer"})):
        answer = post_form(client, f"/console/t/acme/users/{path}", session_id, {"csrf": session.csrf, **fields})
        assert answer.status_code == 403, (path, fields)
    assert users.user("gx").groups == ("globex:admin",) and users.user("root").enabled and users.user("both").enabled
    assert post_form(client, "/console/t/acme/users/role", session_id,
                     {"csrf": session.csrf, "username": "both", "role": "viewer"}).status_code == 303
    assert users.user("both").groups == ("acme:viewer", "globex:viewer")  # only acme's group changed
    lockout = post_form(client, "/console/t/acme/users/role", session_id, {"csrf": session.csrf, "username": "boss", "role": "editor"})
    assert lockout.status_code == 400 and "admin" in lockout.body.decode()
    assert post_form(client, "/console/t/acme/users/disable", session_id, {"csrf": session.csrf, "username": "boss"}).status_code == 400
    assert users.user("boss").groups == ("acme:admin",) and users.user("boss").enabled
    assert post_form(client, "/console/t/globex/users/disable", session_id, {"csrf": session.csrf, "username": "gx"}).status_code == 403
    assert post_form(client, "/console/t/acme/users/disable", session_id, {"username": "sato"}).status_code == 403  # no CSRF
    editor_id, editor = session_for(hub, ("acme:editor",))
    assert call(client, "GET", "/console/t/acme/users", editor_id).status_code == 403
    assert post_form(client, "/console/t/acme/users/invite", editor_id,
                     {"csrf": editor.csrf, "email": "x@example.jp", "role": "admin"}).status_code == 403
    platform_id, platform = admin_session(hub, "sub-platform", ("platform-admin",))
    assert post_form(client, "/console/t/acme/users/disable", platform_id, {"csrf": platform.csrf, "username": "root"}).status_code == 303
    assert [e["action"] for e in audit_of(hub)] == ["user.disable", "user.role"]


def test_bad_invitations_say_what_to_fix(client, pool):
    hub, users = pool
    session_id, session = admin_session(hub)
    for fields in ({"email": "not-an-address", "role": "viewer"}, {"email": "a@example.jp", "role": "owner"},
                   {"email": "sato@example.jp", "role": "viewer"}):
        answer = post_form(client, "/console/t/acme/users/invite", session_id, {"csrf": session.csrf, **fields})
        assert answer.status_code == 400 and 'id="error"' in answer.body.decode(), fields
    assert users.invited == []
