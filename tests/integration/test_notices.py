"""Notices: one mail per rejection or exit, however often webhooks and queue messages repeat;
none for a reverted rejection, an opted-out address, an import or an old backlog."""
from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from freezegun import freeze_time

from chalicelib.adapters import resources
from integrations.sources import greenhouse, standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, load_fixture, sent_mail

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JSON = {**ADMIN, "Content-Type": "application/json"}


@pytest.fixture
def acme(client):
    connect(client, "acme", "standard", SECRET)
    assert client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps(SETTINGS)).status_code == 200
    return client


def message(kind, occurred_at, person="c-1", application="app-1", locale="ja", **data):
    body = {"type": kind, "data": {"person": {"id": person, "name": "山田 花子", "email": f"{person}@example.jp", "locale": locale},
                                   "application_id": application, "occurred_at": occurred_at,
                                   "job": {"id": "j1", "title": "バックエンドエンジニア"}, "stage": "一次面接", **data}}
    return json.dumps(body, ensure_ascii=False).encode()


def post(client, body, msg_id=None):
    answer = client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET, msg_id=msg_id), body=body)
    assert answer.status_code == 202, answer.body
    return answer


def now(minutes=0):
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def timeline(client, email="c-1@example.jp"):
    [person] = client.http.get(f"/admin/tenants/acme/people?email={email}", headers=ADMIN).json_body["people"]
    return [e["type"] for e in person["timeline"]]


def test_a_rejection_sends_one_notice_with_the_career_relay_link(acme):
    post(acme, message("candidate.rejected", now(-1)))
    drain()
    [mail] = sent_mail()
    assert mail["To"] == "c-1@example.jp" and "選考結果のご連絡" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    relay = re.search(r"https://hub\.example\.test/r/([\w.-]+)", text).group(1)
    assert relay.startswith("acme.") and len(relay.split(".", 1)[1]) >= 22  # 128+ bits, no personal data
    assert f"/r/{relay}" in html and "山田 花子 様" in text and "バックエンドエンジニア" in text
    # the sender block and one-click unsubscribe (特定電子メール法 Art. 4, RFC 8058)
    assert "サンプル株式会社" in text and "東京都千代田区" in text and "配信停止" in text
    assert re.match(r"<https://hub\.example\.test/u/acme\.[\w-]+>", mail["List-Unsubscribe"])
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert timeline(acme) == ["rejected", "notice_sent"]


def test_duplicate_webhooks_and_redelivered_messages_still_give_one_mail(acme):
    body = message("candidate.rejected", now(-1))
    for i in range(5):
        post(acme, body, msg_id=f"msg_{i % 2}")
    sqs, url = boto3.client("sqs"), os.environ[resources.queue_env("notices")]
    [queued] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=queued["ReceiptHandle"], VisibilityTimeout=0)
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=queued["Body"])  # the queue redelivers
    drain()
    acme.http.post("/admin/tenants/acme/jobs/poll_sources", headers=ADMIN)
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=queued["Body"])  # and again, after it was sent
    drain()
    assert len(sent_mail()) == 1
    assert timeline(acme).count("notice_sent") == 1


def test_a_rejection_reverted_before_the_notice_went_out_sends_nothing(acme):
    post(acme, message("candidate.rejected", now(-2)))
    post(acme, message("candidate.rejection_reverted", now(-1)))
    drain()
    assert sent_mail() == []
    assert timeline(acme) == ["rejected", "rejection_reverted"]


GREENHOUSE_SECRET = "gh-test-secret-7f3a"
DOCUMENTED_AT = "2015-02-11T15:50:41Z"  # rejected_at of the one and last_activity_at of the other


def greenhouse_pair(at: str) -> dict[str, bytes]:
    """Greenhouse's documented reject/unreject pair (tests/fixtures/sources/greenhouse/), moved to
    a recent instant (so the rejection earns a notice) and signed again; the tie is kept."""
    return {name: load_fixture(f"sources/greenhouse/{name}")["body"].replace(DOCUMENTED_AT, at).encode()
            for name in ("reject_candidate", "unreject_candidate")}


