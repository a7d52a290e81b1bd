"""e20-content: the console's templates and settings screens through the app (Chalice test client,
DynamoDB in moto): a template refused at its line (unknown variable, syntax error) and not saved; a
valid one previewed in ja and en, saved through the admin PUT's service, kept in the versions with
its actor and audited; settings refused field by field with the values kept; delivery and routing;
the refusals (viewer/editor on settings, CSRF, another tenant); the admin API's template reads."""
from __future__ import annotations

import json
import re

from tests.conftest import ADMIN
from tests.integration.test_console import FORM, call, session_for
from tests.integration.test_console_admin import audit_of, post_multipart

T = "/console/t/acme/templates"


def stored(client, kind="rejection", locale="ja") -> dict:
    return json.loads(client.http.get(f"/admin/tenants/acme/templates/{kind}/{locale}", headers=ADMIN).body)


def template_form(csrf: str, op: str, subject: str, text: str, html: str = "") -> dict[str, str]:
    return {"csrf": csrf, "op": op, "subject": subject, "text": text, "html": html}


def test_an_unknown_variable_is_shown_at_its_line_with_the_text_kept_and_nothing_saved(acme, hub):
    session_id, session = session_for(hub, ("acme:editor",))
    text = "{{ name }} 様\n\nこの度はご応募ありがとうございました。\n{{ favourite_colour }} のご連絡です。\n{{ relay_link }}\n"
    page = post_multipart(acme, f"{T}/rejection/ja", session_id, template_form(session.csrf, "save", "ご連絡", text))
    html = page.body.decode()
    assert page.status_code == 400, html
    assert re.search(r'<li class="bad" id="error-line" value="4">\{\{ favourite_colour \}\} のご連絡です。</li>', html)
    assert "本文（テキスト）の4行目" in html and "unknown variable &#39;favourite_colour&#39;" in html
    assert 'aria-describedby="error-text"' in html and "{{ favourite_colour }} のご連絡です。\n{{ relay_link }}" in html
    assert stored(acme)["default"] is True  # not saved
    assert not [e for e in audit_of(hub) if e["action"] == "template.change"]


def test_a_syntax_error_is_shown_at_line_n_in_english_too(acme, hub):
    session_id, session = session_for(hub, ("acme:editor",))
    text = "Dear {{ name }},\n\nThank you.\n\n{% if job_title %}About {{ job_title }}\n{{ relay_link }}\n"
    page = post_multipart(acme, f"{T}/rejection/en?lang=en", session_id, template_form(session.csrf, "preview", "Hello", text))
    html = page.body.decode()
    assert page.status_code == 400
    line = re.search(r'id="error-line" value="(\d+)"', html).group(1)
    assert f"Body (text), line {line}" in html and int(line) >= 5
    subject = post_multipart(acme, f"{T}/rejection/en?lang=en", session_id,
                             template_form(session.csrf, "preview", "Hello {{ name", "{{ relay_link }}"))
    assert subject.status_code == 400 and "Subject, line 1" in subject.body.decode()
    assert stored(acme, locale="en")["default"] is True


