"""Career Relay batches to a real agency server on loopback (the sandbox agency), through faults:
every consented referral arrives once, retries keep their Idempotency-Key, nobody without consent
is sent, provision records match the sends, and the ledger equals floor(accepted / 10)."""
from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import boto3
import pytest

from chalicelib.adapters import resources
from integrations.sources import standard
from tests.conftest import ADMIN, drain, sent_mail
from tests.integration.conftest import AGENCY_SECRET, JSON, SECRET  # noqa: E402
from tools.sandbox_agency import SandboxAgency

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def configure(client, agency, slug="sandbox", **extra):
    body = {"name": "Sandbox Agency", "legal_name": "Sandbox Agency K.K. (sandbox)", "country": "JP",
            "endpoint": agency.url, "auth": {"type": "standard_webhooks", "secret": AGENCY_SECRET},
            "data_items": ["name", "email", "desired_roles"], "batch_size": 10, "referrals_per_slot": 10, **extra}
    answer = client.http.put(f"/admin/tenants/acme/agencies/{slug}", headers=JSON, body=json.dumps(body))
    assert answer.status_code == 200, answer.body
    return answer


def candidates(client, n: int, start: int = 0) -> dict[str, str]:
    """n rejected candidates; their Career Relay links, by e-mail."""
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    for i in range(start, start + n):
        body = json.dumps({"type": "candidate.rejected", "data": {
            "person": {"id": f"c-{i}", "name": f"候補者 {i}", "email": f"c-{i}@example.jp"},
            "application_id": f"a-{i}", "occurred_at": at, "job": {"id": "j", "title": "エンジニア"}}}).encode()
        client.http.post("/webhooks/acme/standard", headers=standard.sign(body, SECRET), body=body)
    drain(rounds=200)
    return {m["To"]: re.search(r"/r/([\w.-]+)", m.get_body(("plain",)).get_content()).group(1) for m in sent_mail()}


def decide(client, token: str, **choices) -> None:
    page = client.http.get(f"/r/{token}").body.decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    shown = re.search(r'name="shown" value="([^"]+)"', page).group(1)  # what the page showed
    answer = client.http.post(f"/r/{token}", headers=FORM, body=urlencode({**choices, "csrf": csrf, "shown": shown}).encode())
    assert answer.status_code == 200


def run(client) -> list[dict]:
    answer = client.http.post("/admin/tenants/acme/jobs/agency_batch", headers=ADMIN)
    assert answer.status_code == 200, answer.body
    return answer.json_body["agencies"]


def ledger(client, slug="sandbox") -> dict:
    return client.http.get(f"/admin/tenants/acme/agencies/{slug}/ledger", headers=ADMIN).json_body


def person_id(client, email):
    return client.http.get(f"/admin/tenants/acme/people?email={email}", headers=ADMIN).json_body["people"][0]["id"]


def test_25_consented_candidates_become_25_referrals_and_2_slots(acme, agency):
    configure(acme, agency)
    links = candidates(acme, 25)
    for token in links.values():
        decide(acme, token, relay="yes")
    [report] = run(acme)
    assert report["sent"] == 25 and report["accepted"] == 25 and report["batches"] == 3
    assert len(agency.referrals) == 25
    book = ledger(acme)
    assert (book["referrals_sent"], book["referrals_accepted"], book["slots_earned"], book["slot_balance"]) == (25, 25, 2, 2)
    assert [e["type"] for e in book["entries"] if e["type"] != "referrals_sent"] == ["slot_earned", "slot_earned"]
    version = agency_version(acme)
    assert sum(e["referrals"] for e in book["entries"] if e.get("consent_version") == version) == 25  # all sent under it
    sent = next(iter(agency.referrals.values()))
    assert set(sent) == {"referral_id", "name", "email", "desired_roles", "consent", "agency_ref"}  # only its data items
    assert sent["consent"]["text_version"].startswith("ja-") and sent["consent"]["version"] == version
    # the provision record of one person: consent evidence, recipient, items, date, key, answer, 3 years
    pid = person_id(acme, "c-0@example.jp")
    [record] = acme.http.get(f"/admin/tenants/acme/provisions?person_id={pid}", headers=ADMIN).json_body["provisions"]
    assert record["recipient"]["legal_name"] == "Sandbox Agency K.K. (sandbox)" and record["agency_answer"] == "accepted"
    assert record["data_items"] == ["name", "email", "desired_roles"] and record["consent"]["text_version"]
    assert record["keep_until"][:4] == str(datetime.now(UTC).year + 3)
    timeline = [e["type"] for e in acme.http.get(f"/admin/tenants/acme/people/{pid}", headers=ADMIN).json_body["timeline"]]
    assert timeline[-2:] == ["referred", "referral_accepted"]
    assert run(acme)[0]["sent"] == 0  # nothing left: nothing twice


