"""No template leaks on any page, in any state, in either language: every page the hub serves is
rendered through the real handlers (Chalice test client) and its visible text checked for what a
broken template shows (a method repr, an object address, raw Jinja syntax, Undefined, a lone None).
The browser twin is tests/browser/test_pages_in_browser.py::test_no_page_leaks_template_internals."""
from __future__ import annotations

import html as html_module
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from freezegun import freeze_time

from tests.conftest import ADMIN
from tests.integration.test_relay_page import FORM, csrf, make_link

LEAKS = re.compile(r"built-in method|object at 0x|\{\{|\{%|%\}|\}\}|Undefined|(?:^|[\s:>（(])None(?:$|[\s<）),.、。])")


def visible_text(body: bytes) -> str:
    """The text a reader sees: tags, styles and attribute values dropped, entities decoded."""
    page = re.sub(r"<style.*?</style>", " ", body.decode(), flags=re.S)
    return html_module.unescape(re.sub(r"<[^>]+>", " ", page))


def leaks(body: bytes) -> list[str]:
    """What looks like template internals, in the visible text or in the raw markup."""
    found = [m.group(0) for m in LEAKS.finditer(visible_text(body))]
    found += [m.group(0) for m in re.finditer(r"built-in method|object at 0x|\{\{|\{%|Undefined", body.decode())]
    return found


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_no_page_state_leaks_template_internals(client, hub, locale):
    link = make_link(client, hub, locale)
    relay, unsubscribe = f"/r/{link['relay']}", f"/u/{link['unsubscribe']}"
    pages: dict[str, object] = {}
    pages["relay fresh"] = fresh = client.http.get(relay)
    pages["relay error re-render (stale form)"] = client.http.post(relay, headers=FORM, body=b"relay=yes&csrf=forged")
    pages["relay error re-render (bad score)"] = client.http.post(
        relay, headers=FORM, body=urlencode({"score": "11", "csrf": csrf(fresh)}).encode())
    pages["relay declined (saved, nothing ticked)"] = client.http.post(
        relay, headers=FORM, body=urlencode({"csrf": csrf(fresh)}).encode())
    again = client.http.get(relay)
    pages["relay after POST saved (consented)"] = client.http.post(
        relay, headers=FORM, body=urlencode({"csrf": csrf(again), "relay": "yes", "openings": "yes", "score": "8"}).encode())
    pages["relay already consented (revisit)"] = client.http.get(relay)
    pages["gone (unknown link)"] = client.http.get("/r/acme.no-such-token-at-all")
    pages["gone (malformed link)"] = client.http.get("/r/garbage")
    pages["unsubscribe"] = client.http.get(unsubscribe)
    pages["unsubscribe done"] = client.http.post(unsubscribe, headers=FORM, body=b"List-Unsubscribe=One-Click")
    for action in ("nurture_only", "none"):  # routing (docs/routing.md): openings only, then the neutral page
        rules = json.dumps({"rules": [{"match": {"source": "standard"}, "action": action}]})
        assert client.http.put("/admin/tenants/acme/routing", headers={**ADMIN, "Content-Type": "application/json"},
                               body=rules).status_code == 200
        pages[f"relay routed {action}"] = routed = client.http.get(relay)
        pages[f"relay routed {action} after POST"] = client.http.post(
            relay, headers=FORM, body=urlencode({"csrf": csrf(routed) if action != "none" else "x", "openings": "yes"}).encode())
    pages["dashboard"] = client.http.get(f"/admin/tenants/acme/dashboard?lang={locale}", headers=ADMIN)
    with freeze_time(datetime.now(UTC) + timedelta(days=31)):
        pages["relay expired"] = client.http.get(relay)
    for state, answer in pages.items():
        assert answer.status_code in (200, 400, 404), (state, answer.status_code)  # type: ignore[attr-defined]
        body = answer.body  # type: ignore[attr-defined]
        assert body.strip(), state
        assert leaks(body) == [], (locale, state, leaks(body))
    statuses = {state: answer.status_code for state, answer in pages.items()}  # type: ignore[attr-defined]
    assert [s for s, code in statuses.items() if code == 400] == [
        "relay error re-render (stale form)", "relay error re-render (bad score)"]
    assert [s for s, code in statuses.items() if code == 404] == [
        "gone (unknown link)", "gone (malformed link)", "relay expired"]
    assert f'lang="{locale}"' in pages["relay fresh"].body.decode()  # type: ignore[attr-defined]
    items_label = "提供する項目" if locale == "ja" else "Items shared"
    assert items_label in visible_text(pages["relay fresh"].body)  # type: ignore[attr-defined]


def test_the_leak_check_catches_what_a_broken_template_shows():
    for broken in ("<p><built-in method items of dict object at 0x7f3a></p>", "<p>{{ t.title }}</p>", "<p>{% if x %}</p>",
                   "<p>Undefined</p>", "<p>提供する項目: None</p>", "<td>None</td>"):
        assert leaks(broken.encode()), broken
    assert leaks("<p>Nonetheless, a None-free page: 山田 太郎 様</p>".encode()) == []
