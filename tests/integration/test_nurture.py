"""Nurture through the whole hub: segments and campaigns over the admin API, the nurture job reading
only what is due, mail only to people who opted in (and never more than one per interval, however
often the job or the queue repeats), opt-outs stopping the next send, and re-applications moving
the KPIs. In-process moto for DynamoDB, SQS and SES; nothing of ours is mocked."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from freezegun import freeze_time

from chalicelib.domain.events import iso
from integrations.sources import standard
from tests.conftest import ADMIN, SETTINGS, connect, drain, sent_mail

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JSON = {**ADMIN, "Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NOW = datetime.now(UTC).replace(microsecond=0)
SEGMENT = "role:rejected AND tag:engineer AND rejected_within:365d AND NOT tag:do-not-contact"


@pytest.fixture
def acme(client):
    connect(client, "acme", "standard", SECRET)
    assert client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps(SETTINGS)).status_code == 200
    return client


def post_fact(client, kind, who, at, application="a1", locale="ja"):
    body = json.dumps({"type": kind, "data": {
        "person": {"id": who, "name": f"{who} さん", "email": f"{who}@example.jp", "locale": locale},
        "application_id": application, "occurred_at": at.isoformat(), "stage": "一次面接"}}, ensure_ascii=False).encode()
    answer = client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)
    assert answer.status_code == 202, answer.body


def profile(client, who):
    [found] = client.http.get(f"/admin/tenants/acme/people?email={who}@example.jp", headers=ADMIN).json_body["people"]
    return found


def someone(client, hub, who, *, rejected=None, exited=None, tags=("engineer",), opted_in=True):
    """A person known from a rejection or an exit (moments), tagged, who opted in to news of openings."""
    if rejected:
        post_fact(client, "candidate.rejected", who, rejected)
    if exited:
        post_fact(client, "employee.exited", who, exited, application="emp")
    person_id = profile(client, who)["id"]
    if tags:
        answer = client.http.patch(f"/admin/tenants/acme/people/{person_id}", headers=JSON, body=json.dumps({"add": list(tags)}))
        assert answer.status_code == 200, answer.body
    if opted_in:  # as the Career Relay page records it
        hub.ports.relations.record_decision("acme", person_id, {"relay": False, "openings": True}, at=NOW - timedelta(days=1),
                                      version="ja-test", score=None, token_ref=None, agencies={})
    return person_id


def put(client, path, body):
    return client.http.put(f"/admin/tenants/acme/{path}", headers=JSON, body=json.dumps(body))


def campaign(client, name, segment="engineers", cadence=None, kind="nurture"):
    answer = put(client, f"campaigns/{name}", {"segment": segment, "template_kind": kind,
                                               "cadence": cadence or {"after": "rejection", "days": 180}})
    assert answer.status_code == 200, answer.body
    return answer.json_body


def job(client):
    answer = client.http.post("/admin/tenants/acme/jobs/nurture", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def nurture_mail(to=None):
    return [m for m in sent_mail() if "募集" in m["Subject"] and (to is None or m["To"] == to)]


def days_ago(days, hours=0):
    return NOW - timedelta(days=days, hours=hours)


# -- segments and campaigns ----------------------------------------------------------------------

def test_a_segment_is_saved_and_counted_through_the_index(acme, hub):
    someone(acme, hub, "in-1", rejected=days_ago(200))
    someone(acme, hub, "in-2", rejected=days_ago(20), opted_in=False)  # counted: membership is not consent
    someone(acme, hub, "dnc", rejected=days_ago(200), tags=("engineer", "do-not-contact"))
    someone(acme, hub, "old", rejected=days_ago(400))
    someone(acme, hub, "sales", rejected=days_ago(200), tags=("sales",))
    someone(acme, hub, "alum", exited=days_ago(100))
    saved = put(acme, "segments/engineers", {"expression": SEGMENT})
    assert saved.status_code == 200 and saved.json_body["read_through"] == ["tag:engineer"]
    answer = acme.http.get("/admin/tenants/acme/segments/engineers", headers=ADMIN)
    assert answer.status_code == 200
    assert answer.json_body == {"segment": "engineers", "expression": SEGMENT, "count": 2, "complete": True,
                                "description": None}
    put(acme, "segments/everyone", {"expression": "role:rejected OR (role:alumni AND exited_within:365d)"})
    assert acme.http.get("/admin/tenants/acme/segments/everyone", headers=ADMIN).json_body["count"] == 6


@pytest.mark.parametrize("body,needle", [
    ({"expression": "role:rejected AND"}, "position 18: expected a term"),
    ({"expression": "role:rejected AND (tag:a OR tag:b"}, "position 34: expected ')'"),
    ({"expression": "role:rejected AND colour:blue"}, "position 19: unknown field 'colour'"),
    ({"expression": "rejected_within:30d"}, "position 1: every alternative"),
    ({"expression": "NOT tag:x OR tag:y"}, "position 5: every alternative"),
    ({"expression": ""}, "expression must be"),
    ({"expression": 7}, "expression must be"),
    ({"expression": "tag:a", "extra": 1}, "unknown fields"),
])
def test_bad_segments_are_400_naming_the_position(acme, body, needle):
    answer = put(acme, "segments/engineers", body)
    assert answer.status_code == 400 and set(answer.json_body) == {"error", "message"}
    assert needle in answer.json_body["message"], answer.json_body


def test_unknown_segments_and_campaigns_are_404_and_bad_names_400(acme):
    assert acme.http.get("/admin/tenants/acme/segments/nope", headers=ADMIN).status_code == 404
    assert acme.http.get("/admin/tenants/acme/campaigns/nope", headers=ADMIN).status_code == 404
    assert acme.http.get("/admin/tenants/acme/segments/Bad%20Name", headers=ADMIN).status_code == 400
    assert put(acme, "segments/Bad%20Name", {"expression": "tag:a"}).status_code == 400


@pytest.mark.parametrize("body,needle", [
    ({"segment": "engineers", "template_kind": "promo", "cadence": {"after": "rejection", "days": 180}}, "template_kind"),
    ({"segment": "missing", "template_kind": "nurture", "cadence": {"after": "rejection", "days": 180}}, "does not exist"),
    ({"segment": "engineers", "template_kind": "nurture", "cadence": {"after": "rejection"}}, "cadence"),
    ({"segment": "engineers", "template_kind": "nurture", "cadence": {"every": "week", "on": "exit"}}, "cadence.every"),
    ({"segment": "engineers", "template_kind": "nurture", "cadence": "yearly"}, "cadence"),
    ({"segment": "engineers", "template_kind": "nurture", "cadence": {"every": "year", "on": "exit"}, "x": 1}, "unknown"),
])
def test_bad_campaigns_are_400(acme, body, needle):
    put(acme, "segments/engineers", {"expression": SEGMENT})
    answer = put(acme, "campaigns/reengage", body)
    assert answer.status_code == 400 and needle in answer.json_body["message"], answer.json_body


def test_the_nurture_routes_are_described_in_openapi():
    from app import app
    from chalicelib import openapi

    served = {(method, path) for path, entry in app.routes.items() for method in entry}
    nurture = {route for route in served if route[1].startswith("/admin/")
               and ("/segments/" in route[1] or "/campaigns/" in route[1] or route[1].endswith("/nurture"))}
    assert len(nurture) == 6 and nurture <= openapi.routes()  # 6: with issue 18's .../segments/{segment}/members
    assert served <= openapi.routes() | {("GET", "/admin/openapi.json")}  # the console's segment and campaign pages too


# -- the job reads only what is due ---------------------------------------------------------------

class DynamoReads:
    """Items DynamoDB returned to the hub's clients, per operation (botocore after-call hooks)."""

    def __init__(self):
        from chalicelib.adapters.dynamo import models as dynamo

        self.calls: list[tuple[str, int]] = []
        clients = {id(c): c for c in (model._get_connection().connection.client for model in dynamo.MODELS)}
        for client in clients.values():
            client.meta.events.register("after-call.dynamodb", self._seen)

    def _seen(self, http_response, parsed, model, **kwargs):
        items = len(parsed.get("Items", [])) + sum(len(v) for v in parsed.get("Responses", {}).values()) + ("Item" in parsed)
        self.calls.append((model.name, items))

    def items(self) -> int:
        return sum(items for _, items in self.calls)


