"""What the browser tests share: Debian's Chromium driven by Playwright, the two viewports every
console screen is checked on, signing in as a role of the local pool, screenshots, and the
accessibility check (axe-core through axe-playwright-python: no serious or critical violation).

Every screen test calls `look(page, name)`: a full-page screenshot in tests/artifacts/<name>.png
and axe's findings in tests/artifacts/<name>.axe.json, failing on a serious or critical one."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
BLOCKING = ("serious", "critical")


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        try:
            yield launched
        finally:
            launched.close()


def console_users(hub: dict) -> dict[str, dict]:
    """The users `make run` seeded (.local/console-users.json), by role."""
    written = json.loads((hub["state"] / "console-users.json").read_text())
    return {user["role"]: user for user in written["users"]}


def sign_in(browser: Any, hub: dict, role: str, *, viewport: str = "laptop", locale: str = "ja-JP") -> Any:
    """A new browser context signed in through the real local sign-in page as the role's user; its page."""
    user = console_users(hub)[role]
    context = browser.new_context(locale=locale, viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.goto(f"{hub['url']}/console/sign-in" + ("?lang=en" if locale.startswith("en") else ""))
    page.fill("#username", user["username"])
    page.fill("#password", user["password"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub['url']}/console")
    return page


def violations(page: Any) -> list[dict]:
    """axe-core's violations on the page as it is now (every rule axe runs by default)."""
    from axe_playwright_python.sync_playwright import Axe

    return list(Axe().run(page).response["violations"])


def look(page: Any, name: str) -> None:
    """Screenshot the whole page and check it with axe: no serious or critical violation."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    found = violations(page)
    (ARTIFACTS / f"{name}.axe.json").write_text(json.dumps(
        [{"id": v["id"], "impact": v["impact"], "help": v["help"], "targets": [n["target"] for n in v["nodes"]]} for v in found],
        ensure_ascii=False, indent=1))
    blocking = [(v["id"], v["impact"], v["help"]) for v in found if v["impact"] in BLOCKING]
    assert not blocking, f"{name}: {blocking}"
