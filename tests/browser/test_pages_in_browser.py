"""The pages as a candidate meets them: a phone-sized headless Chromium (Debian's, driven by
Playwright) opens the link from a mail the local hub really sent, consents, revisits, withdraws
and unsubscribes. Screenshots go to tests/artifacts/ (not committed)."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from integrations.sources import standard
from tests import localhub
from tests.browser.support import ARTIFACTS
from tools.mailbox import links, messages

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def admin(hub, path):
    return requests.get(hub["url"] + path, headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"}, timeout=5).json()


def reject(hub, person: str, locale: str) -> dict:
    """Post a signed rejection and wait for the mail it produces; its links."""
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": person, "name": "山田 花子" if locale == "ja" else "Alex Doe", "email": f"{person}@example.jp",
                   "locale": locale},
        "application_id": f"app-{person}", "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "job": {"id": "j1", "title": "バックエンドエンジニア"}}}, ensure_ascii=False).encode()
    answer = requests.post(f"{hub['url']}/webhooks/default/standard", data=body,
                           headers=standard.sign(body, localhub.SECRETS["standard"]), timeout=5)
    assert answer.status_code == 202
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in messages(hub["aws"]):
            if message["To"] == f"{person}@example.jp":
                return links(message)
        time.sleep(0.2)
    raise AssertionError("no mail arrived")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def timeline(hub, person):
    [found] = admin(hub, f"/admin/tenants/default/people?email={person}@example.jp")["people"]
    return found


def test_consent_revisit_withdraw_and_unsubscribe_on_a_phone(hub, browser):
    mail_links = reject(hub, "c-phone", "ja")
    context = browser.new_context(**PHONE, locale="ja-JP")
    page = context.new_page()
    page.goto(mail_links["relay"])
    assert page.locator("h1").inner_text() == "キャリアリレーのご案内"
    assert not page.locator("#openings").is_checked()
    shot(page, "relay-ja-first-visit")

    page.locator("#openings").check()
    page.locator("input[name=score][value='8']").check()
    page.get_by_role("button", name="選択を保存する").click()
    assert "ご選択を保存しました" in page.locator(".saved").inner_text()
    shot(page, "relay-ja-saved")
    found = timeline(hub, "c-phone")
    assert found["consents"]["openings"]["given"] is True
    assert [e["type"] for e in found["timeline"]].count("consent_given") == 1

    page.goto(mail_links["relay"])  # the revisit shows the decision, and withdrawing is one untick
    assert page.locator("#openings").is_checked()
    page.locator("#openings").uncheck()
    page.get_by_role("button", name="選択を保存する").click()
    shot(page, "relay-ja-withdrawn")
    assert timeline(hub, "c-phone")["consents"]["openings"]["given"] is False

    page.goto(mail_links["unsubscribe"])
    shot(page, "unsubscribe-ja")
    page.get_by_role("button", name="配信を停止する").click()
    assert "配信を停止しました" in page.locator(".saved").inner_text()
    shot(page, "unsubscribe-ja-done")
    assert [e["type"] for e in timeline(hub, "c-phone")["timeline"]][-1] == "consent_withdrawn"
    context.close()


def test_the_page_works_without_javascript_in_english(hub, browser):
    mail_links = reject(hub, "c-nojs", "en")
    context = browser.new_context(**PHONE, java_script_enabled=False, locale="en-US")
    page = context.new_page()
    page.goto(mail_links["relay"])
    assert page.locator("h1").inner_text() == "Career Relay"
    page.locator("#openings").check()
    page.get_by_role("button", name="Save my choices").click()
    assert "Your choices are saved" in page.locator(".saved").inner_text()
    shot(page, "relay-en-no-javascript")
    context.close()


def test_an_unknown_link_gets_the_same_page_as_an_expired_one(hub, browser):
    context = browser.new_context(**PHONE, locale="ja-JP")
    page = context.new_page()
    response = page.goto(f"{hub['url']}/r/default.this-token-does-not-exist")
    assert response.status == 404 and "このリンクはご利用いただけません" in page.content()
    assert response.headers["referrer-policy"] == "no-referrer"
    shot(page, "relay-unknown")
    context.close()


def test_the_dashboard_renders_for_hr_admins(hub, browser):
    reject(hub, "c-dash", "ja")
    requests.post(f"{hub['url']}/admin/tenants/default/jobs/kpi_publish", timeout=10,
                  headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"})
    context = browser.new_context(viewport={"width": 1024, "height": 900},
                                  extra_http_headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"})
    page = context.new_page()
    response = page.goto(f"{hub['url']}/admin/tenants/default/dashboard")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "採用リレーション ダッシュボード"
    assert page.locator("svg").count() == 2 and page.locator("rect").count() == 7  # the funnel's seven steps
    assert "関係維持人数" in page.content() and "Sandbox Agency" in page.content()
    shot(page, "dashboard-ja")
    page.goto(f"{hub['url']}/admin/tenants/default/dashboard?lang=en")
    assert page.locator("h1").inner_text() == "Recruiting relations dashboard"
    shot(page, "dashboard-en")
    context.close()
    anonymous = requests.get(f"{hub['url']}/admin/tenants/default/dashboard", timeout=5)
    assert anonymous.status_code == 401


def put_agency(hub, slug: str, **changes) -> dict:
    """A partner agency of the default tenant, sent to the sandbox agency's address (never called here)."""
    sandbox = admin(hub, "/admin/tenants/default/agencies/sandbox")
    body = {"name": "東京キャリア", "legal_name": "東京キャリア株式会社", "country": "JP", "endpoint": sandbox["endpoint"],
            "auth": {"type": "bearer", "token": "browser-test-token"}, "data_items": ["name", "email"], **changes}
    answer = requests.put(f"{hub['url']}/admin/tenants/default/agencies/{slug}", json=body, timeout=5,
                          headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("locale,labels", [
    ("ja", {"save": "選択を保存する", "changed": "提供先の内容が変わりました", "saved": "ご選択を保存しました"}),
    ("en", {"save": "Save my choices", "changed": "Some recipients have changed", "saved": "Your choices are saved"}),
])
def test_an_agency_edited_after_the_consent_is_shown_and_asked_again(hub, browser, locale, labels):
    slug = f"tokyo_{locale}"
    put_agency(hub, slug)
    mail_links = reject(hub, f"c-again-{locale}", locale)
    context = browser.new_context(**PHONE, locale="ja-JP" if locale == "ja" else "en-US")
    page = context.new_page()
    page.goto(mail_links["relay"])
    page.locator("#relay").check()
    page.get_by_role("button", name=labels["save"]).click()
    assert labels["saved"] in page.locator(".saved").inner_text() and page.locator(".changed").count() == 0

    put_agency(hub, slug, legal_name="東京キャリアホールディングス株式会社", data_items=["name", "email", "phone"])
    page.goto(mail_links["relay"])
    assert labels["changed"] in page.locator(".changed").inner_text()
    assert "東京キャリアホールディングス株式会社" in page.locator(".changed").inner_text()
    assert page.locator("#relay").is_checked() and not page.locator("#renew").is_checked()
    shot(page, f"relay-{locale}-reconsent")

    page.locator("#renew").check()
    page.get_by_role("button", name=labels["save"]).click()
    assert labels["saved"] in page.locator(".saved").inner_text() and page.locator(".changed").count() == 0
    shot(page, f"relay-{locale}-reconsented")
    assert [e["type"] for e in timeline(hub, f"c-again-{locale}")["timeline"]].count("consent_renewed") == 1
    context.close()



def opened(hub, person) -> int:
    return [e["type"] for e in timeline(hub, person)["timeline"]].count("link_opened")


def test_a_scanners_plain_fetch_does_not_count_as_opened_and_a_browser_showing_the_page_does(hub, browser):
    mail_links = reject(hub, "c-seen", "ja")
    assert requests.get(mail_links["relay"], timeout=5).status_code == 200  # what a mail scanner does
    assert opened(hub, "c-seen") == 0
    context = browser.new_context(**PHONE, java_script_enabled=False, locale="ja-JP")  # no script needed
    page = context.new_page()
    page.goto(mail_links["relay"], wait_until="load")
    deadline = time.monotonic() + 5
    while opened(hub, "c-seen") == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert opened(hub, "c-seen") == 1
    page.reload(wait_until="load")
    assert opened(hub, "c-seen") == 1
    context.close()


def test_a_form_with_too_many_fields_shows_the_page_again_with_a_message(hub, browser):
    mail_links = reject(hub, "c-many", "ja")
    context = browser.new_context(**PHONE, locale="ja-JP")
    page = context.new_page()
    page.goto(mail_links["relay"])
    page.evaluate("""() => { const form = document.querySelector('form');
        for (let i = 0; i < 25; i++) { const f = document.createElement('input');
            f.type = 'hidden'; f.name = 'extra' + i; f.value = 'x'; form.appendChild(f); } }""")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="選択を保存する").click()
    assert navigation.value.status == 400
    assert "送信された項目が多すぎる" in page.locator("[role=alert]").inner_text()
    assert page.locator("h1").inner_text() == "キャリアリレーのご案内"
    shot(page, "relay-ja-too-many-fields")
    assert timeline(hub, "c-many")["consents"] == {}
    context.close()