def test_after_a_storm_of_faults_everything_arrives_once_and_adds_up(acme, agency):
    configure(acme, agency)
    links = candidates(acme, 30)
    emails = sorted(links)
    consenting = emails[:24]
    for email in consenting:
        decide(acme, links[email], relay="yes")
    decide(acme, links[emails[24]], openings="yes")            # never consented to relay
    decide(acme, links[emails[25]], relay="yes")
    decide(acme, links[emails[25]])                              # withdrew before any batch
    agency.referrals["r_pre_existing"] = {"agency_ref": "X"}   # (another channel; not ours)
    duplicate_id = _referral_id(acme, consenting[0])
    agency.referrals[duplicate_id] = {"agency_ref": "EARLIER"}  # the agency already has one of ours
    agency.inject("500", "429:1", "slow:2", "reset", "partial", "bad-json")
    for _ in range(8):
        run(acme)
    assert not agency.faults
    ours = {rid for rid in agency.referrals if rid.startswith("r_") and rid != "r_pre_existing"}
    expected = {_referral_id(acme, email) for email in consenting}
    assert ours == expected  # every consented referral reached the agency; nobody else did
    # every retry of a batch carried its first Idempotency-Key
    keys_of = defaultdict(set)
    for request in agency.requests:
        if request["path"] == "/referrals":
            for rid in request["ids"]:
                keys_of[rid].add(request["key"])
    assert all(len(keys) == 1 for keys in keys_of.values()), keys_of
    book = ledger(acme)
    assert book["referrals_accepted"] == 24 and book["referrals_sent"] == 24  # duplicate counts as delivered
    assert book["slots_earned"] == 24 // 10 == len([e for e in book["entries"] if e["type"] == "slot_earned"])
    # provision records match the sends one to one
    for email in emails:
        pid = person_id(acme, email)
        records = acme.http.get(f"/admin/tenants/acme/provisions?person_id={pid}", headers=ADMIN).json_body["provisions"]
        assert len(records) == (1 if email in consenting else 0), email
        assert all(r["agency_answer"] in ("accepted", "duplicate") for r in records)


def test_withdrawal_after_sending_tells_the_agency_and_stops_later_batches(acme, agency):
    configure(acme, agency)
    links = candidates(acme, 2)
    first, second = sorted(links)
    decide(acme, links[first], relay="yes")
    run(acme)
    decide(acme, links[first])              # withdraws after being sent
    decide(acme, links[second], relay="yes")
    decide(acme, links[second])             # withdraws while still queued
    [report] = run(acme)
    assert report["withdrawals"] == 1 and agency.withdrawn == [_referral_id(acme, first)]
    assert report["sent"] == 0 and _referral_id(acme, second) not in agency.referrals
    assert run(acme)[0]["withdrawals"] == 0  # told once


def test_an_agency_that_keeps_failing_is_paused_without_holding_up_another(acme, agency):
    healthy = SandboxAgency(secret=AGENCY_SECRET).start()
    try:
        configure(acme, agency, slug="broken")
        configure(acme, healthy, slug="healthy")
        links = candidates(acme, 3)
        for token in links.values():
            decide(acme, token, relay="yes")
        agency.inject(*["500"] * 30)
        reports = {}
        for _ in range(3):
            reports = {r["agency"]: r for r in run(acme)}
        assert reports["broken"]["status"] == "circuit_open"
        assert len(healthy.referrals) == 3 and ledger(acme, "healthy")["referrals_accepted"] == 3
        before = len(agency.requests)
        assert {r["agency"]: r["status"] for r in run(acme)}["broken"] == "paused"
        assert len(agency.requests) == before  # a paused agency is not called
    finally:
        healthy.stop()


def test_a_batch_the_agency_refuses_for_good_is_parked_in_the_dead_letter_queue(acme, agency):
    configure(acme, agency, auth={"type": "bearer", "token": "wrong-token-1234"})
    agency.token = "the-right-token"
    links = candidates(acme, 2)
    for token in links.values():
        decide(acme, token, relay="yes")
    [report] = run(acme)
    assert report["parked"] == 1 and agency.referrals == {}
    parked = boto3.client("sqs").receive_message(QueueUrl=os.environ[resources.queue_env("agency_dead_letters")])["Messages"]
    assert json.loads(parked[0]["Body"])["agency"] == "sandbox"
    assert ledger(acme)["referrals_accepted"] == 0