def test_the_due_selection_reads_only_the_people_due(acme, hub):
    due = [someone(acme, hub, f"due-{i}", rejected=days_ago(200 + i)) for i in range(3)]
    waiting = [someone(acme, hub, f"wait-{i}", rejected=days_ago(10 + i)) for i in range(20)]
    put(acme, "segments/engineers", {"expression": SEGMENT})
    saved = campaign(acme, "reengage")
    assert saved["enrolment"] == {"members": 23, "scheduled": 23, "complete": True}

    reads = DynamoReads()
    assert hub.nurture.dispatch_nurture("acme") == {"due": 3, "queued": 3}
    assert reads.calls == [("Query", 3)]  # one page of the due index: the 20 waiting are never read

    drain()
    assert sorted(m["To"] for m in nurture_mail()) == [f"due-{i}@example.jp" for i in range(3)]
    assert len(due) + len(waiting) == 23


def test_people_who_did_not_opt_in_are_not_enrolled_and_suppressed_addresses_not_mailed(acme, hub):
    someone(acme, hub, "silent", rejected=days_ago(200), opted_in=False)
    someone(acme, hub, "bounced", rejected=days_ago(200))
    someone(acme, hub, "glad", rejected=days_ago(200))
    hub.ports.suppressions.add("acme", "bounced@example.jp", "bounced")
    put(acme, "segments/engineers", {"expression": SEGMENT})
    assert campaign(acme, "reengage")["enrolment"] == {"members": 3, "scheduled": 2, "complete": True}
    assert job(acme)["due"] == 2
    drain()
    assert [m["To"] for m in nurture_mail()] == ["glad@example.jp"]
    stats = acme.http.get("/admin/tenants/acme/campaigns/reengage", headers=ADMIN).json_body["stats"]
    assert stats == {"sent": 1, "deferred": 0, "skipped": {"suppressed": 1}}