def test_a_valid_edit_previews_in_ja_and_en_is_saved_versioned_and_audited_with_the_user(acme, hub):
    session_id, session = session_for(hub, ("acme:editor",))
    texts = {"ja": ("{{ company_name }}からのご連絡", "{{ name }} 様（{{ name_kana }}）\n"
                    "{{ job_title }} へのご応募ありがとうございました。\n"
                    "期限: {{ link_expires_on | wareki }}\n"),
             "en": ("A note from {{ company_name }}", "Dear {{ name }},\nThank you for applying for {{ job_title }}.\n")}
    for locale, (subject, text) in texts.items():
        preview = post_multipart(acme, f"{T}/rejection/{locale}", session_id, template_form(session.csrf, "preview", subject, text))
        page = preview.body.decode()
        assert preview.status_code == 200, page
        shown = re.search(r'<pre class="mail" id="preview-text"[^>]*>(.*?)</pre>', page, re.S).group(1)
        assert "山田 花子" in shown and "バックエンドエンジニア" in shown and "https://hub.example.com/r/sample" in shown
        assert ("ヤマダ ハナコ" in shown and "令和8年12月25日" in shown) if locale == "ja" else "Dear 山田 花子" in shown
        assert stored(acme, locale=locale)["default"] is True  # a preview stores nothing
        saved = post_multipart(acme, f"{T}/rejection/{locale}", session_id, template_form(session.csrf, "save", subject, text))
        assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/rejection/{locale}?saved=1")
        assert stored(acme, locale=locale)["text"] == text
    changes = [e for e in audit_of(hub) if e["action"] == "template.change"]
    assert {(e["who"], e["target"]) for e in changes} == {(session.identity.actor, "rejection/ja"),
                                                          (session.identity.actor, "rejection/en")}
    again = post_multipart(acme, f"{T}/rejection/ja", session_id, template_form(session.csrf, "save", "件名だけ変更", texts["ja"][1]))
    assert again.headers["Location"].endswith("?saved=2")
    versions = json.loads(acme.http.get("/admin/tenants/acme/templates/rejection/ja/versions", headers=ADMIN).body)
    assert [(v["version"], v["by"], v["changed"]) for v in versions["versions"]] == [
        (2, session.identity.actor, ["subject"]), (1, session.identity.actor, ["subject", "text"])]
    page = call(acme, "GET", f"{T}/rejection/ja?saved=2", session_id).body.decode()
    assert "第2版として保存しました。" in page and session.identity.actor in page and 'id="history"' in page
    loaded = call(acme, "GET", f"{T}/rejection/ja?version=1", session_id).body.decode()
    assert 'value="{{ company_name }}からのご連絡"' in loaded and "第1版の内容を編集欄に読み込みました" in loaded
    listed = json.loads(acme.http.get("/admin/tenants/acme/templates", headers=ADMIN).body)["templates"]
    assert {(t["kind"], t["locale"]): t["version"] for t in listed}[("rejection", "ja")] == 2 and len(listed) == 10
    assert "第2版" in call(acme, "GET", T, session_id).body.decode()


def test_the_admin_put_keeps_its_actor_in_the_versions(acme):
    body = json.dumps({"subject": "s", "text": "{{ relay_link }}"})
    assert acme.http.put("/admin/tenants/acme/templates/nurture/en", headers={**ADMIN, "Content-Type": "application/json"},
                         body=body).status_code == 200
    versions = json.loads(acme.http.get("/admin/tenants/acme/templates/nurture/en/versions", headers=ADMIN).body)["versions"]
    assert versions[0]["by"] == "admin" and versions[0]["version"] == 1


def test_an_unknown_template_kind_is_404_and_the_editor_needs_an_editor(acme, hub):
    editor_id, _ = session_for(hub, ("acme:editor",))
    assert call(acme, "GET", f"{T}/nope/ja", editor_id).status_code == 404
    viewer_id, viewer = session_for(hub, ("acme:viewer",))
    assert call(acme, "GET", T, viewer_id).status_code == 403
    assert call(acme, "POST", f"{T}/rejection/ja", viewer_id, viewer.csrf).status_code == 403


# -- settings ----------------------------------------------------------------------------------------

def settings_form(csrf: str, **changes: str) -> dict[str, str]:
    form = {"csrf": csrf, "company_name": "サンプル株式会社", "sender_email": "careers@example.com",
            "postal_address": "〒100-0001 東京都千代田区千代田1-1", "contact": "careers@example.com", "default_locale": "ja",
            "time_zone": "Asia/Tokyo", "time_zone_other": "", "phone_region": "JP", "nurture_interval_days": "90",
            "notice_delay_minutes": "", "mail_transport": "ses", "smtp_host": "", "smtp_port": "587", "smtp_username": "",
            "smtp_password": "", "smtp_starttls": "on"}
    return {**form, **changes}


def test_settings_errors_are_named_next_to_each_field_and_the_values_are_kept(acme, hub):
    session_id, session = session_for(hub, ("acme:admin",))
    page = post_multipart(acme, "/console/t/acme/settings", session_id, settings_form(
        session.csrf, sender_email="not-mail", nurture_interval_days="0", time_zone="other", time_zone_other="Mars/Olympus",
        phone_region="jp", company_name="株式会社テスト"))
    html = page.body.decode()
    assert page.status_code == 400, html
    for field in ("sender_email", "nurture_interval_days", "time_zone", "phone_region"):
        assert f'id="error-{field}"' in html and f'aria-describedby="error-{field}"' in html, field
    assert 'id="error-company_name"' not in html
    assert "1〜3650 の整数を入力してください。" in html and 'value="株式会社テスト"' in html and 'value="Mars/Olympus"' in html
    assert json.loads(acme.http.get("/admin/tenants/acme/settings", headers=ADMIN).body)["company_name"] == "サンプル株式会社"
    assert not [e for e in audit_of(hub) if e["action"] == "settings.change" and e["who"].startswith("user:")]


