"""The console's 関係プール and 人物 screens through the app (Chalice test client, DynamoDB in moto):
search with Japanese folding, paging, bulk tags and their audit entries, the person's tags,
export, CSV and erasure, and the refusals (role, CSRF, another tenant, a wrong confirmation)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from integrations.sources import standard
from tests.conftest import ADMIN
from tests.integration.conftest import SECRET
from tests.integration.test_console import FORM, session_for

PEOPLE = "/console/t/acme/people"


def seed(client, key: str, *, name: str, email: str | None = None, phone: str | None = None, tags=(),
         family=None, given=None, family_kana=None, given_kana=None, kind: str = "candidate.rejected",
         stage: str | None = None) -> str:
    """A person of acme through the signed webhook; their id."""
    person = {"id": key, "name": name, "email": email or f"{key}@example.jp"}
    person.update({k: v for k, v in (("phone", phone), ("family_name", family), ("given_name", given),
                                     ("family_kana", family_kana), ("given_kana", given_kana)) if v})
    data = {"person": person, "application_id": f"a-{key}", "job": {"id": "j", "title": "エンジニア"},
            "occurred_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(), "tags": list(tags)}
    if stage:
        data["stage"] = stage
    body = json.dumps({"type": kind, "data": data}, ensure_ascii=False).encode()
    answer = client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)
    assert answer.status_code == 202, answer.body
    [found] = client.http.get(f"/admin/tenants/acme/people?email={person['email']}", headers=ADMIN).json_body["people"]
    if tags:  # the standard source sends no tags: as HR would, through the admin API
        client.http.patch(f"/admin/tenants/acme/people/{found['id']}", headers={**ADMIN, "Content-Type": "application/json"},
                          body=json.dumps({"add": list(tags)}))
    return found["id"]


def get(client, path: str, session_id: str):
    return client.http.get(path, headers={"Cookie": f"__Host-hub-session={session_id}"})


def post(client, path: str, session_id: str, fields: list[tuple[str, str]]):
    return client.http.post(path, headers={"Cookie": f"__Host-hub-session={session_id}", **FORM}, body=urlencode(fields))


def audit(client) -> list[dict]:
    return client.http.get("/admin/tenants/acme/audit?limit=100", headers=ADMIN).json_body["entries"]


@pytest.fixture
def people(acme):
    return {
        "yamada": seed(acme, "y1", name="やまだ はなこ", family="やまだ", given="はなこ", tags=["engineer"]),
        "takahashi": seed(acme, "t1", name="髙橋 一郎", family="髙橋", given="一郎", family_kana="タカハシ",
                          given_kana="イチロウ", phone="090-1234-5678", tags=["engineer"], stage="一次面接"),
        "formula": seed(acme, "f1", name="=HYPERLINK(\"http://x\")", tags=["engineer"]),
    }


def test_the_pool_finds_people_by_folded_names_readings_phone_and_tag(acme, hub, people):
    session_id, _ = session_for(hub, ("acme:viewer",))
    page = get(acme, f"{PEOPLE}?q=ヤマダ", session_id)
    assert page.status_code == 200 and people["yamada"] in page.body.decode()  # katakana finds hiragana
    page = get(acme, f"{PEOPLE}?q=高橋", session_id).body.decode()
    assert people["takahashi"] in page and people["yamada"] not in page  # 高橋 finds 髙橋
    assert people["takahashi"] in get(acme, f"{PEOPLE}?q=たかはし", session_id).body.decode()  # the reading
    assert people["takahashi"] in get(acme, f"{PEOPLE}?q=０９０－１２３４－５６７８", session_id).body.decode()  # phone
    assert people["yamada"] in get(acme, f"{PEOPLE}?q=y1@example.jp", session_id).body.decode()
    tagged = get(acme, f"{PEOPLE}?tag=engineer&role=rejected", session_id).body.decode()
    assert all(pid in tagged for pid in people.values()) and 'id="count"' in tagged and "3件" in tagged
    assert 'id="bulk"' not in tagged and 'id="csv"' not in tagged  # a viewer: no bulk form, no CSV
    assert "tag:&#34;engineer&#34; AND role:&#34;rejected&#34;" not in tagged  # the expression is for editors
    english = get(acme, f"{PEOPLE}?tag=engineer&lang=en", session_id).body.decode()
    assert "3 found" in english and "People pool" in english
    assert [e["action"] for e in audit(acme)][:1] == ["people.search"]


def test_the_phone_filter_of_the_admin_api_reads_the_digest_term(acme, people):
    answer = acme.http.get("/admin/tenants/acme/people?phone=%2B81%2090-1234-5678", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    found = answer.json_body["people"]
    assert [p["id"] for p in found] == [people["takahashi"]]
    assert acme.http.get("/admin/tenants/acme/people?phone=090-8765-4321", headers=ADMIN).json_body["people"] == []
    assert acme.http.get("/admin/tenants/acme/people?phone=abc", headers=ADMIN).status_code == 400


def test_pages_follow_the_cursor(acme, hub, people, monkeypatch):
    from chalicelib.handlers import console_people

    monkeypatch.setattr(console_people, "PAGE_SIZE", 2)
    session_id, _ = session_for(hub, ("acme:viewer",))
    first = get(acme, f"{PEOPLE}?tag=engineer", session_id).body.decode()
    assert "2件" in first and 'id="next"' in first
    link = first.split('id="next" rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = get(acme, link, session_id).body.decode()
    assert "1件" in second and 'id="next"' not in second
    shown = [pid for pid in people.values() if pid in first] + [pid for pid in people.values() if pid in second]
    assert sorted(shown) == sorted(people.values())


def test_bulk_tags_go_through_the_tag_service_with_one_audit_entry_per_person(acme, hub, people):
    session_id, session = session_for(hub, ("acme:editor",))
    chosen = [people["yamada"], people["takahashi"]]
    fields = [("csrf", session.csrf), ("op", "add"), ("tag", "Alumni-2024"), ("back", "tag=engineer"),
              *[("id", pid) for pid in chosen]]
    answer = post(acme, PEOPLE, session_id, fields)
    assert answer.status_code == 303 and answer.headers["Location"] == f"{PEOPLE}?tag=engineer&tagged=2"
    for pid in chosen:
        assert "alumni-2024" in acme.http.get(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).json_body["tags"]
    entries = [e for e in audit(acme) if e["action"] == "person.tags" and e["who"].startswith("user:")]
    assert sorted(e["target"] for e in entries) == sorted(chosen)  # one each, by the signed-in user
    assert {e["who"] for e in entries} == {f"user:{session.identity.subject}"}
    removed = post(acme, PEOPLE, session_id, [("csrf", session.csrf), ("op", "remove"), ("tag", "alumni-2024"),
                                              ("id", people["yamada"])])
    assert removed.status_code == 303
    assert "alumni-2024" not in acme.http.get(f"/admin/tenants/acme/people/{people['yamada']}", headers=ADMIN).json_body["tags"]
    bad = post(acme, PEOPLE, session_id, [("csrf", session.csrf), ("op", "add"), ("tag", "a#b"), ("id", people["yamada"])])
    assert bad.status_code == 400 and "role=\"alert\"" in bad.body.decode()
    none = post(acme, PEOPLE, session_id, [("csrf", session.csrf), ("op", "add"), ("tag", "x")])
    assert none.status_code == 400 and "チェック" in none.body.decode()


def test_the_person_page_speaks_plainly_and_edits_tags(acme, hub, people):
    session_id, session = session_for(hub, ("acme:editor",))
    pid = people["takahashi"]
    page = get(acme, f"{PEOPLE}/{pid}", session_id)
    html = page.body.decode()
    assert page.status_code == 200
    assert "髙橋 一郎" in html and "タカハシ イチロウ" in html and "+819012345678" in html
    assert "不採用（一次面接）" in html and "年" in html and "月" in html  # 「2024年4月1日 不採用（一次面接）」
    assert 'id="export"' not in html and 'id="erase"' not in html  # an editor: no export, no erasure
    english = get(acme, f"{PEOPLE}/{pid}?lang=en", session_id).body.decode()
    assert "Not selected (一次面接)" in english
    answer = post(acme, f"{PEOPLE}/{pid}/tags", session_id, [("csrf", session.csrf), ("add", "Python、 go")])
    assert answer.status_code == 303 and answer.headers["Location"] == f"{PEOPLE}/{pid}"
    tags = acme.http.get(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).json_body["tags"]
    assert {"python", "go", "engineer"} <= set(tags)
    post(acme, f"{PEOPLE}/{pid}/tags", session_id, [("csrf", session.csrf), ("remove", "go")])
    assert "go" not in acme.http.get(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).json_body["tags"]
    [entry, *_] = [e for e in audit(acme) if e["action"] == "person.tags"]
    assert (entry["target"], entry["who"]) == (pid, f"user:{session.identity.subject}")
    assert post(acme, f"{PEOPLE}/{pid}/tags", session_id, [("add", "x")]).status_code == 403  # no CSRF
    assert post(acme, f"{PEOPLE}/{pid}/tags", session_id, [("csrf", session.csrf), ("add", "")]).status_code == 400


def test_a_viewer_may_not_export_download_csv_erase_merge_or_tag(acme, hub, people):
    session_id, session = session_for(hub, ("acme:viewer",))
    pid = people["yamada"]
    assert get(acme, f"{PEOPLE}/{pid}/export", session_id).status_code == 403
    assert get(acme, "/console/t/acme/people.csv?tag=engineer", session_id).status_code == 403
    for action, fields in (("erase", [("confirm", pid)]), ("merge", [("other", people["formula"])]), ("tags", [("add", "x")])):
        refused = post(acme, f"{PEOPLE}/{pid}/{action}", session_id, [("csrf", session.csrf), *fields])
        assert refused.status_code == 403 and "権限がありません" in refused.body.decode()
    editor_id, editor = session_for(hub, ("acme:editor",))
    assert get(acme, f"{PEOPLE}/{pid}/export", editor_id).status_code == 403
    assert post(acme, f"{PEOPLE}/{pid}/erase", editor_id, [("csrf", editor.csrf), ("confirm", pid)]).status_code == 403
    assert acme.http.get(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).status_code == 200  # still there


def test_another_tenants_admin_and_a_missing_csrf_token_are_refused(acme, hub, people):
    other_id, other = session_for(hub, ("globex:admin",))
    pid = people["yamada"]
    assert get(acme, f"{PEOPLE}?q=やまだ", other_id).status_code == 403
    assert get(acme, f"{PEOPLE}/{pid}", other_id).status_code == 403
    assert get(acme, f"{PEOPLE}/{pid}/export", other_id).status_code == 403
    assert post(acme, f"{PEOPLE}/{pid}/erase", other_id, [("csrf", other.csrf), ("confirm", pid)]).status_code == 403
    admin_id, admin = session_for(hub, ("acme:admin",))
    assert post(acme, PEOPLE, admin_id, [("op", "add"), ("tag", "x"), ("id", pid)]).status_code == 403
    assert post(acme, f"{PEOPLE}/{pid}/erase", admin_id, [("confirm", pid)]).status_code == 403
    assert post(acme, f"{PEOPLE}/{pid}/erase", admin_id, [("csrf", other.csrf), ("confirm", pid)]).status_code == 403
    assert acme.http.get(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).status_code == 200


def test_an_admin_exports_downloads_csv_and_erases_with_a_typed_confirmation(acme, hub, people):
    session_id, session = session_for(hub, ("acme:admin",))
    pid = people["yamada"]
    exported = get(acme, f"{PEOPLE}/{pid}/export", session_id)
    assert exported.status_code == 200 and f'filename="{pid}.json"' in exported.headers["Content-Disposition"]
    document = json.loads(exported.body)
    assert document["person"]["id"] == pid and set(document) >= {"timeline", "notices", "provisions"}
    csv = get(acme, "/console/t/acme/people.csv?tag=engineer", session_id)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    text = csv.body.decode("utf-8")
    assert text.startswith("\ufeffid,name,email") and "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
    assert get(acme, "/console/t/acme/people.csv", session_id).status_code == 400  # no search: says what to give

    wrong = post(acme, f"{PEOPLE}/{pid}/erase", session_id, [("csrf", session.csrf), ("confirm", "delete")])
    assert wrong.status_code == 400
    assert f"ID「{pid}」または「削除」と入力してください" in wrong.body.decode()
    assert acme.http.get(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).status_code == 200

    done = post(acme, f"{PEOPLE}/{pid}/erase", session_id, [("csrf", session.csrf), ("confirm", "削除")])
    html = done.body.decode()
    assert done.status_code == 200 and "削除しました" in html and "残したもの" in html and pid in html
    assert acme.http.get(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).status_code == 404
    assert get(acme, f"{PEOPLE}/{pid}", session_id).status_code == 404
    actions = {(e["action"], e.get("target")) for e in audit(acme) if e["who"] == f"user:{session.identity.subject}"}
    assert {("person.export", pid), ("person.erase", pid), ("people.search", None)} <= actions

    other = people["takahashi"]
    by_id = post(acme, f"{PEOPLE}/{other}/erase?lang=en", session_id, [("csrf", session.csrf), ("confirm", other)])
    assert by_id.status_code == 200 and "Erased" in by_id.body.decode()


def test_a_saved_segment_filters_the_pool_and_segments_take_no_members_by_hand(acme, hub, people):
    answer = acme.http.put("/admin/tenants/acme/segments/engineers", headers={**ADMIN, "Content-Type": "application/json"},
                           body=json.dumps({"expression": "tag:engineer AND NOT tag:python"}))
    assert answer.status_code == 200, answer.body
    admin_id, admin = session_for(hub, ("acme:admin",))
    post(acme, f"{PEOPLE}/{people['takahashi']}/tags", admin_id, [("csrf", admin.csrf), ("add", "python")])
    session_id, _ = session_for(hub, ("acme:editor",))
    html = get(acme, f"{PEOPLE}?segment=engineers", session_id).body.decode()
    assert people["yamada"] in html and people["takahashi"] not in html
    assert "人を個別に追加することはできません" in html
    missing = get(acme, f"{PEOPLE}?segment=nope", session_id)
    assert missing.status_code == 400 and "nope" in missing.body.decode()
    assert 'tag:&#34;engineer&#34;' in get(acme, f"{PEOPLE}?tag=engineer", session_id).body.decode()
