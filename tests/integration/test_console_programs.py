"""The console's agencies (the ledger explained), segments, campaigns and KPI screens through the app
(Chalice test client, DynamoDB in moto): the bar-style run of 25 consents explained slot by slot,
using a slot (admin, audited, refused to a viewer, without CSRF, on another tenant), the segment
editor (count, errors at their position, save), pause and resume, and the KPI CSV equal to GET .../kpis."""
from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import urlencode

from chalicelib.domain.referrals import Agency
from tests.conftest import ADMIN
from tests.integration.test_console import FORM, session_for
from tests.integration.test_console_admin import audit_of

JSON = {**ADMIN, "Content-Type": "application/json"}
SANDBOX = {"slug": "sandbox", "name": "サンドボックス紹介", "legal_name": "Sandbox Agency K.K.", "country": "JP",
           "endpoint": "https://agency.example.jp/referrals", "auth_type": "standard_webhooks",
           "data_items": ["name", "email"], "batch_size": 10, "referrals_per_slot": 10}


def seed_programs(client, hub, tenant: str = "acme") -> None:
    """An agency (its configuration written as the service stores it), a segment and a campaign, so
    the console's {agency}, {segment} and {campaign} routes have something to show."""
    hub.ports.config.put(tenant, "agency", ("sandbox",), Agency.from_json(SANDBOX).to_json())
    assert client.http.put(f"/admin/tenants/{tenant}/segments/engineers", headers=JSON,
                           body=json.dumps({"expression": "tag:engineer"})).status_code == 200
    answer = client.http.put(f"/admin/tenants/{tenant}/campaigns/yearly", headers=JSON, body=json.dumps(
        {"segment": "engineers", "template_kind": "nurture", "cadence": {"every": "year", "on": "rejection"}}))
    assert answer.status_code == 200, answer.body


def get(client, path: str, session_id: str):
    return client.http.get(path, headers={"Cookie": f"__Host-hub-session={session_id}"})


def post(client, path: str, session_id: str, fields: dict[str, str]):
    return client.http.post(path, headers={"Cookie": f"__Host-hub-session={session_id}", **FORM}, body=urlencode(fields))


# -- agencies: the ledger explained ---------------------------------------------------------------------

def test_the_ledger_screen_explains_every_slot_of_the_bar_style_run_of_25_consents(acme, agency, hub):
    from tests.integration.test_agency_batches import candidates, configure, decide, run

    configure(acme, agency)
    for token in candidates(acme, 25).values():
        decide(acme, token, relay="yes")
    assert run(acme)[0]["accepted"] == 25
    api = acme.http.get("/admin/tenants/acme/agencies/sandbox/ledger", headers=ADMIN).json_body
    slots = [e for e in api["entries"] if e["type"] == "slot_earned"]
    assert [(s["earned_by"]["first"], s["earned_by"]["last"]) for s in slots] == [(1, 10), (11, 20)]
    assert [[r["n"] for r in s["earned_by"]["referrals"]] for s in slots] == [list(range(1, 11)), list(range(11, 21))]
    assert all(s["earned_by"]["unnamed"] == 0 for s in slots)
    progress = api["toward_next_slot"]
    assert (progress["since_last_slot"], progress["still_needed"], len(progress["pending"])) == (5, 5, 5)
    ids = [r["referral_id"] for s in slots for r in s["earned_by"]["referrals"]] + [r["referral_id"] for r in progress["pending"]]
    assert len(set(ids)) == 25  # every accepted referral named once

    session_id, _ = session_for(hub, ("acme:viewer",))
    html = get(acme, "/console/t/acme/agencies/sandbox", session_id).body.decode()
    for slot in slots:
        block = re.search(rf'<li class="slot" id="slot-{slot["accepted_total"]}">(.*?)</li>\n', html, re.S).group(1)
        first, last = slot["earned_by"]["first"], slot["earned_by"]["last"]
        assert f"受理 {first}〜{last} 件目の紹介で獲得" in block
        assert re.findall(r'<li class="ref" value="(\d+)"><code>([\w]+)</code>', block) == [
            (str(r["n"]), r["referral_id"]) for r in slot["earned_by"]["referrals"]]
    assert 'id="n-earned">2<' in html and 'id="n-accepted">25<' in html and "あと 5 件（受理 5 / 10 件）" in html
    assert len(re.findall(r'<li class="ref"', re.search(r'id="pending">(.*?)</details>', html, re.S).group(1))) == 5
    assert "枠を使えるのは管理者です。" in html and 'id="use-slot"' not in html  # a viewer reads, does not act
    batches = re.search(r'<table class="stacked" id="batches">(.*?)</table>', html, re.S).group(1)
    assert batches.count("<tr>") == 4 and "完了" in batches  # header + 3 batches of 10, 10, 5

    listed = get(acme, "/console/t/acme/agencies?lang=en", session_id).body.decode()
    assert "Running" in listed and 'class="balance">2<' in listed