# -- law and manners ------------------------------------------------------------------------------

def test_a_nurture_mail_names_the_sender_offers_one_click_opt_out_and_counts_as_recontact(acme, hub):
    rejected_at = days_ago(200)
    someone(acme, hub, "glad", rejected=rejected_at)
    put(acme, "segments/engineers", {"expression": SEGMENT})
    campaign(acme, "reengage")
    job(acme)
    drain()
    [mail] = nurture_mail()
    text = mail.get_body(("plain",)).get_content()
    assert "glad さん 様" in text and "サンプル株式会社" in text and "東京都千代田区" in text and "配信停止" in text
    assert re.search(r"/r/acme\.[\w-]+", text)  # the Career Relay page, to change their choices
    assert re.match(r"<https://hub\.example\.test/u/acme\.[\w-]+>", mail["List-Unsubscribe"])
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = profile(acme, "glad")
    [entry] = [e for e in found["timeline"] if e["type"] == "nurture_sent"]
    assert entry["campaign"] == "reengage" and entry["template_kind"] == "nurture" and found["last_contact_at"]
    day = rejected_at.date().isoformat()
    kpis = acme.http.get(f"/admin/tenants/acme/kpis?from={day}&to={NOW.date()}", headers=ADMIN).json_body["current"]
    assert kpis["people"]["recontacted"] == 1 and kpis["recontact_rate"] == 1.0


