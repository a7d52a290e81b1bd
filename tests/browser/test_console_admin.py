"""The console's import, audit and users screens in Chromium against `make run`'s local hub and its
embedded Cognito pool (moto's cognito-idp, through the real boto3 adapter): an admin uploads a CP932
CSV, sees the preview with a row error, commits; sees the import in the audit log; invites a user.
On a laptop and a phone, in Japanese and English, each screen screenshotted and checked with axe
(support.look: tests/artifacts/console-<screen>-<lang>-<viewport>.png)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.browser.support import VIEWPORTS, look, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "imports" / "console_row_error_cp932.csv"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_an_admin_imports_a_cp932_csv_sees_it_in_the_audit_log_and_invites_a_user(hub, browser, viewport, locale):
    lang = locale[:2]
    q = "?lang=en" if lang == "en" else ""
    page = sign_in(browser, hub, "admin", viewport=viewport, locale=locale)
    tenant = f"{hub['url']}/console/t/default"

    page.goto(f"{tenant}/import{q}")
    assert page.locator("h1").inner_text() == ("CSVインポート" if lang == "ja" else "CSV import")
    look(page, f"console-import-{lang}-{viewport}")
    page.set_input_files("#file", str(FIXTURE))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#errors")
    assert page.locator("#error-count").inner_text() == "1"
    assert ("日付" in page.locator("#errors").inner_text()) and "山田" in page.locator("#preview").inner_text()
    valid = int(page.locator("#valid").inner_text())
    look(page, f"console-import-preview-{lang}-{viewport}")
    page.click("#commit")
    page.wait_for_selector("#imported")
    assert int(page.locator("#imported").inner_text()) + int(page.locator("#duplicates").inner_text()) == valid
    look(page, f"console-import-done-{lang}-{viewport}")

    page.goto(f"{tenant}/audit{q}")
    entries = page.locator("#entries").inner_text()
    assert "people.import" in entries and ("CSVインポート" if lang == "ja" else "Imported a CSV") in entries
    look(page, f"console-audit-{lang}-{viewport}")
    page.select_option("#action", "people.import_preview")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**action=people.import_preview**")
    assert "people.import_preview" in page.locator("#entries").inner_text()

    page.goto(f"{tenant}/users{q}")
    email = f"hr-{uuid.uuid4().hex[:8]}@example.jp"
    page.fill("#email", email)
    page.select_option("#invite-role", "editor")
    page.click("form[action$='/users/invite" + q + "'] button[type=submit]")
    page.wait_for_selector("#notice")
    assert email in page.locator("#users").inner_text()
    look(page, f"console-users-{lang}-{viewport}")
    page.context.close()
