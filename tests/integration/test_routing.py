"""Issue 19's routing on moto through the Chalice test client (docs/routing.md): a Greenhouse "position
filled" rejection ends nurture_only (its page offers no agency), a withdrawal none (no mail), the
invitation mode mails once, two days after the rejection; the KPI API splits the funnel by channel."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from freezegun import freeze_time

from integrations.sources import greenhouse
from tests.conftest import ADMIN, SETTINGS, connect, drain, load_fixture, sent_mail
from tests.integration.test_page_leaks import leaks
from tests.integration.test_relay_page import AGENCIES, FORM, csrf

GH_SECRET = "gh-test-secret-7f3a"
JSON = {**ADMIN, "Content-Type": "application/json"}
EMAIL = "hector.porter.265788@example.com"


@pytest.fixture
def acme(client, hub):
    connect(client, "acme", "greenhouse", GH_SECRET)
    assert client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps(SETTINGS)).status_code == 200
    for agency in AGENCIES:
        hub.ports.config.put("acme", "agency", (agency["slug"],), agency)
    return client


def rejection(client, reason: str, kind: str = "We rejected them", at: datetime | None = None) -> None:
    """Greenhouse's documented reject_candidate payload, rejected now for the given reason."""
    body = json.loads(load_fixture("sources/greenhouse/reject_candidate")["body"])
    application = body["payload"]["application"]
    when = (at or datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    application["rejected_at"] = application["last_activity_at"] = when
    application["rejection_reason"] = {"id": 1, "name": reason, "type": {"id": 1, "name": kind}}
    raw = json.dumps(body).encode()
    answer = client.http.post("/webhooks/acme/greenhouse", headers=greenhouse.sign(raw, GH_SECRET), body=raw)
    assert answer.status_code == 202, answer.body


def timeline(client) -> list[dict]:
    [person] = client.http.get(f"/admin/tenants/acme/people?email={EMAIL}", headers=ADMIN).json_body["people"]
    return person["timeline"]


def relay_link() -> str:
    [mail] = sent_mail()
    return re.search(r"/r/([\w.-]+)", mail.get_body(("plain",)).get_content()).group(1)


def test_a_position_filled_rejection_ends_nurture_only_and_its_page_offers_no_agency(acme):
    rejection(acme, "Position filled")
    drain()
    [sent] = [e for e in timeline(acme) if e["type"] == "notice_sent"]
    assert (sent["action"], sent["chosen_by"], sent["channel"]) == ("nurture_only", "default: position filled", "hub_notice")
    token = relay_link()
    for lang, agency_word, openings in (("ja", "人材紹介会社からの紹介を希望する", "今後の募集"),
                                        ("en", "partner recruitment agencies", "future openings")):
        page = acme.http.get(f"/r/{token}", headers={"Accept-Language": lang})
        text = page.body.decode()
        assert page.status_code == 200 and openings in text and 'name="openings"' in text
        assert 'name="relay"' not in text and agency_word not in text and "東京キャリア" not in text, lang
        assert leaks(page.body) == []
    page = acme.http.get(f"/r/{token}")
    saved = acme.http.post(f"/r/{token}", headers=FORM, body=urlencode({"csrf": csrf(page), "relay": "yes", "openings": "yes"}).encode())
    assert saved.status_code == 200
    given = {e["consent"] for e in timeline(acme) if e["type"] == "consent_given"}
    assert given == {"openings"}  # a forged relay=yes is not taken


def test_a_withdrawal_is_none_and_no_mail_goes(acme):
    rejection(acme, "Took another offer", kind="They rejected us")
    drain()
    assert sent_mail() == []
    assert "notice_sent" not in [e["type"] for e in timeline(acme)]


def test_a_tenant_rule_none_sends_nothing_and_a_link_opened_anyway_shows_a_neutral_page(acme, hub):
    rejection(acme, "Too Junior")  # relay by default: a link goes out
    drain()
    token = relay_link()
    answer = acme.http.put("/admin/tenants/acme/routing", headers=JSON,
                           body=json.dumps({"rules": [{"match": {"reason": "too junior"}, "action": "none"}]}))
    assert answer.status_code == 200 and answer.json_body["rules"][0]["action"] == "none"
    for lang, words in (("ja", "ご案内できる内容"), ("en", "nothing to show")):
        page = acme.http.get(f"/r/{token}", headers={"Accept-Language": lang})
        assert page.status_code == 200 and words in page.body.decode() and 'name="openings"' not in page.body.decode()
        assert leaks(page.body) == []
    posted = acme.http.post(f"/r/{token}", headers=FORM, body=b"openings=yes&csrf=x")
    assert posted.status_code == 200 and "consent_given" not in [e["type"] for e in timeline(acme)]


def test_routing_rules_are_checked_and_read_back(acme):
    for body, says in (({"rules": [{"action": "mail"}]}, "rules[0].action"), ({"rules": [{"action": "none"}] * 51}, "at most 50"),
                       ({"rule": []}, "the body must be")):
        answer = acme.http.put("/admin/tenants/acme/routing", headers=JSON, body=json.dumps(body))
        assert answer.status_code == 400 and says in json.dumps(answer.json_body, ensure_ascii=False), body
    rules = {"rules": [{"match": {"stage": "Offer"}, "action": "relay"}]}
    acme.http.put("/admin/tenants/acme/routing", headers=JSON, body=json.dumps(rules))
    got = acme.http.get("/admin/tenants/acme/routing", headers=ADMIN).json_body
    assert got["rules"] == [{"match": {"stage": ["offer"]}, "action": "relay"}]
    assert {"when": "position filled", "action": "nurture_only"} in got["defaults"]


def test_the_invitation_mode_mails_once_two_days_after_the_rejection_and_the_funnel_splits_by_channel(acme, hub):
    answer = acme.http.put("/admin/tenants/acme/sources/greenhouse", headers={**ADMIN, "Content-Type": "application/json"},
                           body=json.dumps({"delivery": {"mode": "invitation", "invitation_delay_days": 2}}))
    assert answer.status_code == 200, answer.body
    rejected_at = datetime.now(UTC) - timedelta(minutes=1)
    rejection(acme, "Too Junior", at=rejected_at)
    drain()
    assert sent_mail() == []
    with freeze_time(rejected_at + timedelta(days=1, hours=23)):
        hub.intake.release_notices(grace_s=0)
        drain()
        assert sent_mail() == []
    with freeze_time(rejected_at + timedelta(days=2, minutes=5)):
        assert hub.intake.release_notices(grace_s=0) == 1
        drain()
        [mail] = sent_mail()
        assert "キャリアリレーのご案内" in mail["Subject"] and "配信停止" in mail.get_body(("plain",)).get_content()
        token = relay_link()
        acme.http.get(f"/r/{token}/seen")
        page = acme.http.get(f"/r/{token}")
        acme.http.post(f"/r/{token}", headers=FORM, body=urlencode({"csrf": csrf(page), "relay": "yes"}).encode())
        assert hub.intake.release_notices(grace_s=0) == 0
        kpis = acme.http.get("/admin/tenants/acme/kpis", headers=ADMIN).json_body["current"]
        dashboard = acme.http.get("/admin/tenants/acme/dashboard?lang=en", headers=ADMIN)
    assert kpis["career_relay_by_channel"]["invitation"] == {"notices_sent": 1, "links_opened": 1, "consents": 1}
    assert kpis["career_relay_by_channel"]["hub_notice"] == {"notices_sent": 0, "links_opened": 0, "consents": 0}
    assert kpis["career_relay"]["notices_sent"] == 1
    assert dashboard.status_code == 200 and "Funnel by channel" in dashboard.body.decode() and leaks(dashboard.body) == []