def test_two_campaigns_due_the_same_day_send_one_mail_and_reruns_send_nothing_more(acme, hub):
    someone(acme, hub, "glad", rejected=days_ago(200))
    put(acme, "segments/engineers", {"expression": SEGMENT})
    campaign(acme, "half-year")
    campaign(acme, "five-months", cadence={"after": "rejection", "days": 150})
    for _ in range(2):  # the daily schedule and an admin's click at once: every due mail queued twice
        assert job(acme)["queued"] == 2
    drain()
    assert len(nurture_mail()) == 1
    for _ in range(2):  # the next runs: nothing is due (one was sent, the other waits for the interval)
        assert job(acme)["due"] == 0
    drain()
    assert len(nurture_mail()) == 1
    stats = [acme.http.get(f"/admin/tenants/acme/campaigns/{c}", headers=ADMIN).json_body["stats"]
             for c in ("half-year", "five-months")]
    assert sorted((s["sent"], s["deferred"]) for s in stats) == [(0, 1), (1, 0)]
    assert [e["type"] for e in profile(acme, "glad")["timeline"]].count("nurture_sent") == 1

    with freeze_time(NOW + timedelta(days=91)):  # the interval (90 days by default) has passed
        assert job(acme)["due"] == 1
        drain()
    assert len(nurture_mail()) == 2


def test_a_redelivered_message_after_the_send_sends_and_counts_nothing(acme, hub):
    import os

    import boto3

    from chalicelib.adapters import resources

    person_id = someone(acme, hub, "glad", rejected=days_ago(200))
    put(acme, "segments/engineers", {"expression": SEGMENT})
    campaign(acme, "reengage")
    sqs, url = boto3.client("sqs"), os.environ[resources.queue_env("notices")]
    job(acme)
    [queued] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=queued["ReceiptHandle"], VisibilityTimeout=0)
    drain()
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=queued["Body"])
    drain()
    assert len(nurture_mail()) == 1
    assert hub.ports.counters.totals("acme")["nurture.sent"] == 1
    assert hub.ports.nurture.schedule("acme", person_id, "reengage").last_outcome == "sent"


def test_a_shorter_interval_setting_is_respected(acme, hub):
    assert put(acme, "settings", {**SETTINGS, "nurture_interval_days": 0}).status_code == 400
    assert put(acme, "settings", {**SETTINGS, "nurture_interval_days": 30}).status_code == 200
    someone(acme, hub, "glad", rejected=days_ago(200))
    put(acme, "segments/engineers", {"expression": SEGMENT})
    campaign(acme, "half-year")
    campaign(acme, "five-months", cadence={"after": "rejection", "days": 150})
    job(acme)
    drain()
    with freeze_time(NOW + timedelta(days=29)):
        job(acme)
        drain()
    assert len(nurture_mail()) == 1
    with freeze_time(NOW + timedelta(days=31)):
        job(acme)
        drain()
    assert len(nurture_mail()) == 2


