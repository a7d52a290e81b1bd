"""The agencies, segments, campaigns and KPI screens in Chromium against `make run`'s local hub (its
sandbox agency, people through signed webhooks): an admin reads the agencies and the sandbox agency
with its ledger, an editor counts a segment expression, sees an error at its position, saves it,
pauses and resumes a campaign, and a viewer reads the KPIs with a cut and takes the CSV. On a laptop
and a phone, in Japanese and English (support.look: tests/artifacts/console-<screen>-<lang>-<viewport>.png)."""
from __future__ import annotations

import json

import pytest
import requests

from tests import localhub
from tests.browser.support import VIEWPORTS, look, sign_in
from tests.browser.test_console_people import seed

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
ADMIN = {"Authorization": f"Bearer {localhub.ADMIN_TOKEN}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def hub():
    with localhub.local_hub() as running:
        for i in range(3):
            person = seed(running, f"prog-{i}", "技術", f"太郎{i}", "ギジュツ", "タロウ")
            requests.patch(f"{running['url']}/admin/tenants/default/people/{person}", headers=ADMIN, timeout=5,
                           data=json.dumps({"add": ["engineer"]})).raise_for_status()
        requests.put(f"{running['url']}/admin/tenants/default/segments/engineers", headers=ADMIN, timeout=5,
                     data=json.dumps({"expression": "tag:engineer", "description": "技術職"})).raise_for_status()
        requests.put(f"{running['url']}/admin/tenants/default/campaigns/yearly", headers=ADMIN, timeout=5, data=json.dumps(
            {"segment": "engineers", "template_kind": "nurture", "cadence": {"every": "year", "on": "rejection"}})).raise_for_status()
        yield running


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_agencies_segments_campaigns_and_kpis(hub, browser, viewport, locale):
    lang = locale[:2]
    q = "?lang=en" if lang == "en" else ""
    tenant = f"{hub['url']}/console/t/default"
    page = sign_in(browser, hub, "admin", viewport=viewport, locale=locale)

    page.goto(f"{tenant}/agencies{q}")
    assert page.locator("#agencies a[href*='/agencies/sandbox']").count() == 1
    look(page, f"console-agencies-{lang}-{viewport}")
    page.click("#agencies a[href*='/agencies/sandbox']")
    page.wait_for_selector("#ledger-counts")
    assert page.locator("#versions code").first.inner_text().startswith("r-")
    assert ("次の枠まで" if lang == "ja" else "Toward the next slot") in page.locator("#toward-next").inner_text()
    look(page, f"console-agency-{lang}-{viewport}")

    page.goto(f"{tenant}/segments{q}")
    page.fill("#segment", f"eng-{lang}-{viewport}")
    page.fill("#expression", "tag:engineer AND colour:blue")
    page.click("#save")
    page.wait_for_selector("#expression-error")
    assert ("18 文字目" if lang == "ja" else "at character 18") in page.locator("#expression-error").inner_text()
    page.fill("#expression", "tag:engineer")
    page.click("#count")
    page.wait_for_selector("#count-result")
    assert page.locator("#members li").count() >= 3
    look(page, f"console-segments-{lang}-{viewport}")
    page.click("#save")
    page.wait_for_selector("#notice")
    assert page.url.endswith(f"/segments/eng-{lang}-{viewport}?done=saved" + ("&lang=en" if lang == "en" else ""))

    page.goto(f"{tenant}/campaigns{q}")
    page.click("#campaign-yearly button[type=submit]")
    page.wait_for_selector("#notice")
    page.click("#campaign-yearly button[type=submit]")  # resume
    page.wait_for_selector("#notice")
    assert page.locator("#campaign-yearly .state").inner_text() == ("配信中" if lang == "ja" else "Running")
    page.goto(f"{tenant}/campaigns{q}")
    look(page, f"console-campaigns-{lang}-{viewport}")
    page.context.close()

    viewer = sign_in(browser, hub, "viewer", viewport=viewport, locale=locale)
    viewer.goto(f"{tenant}/kpis{q}")
    viewer.select_option("#by", "source")
    viewer.click("#period button[type=submit]")
    viewer.wait_for_selector("#by-cut")
    assert viewer.locator("svg.chart").count() == 2
    look(viewer, f"console-kpis-{lang}-{viewport}")
    with viewer.expect_download() as download:
        viewer.click("#csv")
    text = download.value.path().read_bytes().decode("utf-8-sig")
    assert text.startswith("date,") and text.count("\r\n") == 31  # a header and the last 30 days
    viewer.context.close()