def test_settings_are_saved_through_the_service_and_the_smtp_password_is_never_shown(acme, hub):
    session_id, session = session_for(hub, ("acme:admin",))
    done = post_multipart(acme, "/console/t/acme/settings?lang=en", session_id, settings_form(
        session.csrf, company_name="新しい株式会社", time_zone="other", time_zone_other="Europe/Paris", notice_delay_minutes="30"))
    assert (done.status_code, done.headers["Location"]) == (303, "/console/t/acme/settings?done=settings&lang=en")
    now = json.loads(acme.http.get("/admin/tenants/acme/settings", headers=ADMIN).body)
    assert (now["company_name"], now["time_zone"], now["notice_delay_minutes"]) == ("新しい株式会社", "Europe/Paris", 30)
    assert [e["who"] for e in audit_of(hub) if e["action"] == "settings.change"][0] == session.identity.actor
    page = call(acme, "GET", "/console/t/acme/settings?done=settings", session_id).body.decode()
    assert "設定を保存しました。" in page and 'id="sender-status"' in page and 'value="Europe/Paris"' in page
    smtp = post_multipart(acme, "/console/t/acme/settings", session_id, settings_form(
        session.csrf, mail_transport="smtp", smtp_host="smtp.example.com", smtp_port="99999", smtp_password="hunter2-secret"))
    html = smtp.body.decode()
    assert smtp.status_code == 400 and 'id="error-smtp_port"' in html and "hunter2-secret" not in html


def test_a_source_delivery_and_routing_rules_are_saved_or_refused_next_to_the_field(acme, hub):
    session_id, session = session_for(hub, ("acme:admin",))
    bad = call(acme, "GET", "/console/t/acme/settings", session_id)
    assert 'id="source-standard"' in bad.body.decode()
    body = "csrf=" + session.csrf + "&source=standard&mode=invitation&invitation_delay_days=999"
    refused = acme.http.post("/console/t/acme/settings/delivery", headers={**FORM, "Cookie": f"__Host-hub-session={session_id}"},
                             body=body)
    assert refused.status_code == 400 and 'id="error-invitation_delay_days-standard"' in refused.body.decode()
    ok = acme.http.post("/console/t/acme/settings/delivery", headers={**FORM, "Cookie": f"__Host-hub-session={session_id}"},
                        body=body.replace("999", "3"))
    assert ok.status_code == 303
    assert hub.writeback.delivery("acme", "standard").invitation_delay_days == 3
    rules = post_multipart(acme, "/console/t/acme/settings/routing", session_id,
                           {"csrf": session.csrf, "rules": '[{"match": {"reason": "spam"}, "action": "drop"}]'})
    assert rules.status_code == 400 and "rules[0].action" in rules.body.decode() and "drop" in rules.body.decode()
    broken = post_multipart(acme, "/console/t/acme/settings/routing", session_id, {"csrf": session.csrf, "rules": '[\n{"x": }'})
    assert broken.status_code == 400 and "2行目" in broken.body.decode()
    saved = post_multipart(acme, "/console/t/acme/settings/routing", session_id,
                           {"csrf": session.csrf, "rules": '{"rules": [{"match": {"reason": "spam"}, "action": "none"}]}'})
    assert saved.status_code == 303 and hub.routing.rules_answer("acme")["rules"][0]["action"] == "none"
    assert {"source.connect", "routing.change"} <= {e["action"] for e in audit_of(hub) if e["who"] == session.identity.actor}


def test_settings_refuse_viewers_editors_other_tenants_and_a_missing_csrf(acme, hub):
    for groups in (("acme:viewer",), ("acme:editor",), ("globex:admin",)):
        session_id, session = session_for(hub, groups)
        assert call(acme, "GET", "/console/t/acme/settings", session_id).status_code == 403, groups
        assert post_multipart(acme, "/console/t/acme/settings", session_id, settings_form(session.csrf)).status_code == 403
    admin_id, admin = session_for(hub, ("acme:admin",))
    no_csrf = {k: v for k, v in settings_form(admin.csrf).items() if k != "csrf"}
    assert post_multipart(acme, "/console/t/acme/settings", admin_id, no_csrf).status_code == 403
    assert post_multipart(acme, f"{T}/rejection/ja", admin_id, template_form("wrong", "save", "s", "t")).status_code == 403
    assert stored(acme)["default"] is True
