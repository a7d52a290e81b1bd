"""The console through the app (Chalice test client, DynamoDB in moto): the one role table holds every
registered console and admin route, for every role; the session cookie's flags; CSRF; sign-out; a
tenant role on another tenant's URL."""
from __future__ import annotations

import dataclasses
import json
import re
from urllib.parse import urlencode

import pytest

from chalicelib.domain import console_roles
from chalicelib.domain.console import ConsoleSession, Identity, digest, new_secret
from chalicelib.domain.console_roles import Level
from tests.conftest import ADMIN
from tests.fakes import FakeIdTokens, FakeSignIn

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ROLES = {  # who, and the groups they hold
    "platform-admin": ("platform-admin",), "acme:admin": ("acme:admin",), "acme:editor": ("acme:editor",),
    "acme:viewer": ("acme:viewer",), "globex:admin": ("globex:admin",), "no-role": (),
}
LEVEL_ON_ACME = {"platform-admin": Level.PLATFORM, "acme:admin": Level.ADMIN, "acme:editor": Level.EDITOR,
                 "acme:viewer": Level.VIEWER, "globex:admin": Level.SIGNED_IN, "no-role": Level.SIGNED_IN}


def routes(prefix: str) -> list[tuple[str, str]]:
    from app import app

    return sorted((method, path) for path, methods in app.routes.items() if path.startswith(prefix) for method in methods)


def session_for(hub, groups: tuple[str, ...]) -> tuple[str, ConsoleSession]:
    from chalicelib.domain.events import utc

    session_id = new_secret()
    now = utc(hub.ports.clock())
    session = ConsoleSession(digest(session_id), Identity("sub-" + "-".join(groups), "user", groups), new_secret(), now, now)
    hub.ports.sessions.put(session)
    return session_id, session


def call(client, method: str, path: str, session_id: str | None = None, csrf: str | None = None):
    headers = {"Cookie": f"__Host-hub-session={session_id}"} if session_id else {}
    if method == "GET":
        return client.http.get(path, headers=headers)
    body = urlencode({"csrf": csrf} if csrf else {})
    return client.http.post(path, headers={**headers, **FORM}, body=body)


def test_every_console_and_admin_route_is_in_the_role_table_and_the_table_names_no_other():
    registered = set(routes("/console")) | set(routes("/admin"))
    assert registered - set(console_roles.ROUTES) == set(), "routes missing from chalicelib/domain/console_roles.py"
    assert set(console_roles.ROUTES) - registered == set(), "the role table names routes app.py does not have"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_console_route_answers_each_role_as_the_table_says(acme, hub, role):
    """Allowed: the handler answers (no 403, no sign-in redirect; 400 when the empty form or query
    lacks what it needs). Not allowed: 403. Every route registered under /console is exercised;
    one the table does not name fails the test above."""
    client = acme
    # -- e18-people: {person_id} is a person of acme (the empty forms change nothing: 400)
    from tests.integration.test_people_admin import person_id, webhook

    webhook(client, 1)
    someone = person_id(client, "c-1@example.jp")
    # -- e20-programs: an agency, a segment and a campaign of acme for {agency}, {segment}, {campaign}
    from tests.integration.test_console_programs import seed_programs

    seed_programs(client, hub)
    for method, path in routes("/console"):
        needed = console_roles.ROUTES[(method, path)]
        if needed == Level.PUBLIC:
            continue  # answered alike with or without a session: test_public_console_routes_need_no_session
        session_id, session = session_for(hub, ROLES[role])
        url = path.replace("{tenant}", "acme").replace("{person_id}", someone)
        url = url.replace("{kind}", "rejection").replace("{locale}", "ja")  # e20-content: a template's editor
        url = url.replace("{agency}", "sandbox").replace("{segment}", "engineers").replace("{campaign}", "yearly")  # e20-programs
        url = url.replace("{source}", "standard")  # e20-sources: a source acme connected
        answer = call(client, method, url, session_id, session.csrf)
        tenant = "acme" if "{tenant}" in path else None
        level = LEVEL_ON_ACME[role] if tenant else Level.SIGNED_IN
        may = needed <= Level.SIGNED_IN or (level >= needed and (needed != Level.PLATFORM or role == "platform-admin"))
        assert may == console_roles.allowed(console_roles.grants(ROLES[role]), needed, tenant)
        if may:
            assert answer.status_code in (200, 303, 400), (role, method, path, answer.status_code)
            assert answer.headers.get("Location") != "/console/sign-in" or path == "/console/sign-out"
        else:
            assert answer.status_code == 403, (role, method, path, answer.status_code)


def test_without_a_session_a_page_goes_to_sign_in_and_a_post_is_403(client):
    for method, path in routes("/console"):
        if console_roles.ROUTES[(method, path)] == Level.PUBLIC:
            continue
        answer = call(client, method, path.replace("{tenant}", "acme"), "not-a-session")
        if method == "GET":
            assert (answer.status_code, answer.headers["Location"]) == (303, "/console/sign-in"), path
        else:
            assert answer.status_code == 403, path


def test_public_console_routes_need_no_session(client):
    page = client.http.get("/console/sign-in")
    assert page.status_code == 200 and 'name="password"' in page.body.decode()
    assert client.http.get("/console/auth/callback?code=x&state=y").status_code == 401  # no sign-in started here
    assert client.http.post("/console/sign-in", headers=FORM, body="username=a&password=b").status_code == 403


def test_a_tenant_role_on_another_tenants_console_url_is_403(client, hub):
    session_id, _ = session_for(hub, ("acme:admin",))
    assert call(client, "GET", "/console/t/acme", session_id).status_code == 200
    for other in ("globex", "acme-2", "ACME"):
        assert call(client, "GET", f"/console/t/{other}", session_id).status_code == 403
    platform_id, _ = session_for(hub, ("platform-admin",))
    assert call(client, "GET", "/console/t/globex", platform_id).status_code == 200