def test_slots_are_used_only_while_the_balance_lasts(acme, agency):
    configure(acme, agency, referrals_per_slot=2)
    links = candidates(acme, 4)
    for token in links.values():
        decide(acme, token, relay="yes")
    run(acme)
    assert ledger(acme)["slots_earned"] == 2
    for _ in range(2):
        answer = acme.http.post("/admin/tenants/acme/agencies/sandbox/slots/use", headers=JSON, body=json.dumps({"note": "hire"}))
        assert answer.status_code == 201
    refused = acme.http.post("/admin/tenants/acme/agencies/sandbox/slots/use", headers=JSON, body=b"{}")
    assert refused.status_code == 409 and refused.json_body["error"] == "conflict"
    book = ledger(acme)
    earned = len([e for e in book["entries"] if e["type"] == "slot_earned"])
    used = len([e for e in book["entries"] if e["type"] == "slot_used"])
    assert (book["slots_earned"], book["slots_used"], book["slot_balance"]) == (earned, used, earned - used) == (2, 2, 0)


@pytest.mark.parametrize("change,needle", [
    ({"country": "Japan"}, "country"), ({"endpoint": "ftp://x"}, "endpoint"), ({"data_items": ["salary"]}, "data_items"),
    ({"batch_size": 0}, "batch_size"), ({"auth": {"type": "basic"}}, "auth"),
    ({"auth": {"type": "standard_webhooks", "secret": "not-whsec-secret"}}, "whsec"), ({"extra": 1}, "unknown"),
])
def test_bad_agency_configurations_are_400(acme, agency, change, needle):
    body = {"name": "A", "legal_name": "A K.K.", "country": "JP", "endpoint": agency.url,
            "auth": {"type": "bearer", "token": "token-12345"}, "data_items": ["name"], **change}
    answer = acme.http.put("/admin/tenants/acme/agencies/a", headers=JSON, body=json.dumps(body))
    assert answer.status_code == 400 and needle in answer.json_body["message"]


def test_agency_secrets_are_not_returned_or_stored_in_the_table(acme, agency):
    answer = configure(acme, agency)
    assert AGENCY_SECRET not in answer.body.decode()
    assert AGENCY_SECRET not in json.dumps(boto3.client("dynamodb").scan(TableName="relations-hub-test")["Items"])


def agency_version(client, slug="sandbox") -> str:
    answer = client.http.get(f"/admin/tenants/acme/agencies/{slug}", headers=ADMIN)
    assert answer.status_code == 200
    return answer.json_body["consent_version"]


def test_after_10_consents_a_new_legal_name_sends_nothing_until_people_consent_again_then_once_each(acme, agency):
    configure(acme, agency)
    links = candidates(acme, 10)
    for token in links.values():
        decide(acme, token, relay="yes")
    before = agency_version(acme)
    configure(acme, agency, legal_name="Another Entity K.K.")  # the slug now names another legal entity
    after = agency_version(acme)
    assert after != before and after.startswith("r-")

    [report] = run(acme)
    assert (report["sent"], report["held"], report["batches"]) == (0, 10, 0)
    assert agency.referrals == {} and not [r for r in agency.requests if r["path"] == "/referrals"]
    assert (ledger(acme)["referrals_sent"], ledger(acme)["referrals_held"]) == (0, 10)
    assert run(acme)[0]["held"] == 0 and agency.referrals == {}  # held once, and never sent

    emails = sorted(links)
    returning = emails[:4]
    for email in returning:  # the page names the new recipient and asks again; nothing is pre-ticked
        page = acme.http.get(f"/r/{links[email]}").body.decode()
        assert "Another Entity K.K." in page and 'name="renew" value="yes">' in page
        decide(acme, links[email], relay="yes", renew="yes")
        decide(acme, links[email], relay="yes", renew="yes")  # saved twice: queued once
    [report] = run(acme)
    assert (report["sent"], report["accepted"]) == (4, 4)
    assert set(agency.referrals) == {_referral_id(acme, email) for email in returning}
    sent_ids = [rid for request in agency.requests if request["path"] == "/referrals" for rid in request["ids"]]
    assert sorted(sent_ids) == sorted(agency.referrals)  # each once
    assert {r["consent"]["version"] for r in agency.referrals.values()} == {after}
    assert run(acme)[0]["sent"] == 0

    pid = person_id(acme, returning[0])
    [record] = acme.http.get(f"/admin/tenants/acme/provisions?person_id={pid}", headers=ADMIN).json_body["provisions"]
    assert record["consent"]["version"] == after and record["recipient"]["legal_name"] == "Another Entity K.K."
    book = ledger(acme)
    assert [(e["referrals"], e["consent_version"]) for e in book["entries"] if e["type"] == "referrals_sent"] == [(4, after)]
    export = acme.http.get(f"/admin/tenants/acme/people/{pid}/export", headers=ADMIN).json_body
    assert export["person"]["consents"]["relay"]["agencies"]["sandbox"]["version"] == after
    assert [(r["status"], r["consent_version"]) for r in export["referrals"]] == [("accepted", after)]
    assert export["provisions"][0]["consent"]["version"] == after
    waiting = acme.http.get(f"/admin/tenants/acme/people/{person_id(acme, emails[9])}/export", headers=ADMIN).json_body
    assert [(r["status"], r["consent_version"]) for r in waiting["referrals"]] == [("reconsent_needed", before)]
    evidence = acme.http.get(f"/admin/tenants/acme/consent_texts/{before}", headers=ADMIN).json_body
    assert evidence["facts"]["legal_name"] == "Sandbox Agency K.K. (sandbox)"  # what the old consents were given to
    text = acme.http.get(f"/admin/tenants/acme/consent_texts/{record['consent']['text_version']}", headers=ADMIN).json_body
    assert "Another Entity K.K." in text["text"]  # the exact words the person read when consenting again
    assert acme.http.get("/admin/tenants/acme/consent_texts/r-0000000000000000", headers=ADMIN).status_code == 404