LEAKS = ("built-in method", "object at 0x", "{{", "{%", "%}", "}}", "Undefined")


def assert_no_leak(page, state: str) -> None:
    """The page as shown holds no template internals: a method repr, an address, raw Jinja, Undefined, a lone None."""
    import re
    shown, markup = page.inner_text("body"), page.content()
    found = [leak for leak in LEAKS if leak in shown or leak in markup]
    found += re.findall(r"(?:^|[\s:（(])None(?:$|[\s）),.、。])", shown)
    assert not found, (state, found)


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_no_page_leaks_template_internals(hub, browser, locale):
    words = {"ja": {"save": "選択を保存する", "stop": "配信を停止する"},
             "en": {"save": "Save my choices", "stop": "Stop e-mails"}}[locale]
    mail_links = reject(hub, f"c-leak-{locale}", locale)
    context = browser.new_context(**PHONE, locale="ja-JP" if locale == "ja" else "en-US")
    page = context.new_page()

    def check(state: str, url: str | None = None) -> None:
        if url:
            page.goto(url)
        assert_no_leak(page, state)
        shot(page, f"leak-{locale}-{state}")

    check("relay-fresh", mail_links["relay"])
    page.evaluate("() => { document.querySelector('input[name=csrf]').value = 'forged'; }")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=words["save"]).click()
    assert navigation.value.status == 400
    check("relay-error")
    page.goto(mail_links["relay"])
    page.get_by_role("button", name=words["save"]).click()  # nothing ticked: declined
    check("relay-declined")
    page.locator("#openings").check()
    page.locator("input[name=score][value='9']").check()
    page.get_by_role("button", name=words["save"]).click()
    check("relay-saved")
    check("relay-already-consented", mail_links["relay"])
    check("gone", f"{hub['url']}/r/default.this-token-does-not-exist")
    check("unsubscribe", mail_links["unsubscribe"])
    page.get_by_role("button", name=words["stop"]).click()
    check("unsubscribe-done")
    context.close()
    admin_context = browser.new_context(viewport={"width": 1024, "height": 900},
                                        extra_http_headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"})
    page = admin_context.new_page()
    check("dashboard", f"{hub['url']}/admin/tenants/default/dashboard?lang={locale}")
    admin_context.close()