def test_an_admin_uses_a_slot_with_a_reason_audited_and_a_viewer_cannot(client, hub):
    seed_programs(client, hub)
    hub.ports.referrals.save_state("acme", "sandbox", 0, None)
    admin_id, admin = session_for(hub, ("acme:admin",))
    viewer_id, viewer = session_for(hub, ("acme:viewer",))
    # no slot yet: the page says so (409), nothing recorded
    none = post(client, "/console/t/acme/agencies/sandbox/slots/use", admin_id, {"csrf": admin.csrf, "note": "面談枠"})
    assert none.status_code == 409 and "使える枠がありません" in none.body.decode()
    from chalicelib.adapters.dynamo.transaction import Transaction
    from chalicelib.domain import counters

    with Transaction() as tx:  # two slots earned, as a settle would have counted them
        tx.add_ledger("acme", "sandbox", {counters.LEDGER_ACCEPTED: 20, counters.LEDGER_SLOTS_EARNED: 2})
    assert post(client, "/console/t/acme/agencies/sandbox/slots/use", viewer_id,
                {"csrf": viewer.csrf, "note": "x"}).status_code == 403
    assert post(client, "/console/t/acme/agencies/sandbox/slots/use", admin_id, {"note": "x"}).status_code == 403  # no CSRF
    empty = post(client, "/console/t/acme/agencies/sandbox/slots/use", admin_id, {"csrf": admin.csrf, "note": " "})
    assert empty.status_code == 400 and "理由を入力してください" in empty.body.decode()
    done = post(client, "/console/t/acme/agencies/sandbox/slots/use?lang=en", admin_id, {"csrf": admin.csrf, "note": "面談枠"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/console/t/acme/agencies/sandbox?done=used&lang=en")
    ledger = client.http.get("/admin/tenants/acme/agencies/sandbox/ledger", headers=ADMIN).json_body
    assert ledger["slot_balance"] == 1
    [used] = [e for e in ledger["entries"] if e["type"] == "slot_used"]
    assert used["note"] == "面談枠" and used["by"] == admin.identity.actor
    assert [(e["action"], e["who"], e["target"]) for e in audit_of(hub) if e["who"].startswith("user:")] == [
        ("slot.use", admin.identity.actor, "sandbox")]
    page = get(client, "/console/t/acme/agencies/sandbox?done=used", admin_id).body.decode()
    assert "枠を 1 つ使いました。" in page and "面談枠" in page
    other_id, other = session_for(hub, ("globex:admin",))
    assert get(client, "/console/t/acme/agencies/sandbox", other_id).status_code == 403
    assert post(client, "/console/t/acme/agencies/sandbox/slots/use", other_id,
                {"csrf": other.csrf, "note": "x"}).status_code == 403
    assert get(client, "/console/t/acme/agencies/nobody", admin_id).status_code == 404


def test_a_paused_agency_says_until_when_and_why(client, hub):
    seed_programs(client, hub)
    hub.ports.referrals.save_state("acme", "sandbox", 3, "2999-01-01T00:00:00Z")
    session_id, _ = session_for(hub, ("acme:viewer",))
    listed = get(client, "/console/t/acme/agencies", session_id).body.decode()
    assert "一時停止中" in listed and "2999-01-01 00:00 まで停止: 送信の失敗が続いたため（連続 3 回）" in listed
    page = get(client, "/console/t/acme/agencies/sandbox", session_id).body.decode()
    assert 'id="paused-why"' in page and "sandbox" in page and "r-" in page  # the consent version shown


# -- segments ----------------------------------------------------------------------------------------

def tagged(client, n: int) -> None:
    from tests.integration.test_people_admin import person_id, webhook

    for i in range(1, n + 1):
        webhook(client, i)
        client.http.patch(f"/admin/tenants/acme/people/{person_id(client, f'c-{i}@example.jp')}", headers=JSON,
                          body=json.dumps({"add": ["engineer"]}))


def test_the_segment_editor_counts_shows_the_first_members_points_at_errors_and_saves(acme, hub):
    tagged(acme, 3)
    editor_id, editor = session_for(hub, ("acme:editor",))
    counted = post(acme, "/console/t/acme/segments", editor_id,
                   {"csrf": editor.csrf, "op": "count", "segment": "eng", "expression": "tag:engineer"})
    html = counted.body.decode()
    assert counted.status_code == 200 and "いま 3 人が該当します" in html and html.count('/console/t/acme/people/') == 3
    assert hub.nurture.list_segments("acme", {})["segments"] == []  # nothing saved by a count
    bad = post(acme, "/console/t/acme/segments", editor_id,
               {"csrf": editor.csrf, "op": "save", "segment": "eng", "expression": "tag:engineer AND colour:blue"})
    page = bad.body.decode()
    assert bad.status_code == 400 and 'aria-invalid="true"' in page and "18 文字目" in page and "colour" in page
    assert re.search(r'<div class="caret" aria-hidden="true">tag:engineer AND colour:blue\n {17}\^</div>', page)
    assert hub.nurture.list_segments("acme", {})["segments"] == []
    saved = post(acme, "/console/t/acme/segments", editor_id,
                 {"csrf": editor.csrf, "op": "save", "segment": "eng", "expression": "tag:engineer", "description": "技術職"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/console/t/acme/segments/eng?done=saved")
    viewer_id, viewer = session_for(hub, ("acme:viewer",))
    one = get(acme, "/console/t/acme/segments/eng?done=saved", viewer_id).body.decode()
    assert "保存しました。" in one and "いま 3 人が該当します" in one and 'method="get"' in one and 'id="save"' not in one
    typed = get(acme, "/console/t/acme/segments/eng?" + urlencode({"expression": "tag:engineer AND NOT tag:engineer"}), viewer_id)
    assert typed.status_code == 200 and "いま 0 人が該当します" in typed.body.decode()
    listed = get(acme, "/console/t/acme/segments?lang=en", viewer_id).body.decode()
    assert "People: 3" in listed and "tag:engineer" in listed
    assert post(acme, "/console/t/acme/segments", viewer_id, {"csrf": viewer.csrf, "segment": "x",
                                                              "expression": "tag:a"}).status_code == 403
    assert post(acme, "/console/t/acme/segments", editor_id, {"segment": "x", "expression": "tag:a"}).status_code == 403
    actions = [(e["action"], e["who"]) for e in audit_of(hub) if e["who"].startswith("user:")]
    assert ("segment.change", editor.identity.actor) in actions and ("segment.members", viewer.identity.actor) in actions


# -- campaigns ---------------------------------------------------------------------------------------

def test_campaigns_show_cadence_sends_and_skips_and_an_editor_pauses_and_resumes(client, hub):
    seed_programs(client, hub)
    from chalicelib.adapters.dynamo.transaction import Transaction
    from chalicelib.domain import counters

    with Transaction() as tx:
        tx.count("acme", "2026-01-05T00:00:00Z", {counters.campaign("yearly", "sent"): 4,
                                                  counters.campaign_skipped("yearly", "suppressed"): 2})
    viewer_id, viewer = session_for(hub, ("acme:viewer",))
    page = get(client, "/console/t/acme/campaigns", viewer_id).body.decode()
    assert "毎年（不採用の日）" in page and 'class="sent">4<' in page and "配信停止リスト <code>suppressed</code>: 2" in page
    assert "1 日 1 回" in page and "/pause" not in page  # a viewer reads only
    assert post(client, "/console/t/acme/campaigns/yearly/pause", viewer_id, {"csrf": viewer.csrf}).status_code == 403
    editor_id, editor = session_for(hub, ("acme:editor",))
    assert post(client, "/console/t/acme/campaigns/yearly/pause", editor_id, {}).status_code == 403  # no CSRF
    paused = post(client, "/console/t/acme/campaigns/yearly/pause", editor_id, {"csrf": editor.csrf})
    assert paused.status_code == 303
    assert client.http.get("/admin/tenants/acme/campaigns/yearly", headers=ADMIN).json_body["active"] is False
    shown = get(client, "/console/t/acme/campaigns/yearly?done=paused", editor_id).body.decode()
    assert "一時停止しました。" in shown and "/resume" in shown
    assert post(client, "/console/t/acme/campaigns/yearly/resume", editor_id, {"csrf": editor.csrf}).status_code == 303
    assert client.http.get("/admin/tenants/acme/campaigns/yearly", headers=ADMIN).json_body["active"] is True
    assert [e["action"] for e in audit_of(hub) if e["who"] == editor.identity.actor] == ["campaign.change"] * 2
    assert get(client, "/console/t/acme/campaigns/none", editor_id).status_code == 404


# -- KPIs --------------------------------------------------------------------------------------------

def unneutralised(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def test_the_kpi_screens_csv_matches_get_kpis_for_the_same_period(acme, hub):
    from chalicelib.handlers.console_kpis import flatten
    from tests.integration.test_people_admin import webhook

    for i in range(3):
        webhook(acme, i)  # three rejections: day counters
    session_id, _ = session_for(hub, ("acme:viewer",))
    page = get(acme, "/console/t/acme/kpis", session_id).body.decode()
    link = re.search(r'id="csv" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    period = dict(re.findall(r"(from|to)=([\d-]+)", link))
    api = acme.http.get(f"/admin/tenants/acme/kpis?from={period['from']}&to={period['to']}", headers=ADMIN).json_body
    assert (api["from"], api["to"]) == (period["from"], period["to"]) and len(api["series"]) == 30  # the last 30 local days
    answer = get(acme, link, session_id)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.body.decode().lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "date" and len(body) == len(api["series"])
    for row, day in zip(body, api["series"], strict=True):
        flat = flatten(day)
        assert [unneutralised(c) for c in row] == ["" if flat[name] is None else str(flat[name]) for name in header]
    assert any(int(row[header.index("people.rejected")]) for row in body)  # the rejections are in it


def test_the_kpi_screen_cuts_by_source_and_refuses_a_bad_period_with_a_page(acme, hub):
    from tests.integration.test_people_admin import webhook

    webhook(acme, 2)
    session_id, _ = session_for(hub, ("acme:viewer",))
    cut = get(acme, "/console/t/acme/kpis?by=source&lang=en", session_id)
    html = cut.body.decode()
    assert cut.status_code == 200 and 'id="cuts"' in html and "<code>standard</code>" in html and "<svg" in html
    assert "Asia/Tokyo" in html or "UTC" in html
    bad = get(acme, "/console/t/acme/kpis?from=2026-13-01", session_id)
    assert bad.status_code == 400 and "期間を確認してください" in bad.body.decode()
    other_id, _ = session_for(hub, ("globex:admin",))
    assert get(acme, "/console/t/acme/kpis", other_id).status_code == 403
    assert get(acme, "/console/t/acme/kpis.csv", other_id).status_code == 403