def test_a_post_without_the_sessions_csrf_token_is_403_and_keeps_the_session(client, hub):
    session_id, session = session_for(hub, ("acme:viewer",))
    _, other = session_for(hub, ("acme:viewer",))
    for csrf in (None, "wrong", other.csrf):
        assert call(client, "POST", "/console/sign-out", session_id, csrf).status_code == 403
    assert call(client, "GET", "/console", session_id).status_code == 200
    out = call(client, "POST", "/console/sign-out", session_id, session.csrf)
    assert (out.status_code, out.headers["Location"]) == (303, "/console/sign-in")
    assert call(client, "GET", "/console", session_id).status_code == 303  # ended


@pytest.fixture
def password_pool(hub, monkeypatch):
    """The hub with a user pool whose tokens the fake verifier issues (the real one is tested in
    tests/unit/test_id_tokens.py and, against moto's pool, in the browser test)."""
    from chalicelib import services, wiring

    id_tokens, sign_in = FakeIdTokens(), FakeSignIn(login_url=None)
    sign_in.passwords[("hanako", "pw")] = id_tokens.issue("sub-h", "acme:editor", username="hanako")
    rebuilt = services.compose(dataclasses.replace(hub.ports, id_tokens=id_tokens, sign_in=sign_in))
    monkeypatch.setattr(wiring, "hub", lambda: rebuilt)
    return rebuilt


def cookie_of(answer, name: str) -> str:
    values = answer.headers.get("Set-Cookie")
    values = values if isinstance(values, list) else [values]
    [found] = [v for v in values if v and v.startswith(name + "=")]
    return found


def test_the_session_cookie_is_host_prefixed_secure_httponly_lax_and_new_at_each_sign_in(client, password_pool):
    page = client.http.get("/console/sign-in")
    state_cookie = cookie_of(page, "__Host-hub-sign-in")
    state = re.search(r'name="state" value="([^"]+)"', page.body.decode()).group(1)
    assert state_cookie.startswith(f"__Host-hub-sign-in={state};")

    def sign_in() -> str:
        answer = client.http.post("/console/sign-in", headers={**FORM, "Cookie": f"__Host-hub-sign-in={state}"},
                                  body=urlencode({"state": state, "username": "hanako", "password": "pw"}))
        assert (answer.status_code, answer.headers["Location"]) == (303, "/console")
        return cookie_of(answer, "__Host-hub-session")

    first, second = sign_in(), sign_in()
    for flag in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=28800"):
        assert flag in first.split("; "), flag
    assert "Domain" not in first
    first_id, second_id = (c.split(";")[0].split("=", 1)[1] for c in (first, second))
    assert first_id != second_id
    home = call(client, "GET", "/console/t/acme", second_id)
    assert home.status_code == 200 and "hanako" in home.body.decode() and "editor" in home.body.decode()
    assert "script-src 'self'" in home.headers["Content-Security-Policy"]


def test_a_wrong_password_or_another_browsers_form_signs_no_one_in(client, password_pool):
    page = client.http.get("/console/sign-in")
    state = re.search(r'name="state" value="([^"]+)"', page.body.decode()).group(1)
    wrong = client.http.post("/console/sign-in", headers={**FORM, "Cookie": f"__Host-hub-sign-in={state}"},
                             body=urlencode({"state": state, "username": "hanako", "password": "nope"}))
    assert (wrong.status_code, wrong.headers["Location"]) == (303, "/console/sign-in?error=1")
    foreign = client.http.post("/console/sign-in", headers={**FORM, "Cookie": "__Host-hub-sign-in=mine"},
                               body=urlencode({"state": state, "username": "hanako", "password": "pw"}))
    assert foreign.status_code == 403 and "Set-Cookie" not in foreign.headers


def test_admin_api_principals_map_onto_the_table_a_tenant_token_is_refused_exactly_the_platform_routes(client):
    """The admin API's credentials stand for roles of the same ladder: the all-tenants token is
    platform-admin, a tenant token `<tenant>:admin`. For every admin route: the token of acme gets
    403 exactly where the table asks for platform-admin, and never on its own tenant's others."""
    issued = json.loads(client.http.post("/admin/tenants/acme/tokens", headers=ADMIN, body=b"").body)
    tenant_token = {"Authorization": f"Bearer {issued['token']}", "Content-Type": "application/json"}
    platform = {**ADMIN, "Content-Type": "application/json"}
    for method, path in routes("/admin"):
        url = re.sub(r"\{(\w+)\}", lambda m: "acme" if m.group(1) == "tenant" else "x", path)
        if "{person_id}" in path:
            url = url.replace("/people/x", "/people/p_000000000000000000000000")
        needed = console_roles.ROUTES[(method, path)]
        as_tenant = client.http.request(method, url, headers=tenant_token, body=b"{}")
        assert (as_tenant.status_code == 403) == (needed == Level.PLATFORM), (method, path, as_tenant.status_code)
        if needed == Level.PLATFORM:
            as_platform = client.http.request(method, url, headers=platform, body=b"{}")
            assert as_platform.status_code != 403, (method, path)


def test_on_an_execute_api_url_links_and_redirects_keep_the_stage_path(client, hub, monkeypatch):
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://abc.execute-api.ap-northeast-1.amazonaws.com/api")
    session_id, _ = session_for(hub, ("acme:viewer",))
    assert call(client, "GET", "/console", "no-such-session").headers["Location"] == "/api/console/sign-in"
    page = call(client, "GET", "/console", session_id).body.decode()
    assert 'href="/api/console/t/acme"' in page and 'action="/api/console/sign-out"' in page
