"""The Career Relay page and the unsubscribe page, through the Chalice test client."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from freezegun import freeze_time

from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, sent_mail

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
AGENCIES = [
    {"slug": "tokyo_careers", "name": "東京キャリア", "legal_name": "東京キャリア株式会社", "country": "JP",
     "data_items": ["name", "email", "desired_roles"]},
    {"slug": "global_talent", "name": "Global Talent", "legal_name": "Global Talent Ltd.", "country": "SG",
     "data_items": ["name", "email"], "foreign_regime_note": "シンガポールのPDPAが適用されます。"},
]


@pytest.fixture
def link(client, hub):
    return make_link(client, hub, "ja")


@pytest.fixture
def en_link(client, hub):
    return make_link(client, hub, "en")


def make_link(client, hub, locale):
    connect(client, "acme", "standard", SECRET)
    client.http.put("/admin/tenants/acme/settings", headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(SETTINGS))
    for agency in AGENCIES:  # partner agencies as the agency admin API stores them
        hub.ports.config.put("acme", "agency", (agency["slug"],), agency)
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": "c-1", "name": "山田 花子", "email": "c-1@example.jp", "locale": locale},
        "application_id": "a-1", "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}}).encode()
    client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)
    drain()
    [mail] = sent_mail()
    text = mail.get_body(("plain",)).get_content()
    return {"relay": re.search(r"/r/([\w.-]+)", text).group(1),
            "unsubscribe": re.search(r"/u/([\w.-]+)>", mail["List-Unsubscribe"]).group(1)}


def person(client):
    [found] = client.http.get("/admin/tenants/acme/people?email=c-1@example.jp", headers=ADMIN).json_body["people"]
    return found


def csrf(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.body.decode()).group(1)


def test_the_page_explains_names_the_agencies_and_their_data_items(client, link):
    page = client.http.get(f"/r/{link['relay']}")
    html = page.body.decode()
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store" and "script" not in page.headers["Content-Security-Policy"]
    assert "キャリアリレー" in html and "東京キャリア株式会社" in html and "氏名、メールアドレス、希望職種" in html
    assert "日本国外（SG）" in html and "PDPA" in html  # APPI Art. 28 information for a foreign recipient
    assert 'name="relay" value="yes"' in html and "checked" not in html  # nothing pre-ticked
    assert "<script" not in html


def beacon(page) -> str:
    return re.search(r'<img class="seen" src="([^"]+)"', page.body.decode()).group(1)


def opened(client) -> int:
    return [e["type"] for e in person(client)["timeline"]].count("link_opened")


def test_plain_gets_of_the_page_as_mail_scanners_make_do_not_count_as_opened(client, link):
    for _ in range(3):
        assert client.http.get(f"/r/{link['relay']}").status_code == 200
    assert opened(client) == 0
    assert person(client)["consents"] == {}


def test_the_beacon_a_browser_loads_with_the_page_counts_as_opened_once(client, link):
    page = client.http.get(f"/r/{link['relay']}")
    assert beacon(page) == f"/r/{link['relay']}/seen" and "img-src 'self'" in page.headers["Content-Security-Policy"]
    for _ in range(3):  # reloads
        answer = client.http.get(beacon(page))
        assert answer.status_code == 204 and answer.headers["Cache-Control"] == "no-store"
    assert opened(client) == 1
    assert person(client)["consents"] == {}


def test_the_first_post_from_the_page_counts_as_opened(client, link):
    page = client.http.get(f"/r/{link['relay']}")
    client.http.post(f"/r/{link['relay']}", headers=FORM, body=urlencode({"openings": "yes", "csrf": csrf(page)}).encode())
    assert opened(client) == 1


def test_the_beacon_of_an_unknown_token_answers_like_a_known_one_and_records_nothing(client, link):
    assert client.http.get("/r/acme.no-such-token-at-all/seen").status_code == 204
    assert opened(client) == 0


def test_consenting_records_each_decision_with_text_version_and_queues_referrals(client, link, hub):
    page = client.http.get(f"/r/{link['relay']}")
    answer = client.http.post(f"/r/{link['relay']}", headers=FORM,
                              body=urlencode({"relay": "yes", "openings": "yes", "score": "9", "csrf": csrf(page)}).encode())
    assert answer.status_code == 200 and "ご選択を保存しました" in answer.body.decode()
    found = person(client)
    given = [e for e in found["timeline"] if e["type"] == "consent_given"]
    assert sorted(e["consent"] for e in given) == ["openings", "relay"]
    version = found["consents"]["relay"]["text_version"]
    assert version.startswith("ja-") and found["consents"]["relay"]["channel"] == "career_relay_link"
    stored_text = hub.ports.config.get("acme", "consent_text", (version,)).data["text"]
    assert "東京キャリア株式会社" in stored_text  # the exact text the person saw is kept by version
    referrals = {i.agency: i.status for i in _referrals(hub)}
    assert referrals == {"tokyo_careers": "queued", "global_talent": "queued"}
    counters = hub.ports.counters.totals("acme")
    assert counters["consents.relay.given"] == 1 and counters["survey.score_sum"] == 9 and counters["survey.promoters"] == 1


def test_a_revisit_shows_the_choices_and_withdrawing_is_as_easy(client, link, hub):
    first = client.http.get(f"/r/{link['relay']}")
    client.http.post(f"/r/{link['relay']}", headers=FORM, body=urlencode({"relay": "yes", "csrf": csrf(first)}).encode())
    revisit = client.http.get(f"/r/{link['relay']}")
    assert re.search(r'name="relay" value="yes" checked', revisit.body.decode())
    client.http.post(f"/r/{link['relay']}", headers=FORM, body=urlencode({"csrf": csrf(revisit)}).encode())
    found = person(client)
    assert found["consents"]["relay"]["given"] is False
    assert [e["type"] for e in found["timeline"]][-1] == "consent_withdrawn"
    assert {i.status for i in _referrals(hub)} == {"withdrawn"}


def shown(page) -> str:
    return re.search(r'name="shown" value="([^"]+)"', page.body.decode()).group(1)


def test_each_agency_is_told_with_its_purpose_and_where_the_data_goes(client, link, hub):
    hub.ports.config.put("acme", "agency", ("tokyo_careers",), {**AGENCIES[0], "endpoint": "https://API.Tokyo.example/v1"})
    html = client.http.get(f"/r/{link['relay']}").body.decode()
    assert "利用目的: 職業紹介（あなたに合う求人のご提案）" in html and "データの送信先: api.tokyo.example" in html
    assert "提供する項目: 氏名、メールアドレス、希望職種" in html and "built-in method" not in html
    hub.ports.config.put("acme", "agency", ("tokyo_careers",), {**AGENCIES[0], "purpose": "求人のご提案"})
    assert "利用目的: 求人のご提案" in client.http.get(f"/r/{link['relay']}").body.decode()


def test_after_an_edit_the_page_shows_what_changed_and_asks_again_unticked(client, link, hub):
    first = client.http.get(f"/r/{link['relay']}")
    client.http.post(f"/r/{link['relay']}", headers=FORM,
                     body=urlencode({"relay": "yes", "csrf": csrf(first), "shown": shown(first)}).encode())
    assert "提供先の内容が変わりました" not in client.http.get(f"/r/{link['relay']}").body.decode()
    hub.ports.config.put("acme", "agency", ("tokyo_careers",), {**AGENCIES[0], "legal_name": "別会社株式会社"})

    revisit = client.http.get(f"/r/{link['relay']}")
    html = revisit.body.decode()
    assert "提供先の内容が変わりました" in html and "別会社株式会社" in html and "変更あり" in html
    assert re.search(r'name="relay" value="yes" checked', html)  # the consent to the others stands
    assert 'name="renew" value="yes">' in html  # asked again, not pre-ticked
    assert html.count('class="badge"') == 1  # only the edited agency is marked

    answer = client.http.post(f"/r/{link['relay']}", headers=FORM, body=urlencode(
        {"relay": "yes", "renew": "yes", "csrf": csrf(revisit), "shown": shown(revisit)}).encode())
    assert answer.status_code == 200 and "提供先の内容が変わりました" not in answer.body.decode()
    found = person(client)
    assert [e["type"] for e in found["timeline"]][-1] == "consent_renewed"
    versions = {a: v["version"] for a, v in found["consents"]["relay"]["agencies"].items()}
    assert versions == {a["slug"]: a["consent_version"] for a in hub.configuration.agency_documents("acme")}


def test_a_form_shown_before_an_agency_changed_is_refused_with_the_new_page(client, link, hub):
    page = client.http.get(f"/r/{link['relay']}")
    hub.ports.config.put("acme", "agency", ("global_talent",), {**AGENCIES[1], "country": "US"})

    answer = client.http.post(f"/r/{link['relay']}", headers=FORM,
                              body=urlencode({"relay": "yes", "csrf": csrf(page), "shown": shown(page)}).encode())
    html = answer.body.decode()
    assert answer.status_code == 409 and "ページを開いている間に内容が更新されました" in html and "日本国外（US）" in html
    assert person(client)["consents"] == {} and _referrals(hub) == []


def refusal(answer) -> str:
    found = re.search(r'<p class="stale" role="alert">([^<]+)</p>', answer.body.decode())
    return found.group(1) if found else ""


def test_a_stale_form_is_refused_with_400_and_the_page_says_why(client, link):
    answer = client.http.post(f"/r/{link['relay']}", headers=FORM, body=b"relay=yes&csrf=forged")
    assert answer.status_code == 400 and "キャリアリレー" in answer.body.decode()
    assert "フォームは古くなっています" in refusal(answer)
    assert person(client)["consents"] == {}


def test_a_bad_score_is_refused_with_400_and_the_page_says_why(client, link):
    page = client.http.get(f"/r/{link['relay']}")
    answer = client.http.post(f"/r/{link['relay']}", headers=FORM, body=urlencode({"score": "11", "csrf": csrf(page)}).encode())
    assert answer.status_code == 400 and "0 から 10" in refusal(answer)
    assert person(client)["consents"] == {}


def test_a_form_with_more_than_twenty_fields_is_refused_with_400_and_the_page_says_why(client, link):
    page = client.http.get(f"/r/{link['relay']}")
    fields = {"csrf": csrf(page), "relay": "yes", **{f"f{i}": "x" for i in range(25)}}
    answer = client.http.post(f"/r/{link['relay']}", headers=FORM, body=urlencode(fields).encode())
    assert answer.status_code == 400 and "項目が多すぎる" in refusal(answer)
    assert answer.headers["Content-Type"].startswith("text/html")
    assert person(client)["consents"] == {}


def test_an_oversized_form_is_refused_with_400_and_the_page_says_why(client, link):
    page = client.http.get(f"/r/{link['relay']}")
    answer = client.http.post(f"/r/{link['relay']}", headers=FORM,
                              body=urlencode({"csrf": csrf(page), "relay": "yes", "pad": "x" * 5000}).encode())
    assert answer.status_code == 400 and "大きすぎる" in refusal(answer)
    assert person(client)["consents"] == {}


def test_a_refused_form_is_explained_in_english_on_an_english_page(client, en_link):
    many = client.http.post(f"/r/{en_link['relay']}", headers=FORM, body=urlencode({f"f{i}": "x" for i in range(25)}).encode())
    stale = client.http.post(f"/r/{en_link['relay']}", headers=FORM, body=b"csrf=forged")
    assert many.status_code == stale.status_code == 400 and 'lang="en"' in many.body.decode()
    assert refusal(many) == "The form sent too many fields and was not saved. Please reload the page."
    assert refusal(stale) == "This form is out of date. Please reload the page and save again."


def test_a_bad_form_for_an_unknown_token_gets_the_gone_page(client, link):
    gone = client.http.get("/r/acme.no-such-token-at-all")
    answer = client.http.post("/r/acme.no-such-token-at-all", headers=FORM, body=urlencode({f"f{i}": "x" for i in range(25)}).encode())
    assert answer.status_code == 404 and answer.body == gone.body


def test_unknown_and_expired_tokens_get_the_same_page(client, link):
    unknown = client.http.get("/r/acme.no-such-token-at-all")
    malformed = client.http.get("/r/garbage")
    with freeze_time(datetime.now(UTC) + timedelta(days=31)):
        expired = client.http.get(f"/r/{link['relay']}")
        expired_post = client.http.post(f"/r/{link['relay']}", headers=FORM, body=b"relay=yes")
    assert unknown.status_code == malformed.status_code == expired.status_code == expired_post.status_code == 404
    assert unknown.body == malformed.body == expired.body == expired_post.body


def test_an_unsubscribe_token_does_not_open_the_relay_page(client, link):
    assert client.http.get(f"/r/{link['unsubscribe']}").status_code == 404
    assert client.http.get(f"/u/{link['relay']}").status_code == 404


def test_english_is_chosen_from_accept_language_when_the_person_has_no_locale(client, hub, link):
    from chalicelib.services.common import locale_from
    assert locale_from("en-US,en;q=0.9,ja;q=0.8", "ja") == "en"
    assert locale_from("fr-FR, ja;q=0.5", "en") == "ja"
    assert locale_from(None, "ja") == "ja"


def test_unsubscribe_shows_a_page_then_one_click_stops_mail(client, link, hub):
    page = client.http.get(f"/u/{link['unsubscribe']}")
    assert page.status_code == 200 and "配信を停止する" in page.body.decode()
    assert person(client)["consents"] == {}  # a GET changes nothing
    answer = client.http.post(f"/u/{link['unsubscribe']}", headers=FORM, body=b"List-Unsubscribe=One-Click")
    assert answer.status_code == 200 and "配信を停止しました" in answer.body.decode()
    again = client.http.post(f"/u/{link['unsubscribe']}", headers=FORM, body=b"List-Unsubscribe=One-Click")
    assert again.status_code == 200
    assert hub.ports.suppressions.reasons("acme", "c-1@example.jp") == ["opted_out"]
    assert [e["type"] for e in person(client)["timeline"]].count("consent_withdrawn") == 1


def _referrals(hub):
    from chalicelib.adapters.dynamo.keys import REFERRAL_PREFIX, person_pk
    from chalicelib.adapters.dynamo.models import ReferralItem
    found = hub.ports.relations.find_by_email("acme", "c-1@example.jp")[0].person
    return list(ReferralItem.query(person_pk("acme", found.person_id), ReferralItem.sk.startswith(REFERRAL_PREFIX)))