def test_a_person_who_consented_before_per_agency_versions_is_asked_again_and_then_sent_once(acme, agency):
    from chalicelib.adapters.dynamo import keys
    from chalicelib.adapters.dynamo.models import PersonItem, ReferralItem

    configure(acme, agency)
    [(email, token)] = candidates(acme, 1).items()
    decide(acme, token, relay="yes")
    pid = person_id(acme, email)
    person = PersonItem.get(*keys.profile_key("acme", pid))  # rewrite both as this hub stored them before
    relay = {k: v for k, v in person.consents["relay"].items() if k != "agencies"}
    person.update(actions=[PersonItem.consents.set({**person.consents, "relay": relay})])
    ReferralItem(*keys.referral_key("acme", pid, "sandbox")).update(actions=[
        ReferralItem.consent_version.set(relay["text_version"]), ReferralItem.text_version.remove()])

    page = acme.http.get(f"/r/{token}").body.decode()
    assert re.search(r'name="relay" value="yes" checked', page) and 'name="renew"' in page
    assert (run(acme)[0]["sent"], agency.referrals) == (0, {})  # its consent names no version of this agency

    decide(acme, token, relay="yes", renew="yes")
    [report] = run(acme)
    assert report["sent"] == 1 and list(agency.referrals) == [_referral_id(acme, email)]
    assert agency.referrals[_referral_id(acme, email)]["consent"]["version"] == agency_version(acme)
    assert run(acme)[0]["sent"] == 0


def _referral_id(client, email):
    from chalicelib.adapters.dynamo import referral_id
    return referral_id("acme", person_id(client, email), "sandbox")


def test_an_agency_answering_429_with_retry_after_7200_ends_the_run_at_once_reads_paused_and_is_sent_once_after(acme, agency):
    import time

    from chalicelib.adapters import dynamo
    configure(acme, agency)
    links = candidates(acme, 2)
    for token in links.values():
        decide(acme, token, relay="yes")
    agency.inject("429:7200")
    started = time.monotonic()
    [report] = run(acme)
    assert time.monotonic() - started < 30 and report["status"] == "paused"
    paused_until = acme.http.get("/admin/tenants/acme/agencies/sandbox", headers=ADMIN).json_body["paused_until"]
    # paused for the Retry-After the agency gave (2 h), not a capped hour: nothing slept that long
    assert abs((datetime.fromisoformat(paused_until) - (datetime.now(UTC) + timedelta(seconds=7200))).total_seconds()) < 60
    assert [r["status"] for r in run(acme)] == ["paused"] and len(agency.requests) == 1  # not called while paused
    dynamo.DynamoReferrals().save_state("acme", "sandbox", 0, (datetime.now(UTC) - timedelta(seconds=1)).isoformat())
    [report] = run(acme)
    assert report["status"] == "ok" and report["accepted"] == 2 and len(agency.referrals) == 2
    assert [r["key"] for r in agency.requests] == [agency.requests[0]["key"]] * 2  # the same Idempotency-Key
    assert acme.http.get("/admin/tenants/acme/agencies/sandbox", headers=ADMIN).json_body["paused_until"] is None