def test_opting_out_by_link_or_on_the_relay_page_stops_the_next_yearly_mail(acme, hub):
    exited = NOW.replace(year=NOW.year - 2) - timedelta(hours=1)  # their second leaving anniversary was an hour ago
    for who in ("unsub", "withdraw", "stays"):
        someone(acme, hub, who, exited=exited, tags=("alumni-club",))
    put(acme, "segments/alumni", {"expression": "role:alumni AND tag:alumni-club"})
    campaign(acme, "anniversary", segment="alumni", cadence={"every": "year", "on": "exit"}, kind="alumni_nurture")
    job(acme)
    drain()
    mails = {m["To"].split("@")[0]: m for m in nurture_mail()}
    assert sorted(mails) == ["stays", "unsub", "withdraw"]

    # one clicks the one-click unsubscribe (RFC 8058) ...
    token = re.search(r"/u/([\w.-]+)>", mails["unsub"]["List-Unsubscribe"]).group(1)
    assert acme.http.post(f"/u/{token}", headers=FORM, body=b"List-Unsubscribe=One-Click").status_code == 200
    # ... one unticks "future openings" on the Career Relay page the mail links to
    relay = re.search(r"/r/([\w.-]+)", mails["withdraw"].get_body(("plain",)).get_content()).group(1)
    page = acme.http.get(f"/r/{relay}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.body.decode()).group(1)
    assert acme.http.post(f"/r/{relay}", headers=FORM, body=urlencode({"csrf": csrf}).encode()).status_code == 200
    assert profile(acme, "withdraw")["consents"]["openings"]["given"] is False

    with freeze_time(NOW + timedelta(days=366)):  # the next anniversary
        job(acme)
        drain()
    assert [m["To"] for m in nurture_mail()[3:]] == ["stays@example.jp"]
    stats = acme.http.get("/admin/tenants/acme/campaigns/anniversary", headers=ADMIN).json_body["stats"]
    assert stats["sent"] == 4 and stats["skipped"] == {"opted_out": 1, "not_opted_in": 1}


def test_leaving_the_segment_or_being_erased_stops_the_mail(acme, hub):
    tagged_off = someone(acme, hub, "changed", rejected=days_ago(200))
    erased = someone(acme, hub, "erased", rejected=days_ago(200))
    put(acme, "segments/engineers", {"expression": SEGMENT})
    campaign(acme, "reengage")
    acme.http.patch(f"/admin/tenants/acme/people/{tagged_off}", headers=JSON, body=json.dumps({"add": ["do-not-contact"]}))
    assert acme.http.delete(f"/admin/tenants/acme/people/{erased}", headers=ADMIN).status_code == 200
    assert hub.nurture.dispatch_nurture("acme")["due"] == 1  # the erased person's schedule went with their partition
    drain()
    assert nurture_mail() == []
    assert acme.http.get("/admin/tenants/acme/campaigns/reengage", headers=ADMIN).json_body["stats"]["skipped"] == {
        "left_segment": 1}


def test_a_campaign_follows_a_new_rejection(acme, hub):
    person_id = someone(acme, hub, "twice", rejected=days_ago(100))
    put(acme, "segments/engineers", {"expression": SEGMENT})
    campaign(acme, "reengage")
    first = hub.ports.nurture.schedule("acme", person_id, "reengage").next_due
    assert first == iso(days_ago(100) + timedelta(days=180))
    post_fact(acme, "candidate.rejected", "twice", days_ago(40), application="a2")
    job(acme)
    assert hub.ports.nurture.schedule("acme", person_id, "reengage").next_due == iso(days_ago(40) + timedelta(days=180))


# -- rediscovery ----------------------------------------------------------------------------------

@pytest.mark.parametrize("reverse", [False, True], ids=["in_order", "reversed"])
def test_reapplications_and_boomerangs_show_on_the_timeline_and_move_the_kpis(acme, reverse):
    facts = [("candidate.applied", "re", days_ago(50), "a1"), ("candidate.rejected", "re", days_ago(45), "a1"),
             ("candidate.applied", "re", days_ago(35), "a2"),
             ("employee.exited", "boom", days_ago(48), "emp"), ("candidate.applied", "boom", days_ago(36), "a3"),
             ("candidate.hired", "boom", days_ago(33), "a3")]
    for kind, who, at, application in (reversed(facts) if reverse else facts):
        post_fact(acme, kind, who, at, application=application)
    re_entries = {e["application_id"]: e for e in profile(acme, "re")["timeline"] if e["type"] == "applied"}
    assert re_entries["a2"].get("reapplication") is True and "reapplication" not in re_entries["a1"]
    boom = profile(acme, "boom")["timeline"]
    assert [e.get("boomerang") for e in boom if e["type"] in ("applied", "hired")] == [True, True]

    kpis = acme.http.get(f"/admin/tenants/acme/kpis?from={days_ago(60).date()}&to={NOW.date()}", headers=ADMIN).json_body
    current = kpis["current"]
    assert current["people"]["rejected"] == 1 and current["people"]["reapplied"] == 1
    assert current["people"]["alumni"] == 1 and current["people"]["alumni_returned"] == 1
    assert current["reapplication_rate"] == 1.0 and current["alumni_reapplication_rate"] == 1.0