@pytest.mark.parametrize("order", [("reject_candidate", "unreject_candidate"), ("unreject_candidate", "reject_candidate")])
def test_greenhouses_documented_reject_unreject_pair_leaves_no_rejection_and_sends_nothing(acme, order):
    connect(acme, "acme", "greenhouse", GREENHOUSE_SECRET)
    bodies = greenhouse_pair(datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"))
    for name in order:
        body = bodies[name]
        answer = acme.http.post("/webhooks/acme/greenhouse", headers=greenhouse.sign(body, GREENHOUSE_SECRET), body=body)
        assert answer.status_code == 202, answer.body
    drain()
    assert sent_mail() == []
    [person] = acme.http.get("/admin/tenants/acme/people?email=hector.porter.265788@example.com", headers=ADMIN).json_body["people"]
    assert "rejected" not in person["roles"] and "applicant" in person["roles"]
    assert sorted(e["type"] for e in person["timeline"]) == ["rejected", "rejection_reverted"]


def test_rejected_again_after_a_reversal_is_announced_once(acme):
    post(acme, message("candidate.rejected", now(-3)))
    post(acme, message("candidate.rejection_reverted", now(-2)))
    post(acme, message("candidate.rejected", now(-1)))
    drain()
    assert len(sent_mail()) == 1


def test_an_exit_sends_an_alumni_farewell_in_the_persons_language(acme):
    post(acme, message("employee.exited", now(-1), person="e-1", application="emp-1", locale="en"))
    drain()
    [mail] = sent_mail()
    assert mail["Subject"] == "Thank you, from everyone at サンプル株式会社"
    assert "/r/acme." in mail.get_body(("plain",)).get_content()


def test_a_future_exit_is_announced_on_its_effective_date(acme, hub):
    effective = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    post(acme, message("employee.exited", effective.isoformat(), person="e-2", application="emp-2"))
    drain()
    assert sent_mail() == [] and hub.intake.release_notices() == 0
    with freeze_time(effective + timedelta(minutes=5)):
        assert hub.intake.release_notices() == 1
    drain()
    assert len(sent_mail()) == 1


def test_a_notice_lost_on_the_way_to_the_queue_is_released_by_the_sweeper(acme, hub):
    post(acme, message("candidate.rejected", now(-1)))
    sqs, url = boto3.client("sqs"), os.environ[resources.queue_env("notices")]
    sqs.purge_queue(QueueUrl=url)  # as if the send after the transaction had failed
    assert hub.intake.release_notices(grace_s=0) == 1
    drain()
    assert len(sent_mail()) == 1
    assert hub.intake.release_notices(grace_s=0) == 0


def test_candidates_who_declined_imports_and_old_backlogs_get_no_notice(acme):
    post(acme, message("candidate.rejected", now(-1), person="c-2", by_candidate=True))
    post(acme, message("candidate.rejected", (datetime.now(UTC) - timedelta(days=90)).isoformat(), person="c-3"))
    acme.http.post("/admin/tenants/acme/imports", headers={**ADMIN, "Content-Type": "text/csv"},
                   body=f"email,role,occurred_at\nold@example.jp,rejected,{now(-5)}\n".encode())
    drain()
    assert sent_mail() == []


def test_an_unsubscribed_address_is_never_mailed_again(acme):
    post(acme, message("candidate.rejected", now(-5), application="a1"))
    drain()
    unsubscribe = re.search(r"/u/([\w.-]+)>", sent_mail()[0]["List-Unsubscribe"]).group(1)
    assert acme.http.post(f"/u/{unsubscribe}", headers={"Content-Type": "application/x-www-form-urlencoded"},
                          body=b"List-Unsubscribe=One-Click").status_code == 200
    post(acme, message("candidate.rejected", now(-1), application="a2"))
    drain()
    assert len(sent_mail()) == 1
    assert timeline(acme)[-1] == "consent_withdrawn"


def test_a_tenant_without_mail_settings_keeps_the_notice_until_it_has_them(client, hub):
    connect(client, "beta", "standard", SECRET)
    body = message("candidate.rejected", now(-1))
    client.http.post("/webhooks/beta/standard", headers=standard.sign(body, SECRET), body=body)
    drain(rounds=3)
    assert sent_mail() == []
    client.http.put("/admin/tenants/beta/settings", headers=JSON, body=json.dumps(SETTINGS))
    assert hub.intake.release_notices(grace_s=0) == 1
    drain()
    assert len(sent_mail()) == 1


# -- templates and settings ---------------------------------------------------------------------

def test_a_tenant_template_without_the_link_placeholder_still_carries_the_link(acme):
    template = {"subject": "{{ company_name }}より", "text": "{{ person_name }}様\n\nご応募ありがとうございました。"}
    answer = acme.http.put("/admin/tenants/acme/templates/rejection/ja", headers=JSON, body=json.dumps(template))
    assert answer.status_code == 200 and answer.json_body["version"] == 1
    post(acme, message("candidate.rejected", now(-1)))
    drain()
    [mail] = sent_mail()
    assert mail["Subject"] == "サンプル株式会社より"
    assert re.search(r"/r/acme\.[\w-]+", mail.get_body(("plain",)).get_content())
    assert re.search(r'href="https://hub\.example\.test/r/acme\.[\w-]+"', mail.get_body(("html",)).get_content())


@pytest.mark.parametrize("template,needle", [
    ({"subject": "x", "text": "a\n{% if %}"}, "text, line 2"),
    ({"subject": "x", "text": "a\n\n{{ salary }}"}, "text, line 3: unknown variable 'salary'"),
    ({"subject": "{{ x.y }", "text": "a"}, "subject, line 1"),
    ({"subject": "x", "text": "a", "html": "<p>{{ nope }}</p>"}, "html, line 1: unknown variable 'nope'"),
    ({"subject": "x"}, "text must be"),
])
def test_bad_templates_are_refused_naming_the_line(acme, template, needle):
    answer = acme.http.put("/admin/tenants/acme/templates/rejection/ja", headers=JSON, body=json.dumps(template))
    assert answer.status_code == 400 and needle in answer.json_body["message"], answer.json_body


def test_templates_cannot_reach_python_internals(acme):
    template = {"subject": "x", "text": "{{ company_name.__class__.__mro__ }}"}
    answer = acme.http.put("/admin/tenants/acme/templates/rejection/ja", headers=JSON, body=json.dumps(template))
    assert answer.status_code == 400


@pytest.mark.parametrize("text,needle", [
    ("{% for a in range(3000) %}{% for b in range(3000) %}{% endfor %}{% endfor %}", "loops ran more than"),
    ("{{ 'x' * 2000000 }}", "longer than 1000000 characters"),
    ("{{ 'x' * 20000000 }}", "MB|CPU|longer than"),  # whichever limit it meets first on a busy machine
    ("{% include 'missing.j2' %}", "partials"),
    ("{% import 'pages/base.html.j2' as base %}", "partials"),
])
def test_runaway_templates_and_foreign_includes_are_400_at_put_and_preview(acme, text, needle):
    body = json.dumps({"subject": "x", "text": text})
    for path, send in (("/admin/tenants/acme/templates/rejection/ja", acme.http.put),
                       ("/admin/tenants/acme/templates/rejection/ja/preview", acme.http.post)):
        answer = send(path, headers=JSON, body=body)
        assert answer.status_code == 400 and re.search(needle, answer.json_body["message"]), answer.json_body


def test_a_template_failing_at_send_time_parks_its_notice_with_the_reason_and_others_still_go(acme, hub):
    """Stored before the limits (straight through the store): the notice fails, the batch goes on."""
    hub.configuration.put_template("acme", "rejection", "en", {"subject": "x", "text": "fine {{ relay_link }}"})
    hub.ports.config.put("acme", "template", ("rejection", "ja"), {"subject": "x", "text": "{{ 'x' * 20000000 }}"})
    post(acme, message("candidate.rejected", now(-1)))
    post(acme, message("candidate.rejected", now(-1), person="c-2", application="app-2", locale="en"))
    drain()
    assert [m["To"] for m in sent_mail()] == ["c-2@example.jp"]
    [person] = acme.http.get("/admin/tenants/acme/people?email=c-1@example.jp", headers=ADMIN).json_body["people"]
    export = acme.http.get(f"/admin/tenants/acme/people/{person['id']}/export", headers=ADMIN).json_body
    assert [(n["status"], n.get("reason")) for n in export["notices"]] == [("failed", "template_error")]


def test_html_templates_are_autoescaped(acme):
    acme.http.put("/admin/tenants/acme/templates/rejection/en", headers=JSON, body=json.dumps(
        {"subject": "Hi", "text": "Hi {{ person_name }}", "html": "<p>Hi {{ person_name }}</p>"}))
    preview = acme.http.post("/admin/tenants/acme/templates/rejection/en/preview", headers=JSON, body=b"").json_body
    assert "<p>Hi 山田 花子</p>" in preview["html"]
    body = message("candidate.rejected", now(-1), locale="en").replace("山田 花子".encode(), b"<script>x</script>")
    post(acme, body)
    drain()
    html = sent_mail()[0].get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_preview_renders_the_default_and_a_draft_without_storing(acme):
    default = acme.http.post("/admin/tenants/acme/templates/alumni_farewell/ja/preview", headers=JSON, body=b"").json_body
    assert "サンプル株式会社" in default["text"] and default["html"].startswith("<!doctype html>")
    draft = acme.http.post("/admin/tenants/acme/templates/rejection/en/preview", headers=JSON,
                           body=json.dumps({"subject": "S", "text": "Draft {{ relay_link }}"})).json_body
    assert draft["text"].startswith("Draft https://")
    assert acme.http.get("/admin/tenants/acme/templates/rejection/en", headers=ADMIN).json_body["default"] is True


@pytest.mark.parametrize("change,needle", [
    ({"sender_email": "not-mail"}, "sender_email"), ({"default_locale": "fr"}, "default_locale"),
    ({"mail_transport": "pigeon"}, "mail_transport"), ({"mail_transport": "smtp"}, "smtp"),
    ({"smtp": {"host": "bad host!", "port": 25}}, "smtp.host"), ({"company_name": ""}, "company_name"),
    ({"extra": 1}, "unknown fields"),
])
def test_bad_settings_are_400(acme, change, needle):
    answer = acme.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps({**SETTINGS, **change}))
    assert answer.status_code == 400 and needle in answer.json_body["message"]


