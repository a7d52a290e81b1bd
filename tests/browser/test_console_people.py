"""The 関係プール and 人物 screens as an HR admin meets them (headless Chromium, the local hub of
`make run`, signed in through the real page): find a person by the katakana reading, open them, add
a tag, export, erase another person; on a laptop and a phone, in Japanese and English, each screen
screenshotted and checked with axe (support.look). A viewer asking for an export gets the 403 page."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from integrations.sources import standard
from tests import localhub
from tests.browser.support import VIEWPORTS, look, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
LOCALES = ["ja-JP", "en-US"]


def seed(hub, key: str, family: str, given: str, family_kana: str, given_kana: str) -> str:
    """A person of tenant `default` through a signed webhook of the standard source; their id."""
    email = f"{key}@example.jp"
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": key, "name": f"{family} {given}", "family_name": family, "given_name": given,
                   "family_kana": family_kana, "given_kana": given_kana, "email": email, "phone": "03-1234-5678"},
        "application_id": f"a-{key}", "stage": "一次面接", "reason": "経験不足",
        "occurred_at": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
        "job": {"id": "j1", "title": "バックエンドエンジニア"}}}, ensure_ascii=False).encode()
    answer = requests.post(f"{hub['url']}/webhooks/default/standard", data=body,
                           headers=standard.sign(body, localhub.SECRETS["standard"]), timeout=5)
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = requests.get(f"{hub['url']}/admin/tenants/default/people?email={email}", timeout=5,
                             headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"}).json().get("people")
        if found:
            return found[0]["id"]
        time.sleep(0.2)
    raise AssertionError("the person was not recorded")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", LOCALES)
def test_an_admin_finds_a_person_by_reading_tags_exports_and_erases_another(hub, browser, viewport, locale):
    lang = locale[:2]
    en, amp = ("?lang=en", "&lang=en") if lang == "en" else ("", "")
    kana = {"laptop": "ミナミ", "phone": "キタノ"}[viewport] + ("" if lang == "ja" else "ガワ")
    person = seed(hub, f"b-{lang}-{viewport}", {"laptop": "南", "phone": "北野"}[viewport] + ("" if lang == "ja" else "川"),
                  "花子", kana, "ハナコ")
    other = seed(hub, f"b-{lang}-{viewport}-2", "消去", "太郎", "ショウキョ", "タロウ")
    page = sign_in(browser, hub, "admin", viewport=viewport, locale=locale)
    url = hub["url"]

    page.goto(f"{url}/console/t/default/people{en}")
    look(page, f"console-people-start-{lang}-{viewport}")
    page.fill("#q", kana)  # the katakana reading finds the person
    page.click("form.search button[type=submit]")
    page.wait_for_selector("#count")
    assert page.locator(f"#results a[href*='{person}']").count() == 1
    look(page, f"console-people-{lang}-{viewport}")

    page.click(f"#results a[href*='{person}']")
    page.wait_for_selector("#person-id")
    assert page.locator("#person-id").inner_text() == person
    assert page.locator("#reading").inner_text().startswith(kana)
    timeline = page.locator("#timeline").inner_text()
    assert ("不採用（一次面接・経験不足）" if lang == "ja" else "Not selected (一次面接, 経験不足)") in timeline
    look(page, f"console-person-{lang}-{viewport}")

    page.fill("#add-tags", "vip")
    page.click("form.inline button.act")
    page.wait_for_selector("#tags .chip")
    assert "#vip" in page.locator("#tags").inner_text()
    look(page, f"console-person-tagged-{lang}-{viewport}")
    page.goto(f"{url}/console/t/default/audit?action=person.tags{amp}")  # the tag edit, in the audit trail
    entries = page.locator("#entries").inner_text()
    assert person in entries and "person.tags" in entries and "(" in entries  # by the signed-in user: "(you)"
    page.goto(f"{url}/console/t/default/people/{person}{en}")

    with page.expect_download() as download:
        page.click("#export")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["person"]["id"] == person and "vip" in exported["person"]["tags"]

    page.goto(f"{url}/console/t/default/people/{other}{en}")
    page.fill("#confirm", "erase")  # wrong: the page says what to type
    page.click("#erase button[type=submit]")
    page.wait_for_selector("#erase-error")
    assert other in page.locator("#erase-error").inner_text() and "削除" in page.locator("#erase-error").inner_text()
    look(page, f"console-person-erase-wrong-{lang}-{viewport}")
    page.fill("#confirm", "削除")
    page.click("#erase button[type=submit]")
    page.wait_for_selector("#erased")
    assert page.locator("#erased").inner_text() == other
    look(page, f"console-person-erased-{lang}-{viewport}")
    gone = page.goto(f"{url}/console/t/default/people/{other}{en}")
    assert gone is not None and gone.status == 404
    page.goto(f"{url}/console/t/default/people?q={kana}{amp}")
    assert page.locator(f"#results a[href*='{person}']").count() == 1
    page.context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", LOCALES)
def test_a_viewer_reads_but_may_not_export(hub, browser, viewport, locale):
    lang = locale[:2]
    en = "?lang=en" if lang == "en" else ""
    person = seed(hub, f"v-{lang}-{viewport}", "閲覧", "花子", "エツラン", "ハナコ")
    page = sign_in(browser, hub, "viewer", viewport=viewport, locale=locale)
    shown = page.goto(f"{hub['url']}/console/t/default/people/{person}{en}")
    assert shown is not None and shown.status == 200
    assert page.locator("#export").count() == 0 and page.locator("#erase").count() == 0
    refused = page.goto(f"{hub['url']}/console/t/default/people/{person}/export{en}")
    assert refused is not None and refused.status == 403
    assert page.locator("h1").inner_text() == ("このページを開く権限がありません。" if lang == "ja" else "You may not open this page.")
    look(page, f"console-people-forbidden-{lang}-{viewport}")
    page.context.close()
