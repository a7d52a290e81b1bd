"""The HR console as a person meets it: headless Chromium (Debian's, driven by Playwright) opens the
real local sign-in page of `make run`, signs in with a user of the embedded Cognito pool (the
password goes to moto's cognito-idp, the ID token comes back and is verified against the pool's
JWKS, as in AWS), and sees the tenant home page; then signs out. Screenshot:
tests/artifacts/console-sign-in.png."""
from __future__ import annotations

import json

import pytest

from tests.browser.support import ARTIFACTS, VIEWPORTS, look, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_an_editor_signs_in_through_the_local_page_against_the_embedded_pool_and_sees_the_tenant_home(hub, browser):
    written = json.loads((hub["state"] / "console-users.json").read_text())
    assert written["url"] == f"{hub['url']}/console/sign-in"
    assert {(u["role"], u["tenant"]) for u in written["users"]} == {
        ("platform-admin", None), ("admin", "default"), ("editor", "default"), ("viewer", "default")}
    assert any("HR console:" in line for line in hub["lines"])
    editor = next(u for u in written["users"] if u["role"] == "editor")

    context = browser.new_context(locale="ja-JP", viewport={"width": 1100, "height": 760})
    page = context.new_page()
    page.goto(written["url"])
    assert page.locator("h1").inner_text() == "サインイン"
    page.fill("#username", editor["username"])
    page.fill("#password", editor["password"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub['url']}/console")
    # Chromium keeps a __Host- (Secure) cookie set over http://127.0.0.1: loopback counts as a secure origin
    [session] = [c for c in context.cookies() if c["name"] == "__Host-hub-session"]
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/"
    page.click("a[href='/console/t/default']")
    page.wait_for_url(f"{hub['url']}/console/t/default")
    assert page.locator("#username").inner_text() == "editor"
    assert page.locator("#role").inner_text() == "editor"
    assert page.locator("#tenant").inner_text() == "default"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-sign-in.png"), full_page=True)

    other = page.goto(f"{hub['url']}/console/t/acme")
    assert other is not None and other.status == 403  # another tenant's URL
    page.goto(f"{hub['url']}/console/t/default")
    page.click("header button[type=submit]")  # sign out (POST with the session's CSRF token)
    page.wait_for_url(f"{hub['url']}/console/sign-in")
    assert page.goto(f"{hub['url']}/console/t/default").url == f"{hub['url']}/console/sign-in"
    context.close()


def test_a_wrong_password_is_refused_on_the_page(hub, browser):
    written = json.loads((hub["state"] / "console-users.json").read_text())
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(written["url"] + "?lang=en")
    assert page.locator("h1").inner_text() == "Sign in"
    page.fill("#username", "viewer")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_url("**/console/sign-in?error=1&lang=en")
    assert "could not sign you in" in page.locator(".error").inner_text()
    assert not [c for c in context.cookies() if c["name"] == "__Host-hub-session"]
    context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_the_sign_in_and_home_screens_are_accessible_on_a_laptop_and_a_phone(hub, browser, viewport, locale):
    lang = locale[:2]
    context = browser.new_context(locale=locale, viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.goto(f"{hub['url']}/console/sign-in" + ("?lang=en" if lang == "en" else ""))
    look(page, f"console-sign-in-{lang}-{viewport}")
    context.close()
    page = sign_in(browser, hub, "admin", viewport=viewport, locale=locale)
    page.goto(f"{hub['url']}/console/t/default" + ("?lang=en" if lang == "en" else ""))
    look(page, f"console-home-{lang}-{viewport}")
    page.context.close()