def test_unknown_template_kind_or_locale_is_400(acme):
    assert acme.http.get("/admin/tenants/acme/templates/promo/ja", headers=ADMIN).status_code == 400
    assert acme.http.get("/admin/tenants/acme/templates/rejection/fr", headers=ADMIN).status_code == 400


def test_a_notice_that_fails_8_times_ends_failed_in_the_export_and_the_admin_requeues_it_once(client, hub):
    connect(client, "beta", "standard", SECRET)  # no mail settings yet: every send fails
    body = message("candidate.rejected", now(-1))
    answer = client.http.post("/webhooks/beta/standard", headers=standard.sign(body, SECRET), body=body)
    assert answer.status_code == 202
    for _ in range(3):  # the consumer fails it, the queue redelivers (then the sweep), until the 8th attempt decides it
        drain(rounds=30)
        with freeze_time(datetime.now(UTC) + timedelta(minutes=10)):
            hub.intake.release_notices()
    person = client.http.get("/admin/tenants/beta/people?email=c-1@example.jp", headers=ADMIN).json_body["people"][0]["id"]
    [notice] = client.http.get(f"/admin/tenants/beta/people/{person}/export", headers=ADMIN).json_body["notices"]
    assert (notice["status"], notice["attempts"], notice["reason"]) == ("failed", 8, "try_again")
    with freeze_time(datetime.now(UTC) + timedelta(minutes=10)):
        assert hub.intake.release_notices() == 0  # out of the outbox

    assert client.http.put("/admin/tenants/beta/settings", headers=JSON, body=json.dumps(SETTINGS)).status_code == 200
    requeue = f"/admin/tenants/beta/people/{person}/notices/requeue"
    assert client.http.post(requeue, headers=ADMIN).json_body == {"requeued": 1}
    assert client.http.post(requeue, headers=ADMIN).json_body == {"requeued": 0}
    with freeze_time(datetime.now(UTC) + timedelta(minutes=10)):
        assert hub.intake.release_notices() == 1
    drain()
    assert len(sent_mail()) == 1
