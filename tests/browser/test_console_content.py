"""e20-content: the console's templates and settings screens in Chromium against `make run`'s local hub:
an admin opens the templates list, types an unknown variable into the editor and sees the error at its
line (nothing saved), previews and saves a valid edit; on the settings screen a refused field shows its
message beside it. On a laptop and a phone, in Japanese and English, each screen screenshotted and
checked with axe (support.look: tests/artifacts/console-<screen>-<lang>-<viewport>.png)."""
from __future__ import annotations

import pytest

from tests.browser.support import VIEWPORTS, look, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_an_admin_edits_a_template_with_an_error_at_its_line_previews_saves_and_checks_settings(hub, browser, viewport, locale):
    lang = locale[:2]
    q = "?lang=en" if lang == "en" else ""
    page = sign_in(browser, hub, "admin", viewport=viewport, locale=locale)
    tenant = f"{hub['url']}/console/t/default"

    page.goto(f"{tenant}/templates{q}")
    assert page.locator("h1").inner_text() == ("メールテンプレート" if lang == "ja" else "Mail templates")
    look(page, f"console-templates-{lang}-{viewport}")

    page.click(f"#edit-nurture-{lang}")
    page.wait_for_selector("#preview")
    text = page.locator("#text").input_value()
    page.fill("#text", "{{ name }}\n\n{{ not_a_variable }}\n" + text)
    page.click("#do-save")
    page.wait_for_selector("#error-line")
    assert page.locator("#error-line").get_attribute("value") == "3"
    assert "not_a_variable" in page.locator("#error-text").inner_text()
    assert page.locator("#text").input_value().startswith("{{ name }}\n\n{{ not_a_variable }}")
    look(page, f"console-templates-error-{lang}-{viewport}")

    page.fill("#text", "{{ name }} / {{ name_kana }}\n{{ job_title }}\n" + text)
    page.click("#do-preview")
    page.wait_for_selector("#preview-text")
    shown = page.locator("#preview-text").inner_text()
    assert "山田 花子" in shown and "ヤマダ ハナコ" in shown and "バックエンドエンジニア" in shown
    look(page, f"console-templates-preview-{lang}-{viewport}")
    page.click("#do-save")
    page.wait_for_selector("#notice")
    assert page.locator("#history tbody tr").count() >= 1

    page.goto(f"{tenant}/settings{q}")
    page.fill("#nurture_interval_days", "0")
    page.fill("#phone_region", "jp")
    page.click("#save-settings")
    page.wait_for_selector("#error-nurture_interval_days")
    assert page.locator("#error-phone_region").is_visible()
    assert page.locator("#nurture_interval_days").input_value() == "0"
    look(page, f"console-settings-error-{lang}-{viewport}")
    page.context.close()
