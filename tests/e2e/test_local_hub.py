"""`make run` for real: the launcher, the moto server, `chalice local`, the runner; driven with curl."""
from __future__ import annotations

import os
import random
import re
import shlex
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from integrations.sources import greenhouse
from tests import localhub
from tests.conftest import load_fixture
from tools.mailbox import links, messages

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local_hub")]


@pytest.fixture(scope="module")
def local_hub():
    with localhub.local_hub() as hub:
        yield hub


def admin_get(hub, path):
    return requests.get(hub["url"] + path, headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"}, timeout=5)


def after_banner(hub):
    lines = list(hub["lines"])
    end = next(i for i, line in enumerate(lines) if "Ctrl-C stops everything" in line)
    return lines[end + 1:]


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout_s} s")


def test_the_banner_stays_the_last_thing_on_the_screen_until_a_request_comes(local_hub):
    """Schedules run (every 5 s here) and the runner polls the queues, all into .local/hub.log; the
    embedded AWS's access log goes to .local/aws.log; the terminal says nothing."""
    hub_log, aws_log = local_hub["state"] / "hub.log", local_hub["state"] / "aws.log"
    wait_for(lambda: hub_log.exists() and hub_log.read_text().count('"message":"agency batch run"') >= 3, 60,
             "three scheduled runs of the agency batch were not logged to hub.log")
    assert aws_log.exists() and '"POST / HTTP/1.1" 200' in aws_log.read_text()
    assert [line for line in after_banner(local_hub) if line.strip()] == [], "".join(after_banner(local_hub))
    # a request: one short line each, without its query string (it may hold an e-mail address)
    admin_get(local_hub, "/admin/tenants/default/people?email=quiet.check@example.com")
    requests.post(local_hub["url"] + "/webhooks/default/greenhouse", data=b"{}", timeout=5)
    wait_for(lambda: len([line for line in after_banner(local_hub) if line.strip()]) >= 2, 20, "no line per request")
    time.sleep(6)  # a scheduled run more: still nothing else
    shown = [line.strip() for line in after_banner(local_hub) if line.strip()]
    assert len(shown) == 2, shown
    assert shown[0].endswith("GET /admin/tenants/default/people 200") and shown[1].endswith("POST /webhooks/default/greenhouse 401")
    assert "quiet.check" not in hub_log.read_text() + aws_log.read_text()


def test_banner_gives_urls_token_and_a_sample_command(local_hub):
    banner = "".join(local_hub["lines"])
    assert local_hub["url"] in banner and localhub.ADMIN_TOKEN in banner and f"greenhouse={localhub.SECRETS['greenhouse']}" in banner
    assert "curl -sS -X POST" in banner


def test_the_printed_curl_command_records_a_rejection_visible_within_a_second(local_hub):
    command = next(line.strip() for line in local_hub["lines"] if line.strip().startswith("curl -sS -X POST"))
    result = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert '"accepted": 1' in result.stdout, result.stdout + result.stderr
    accepted_at, people = time.monotonic(), []
    while not people and time.monotonic() - accepted_at < 1.0:
        people = admin_get(local_hub, "/admin/tenants/default/people?email=hector.porter.265788@example.com").json()["people"]
    assert people, "not visible through the admin API within a second"
    assert people[0]["roles"] == ["rejected"]
    # the notice with its Career Relay link arrives in the embedded SES, and the link opens the page
    mail = wait_for_mail(local_hub, "hector.porter.265788@example.com")
    page = requests.get(links(mail)["relay"], timeout=5)
    assert page.status_code == 200 and "キャリアリレー" in page.text


def wait_for_mails(hub, addresses, timeout_s=60):
    deadline, wanted = time.monotonic() + timeout_s, set(addresses)
    while time.monotonic() < deadline:
        found = {m["To"]: m for m in messages(hub["aws"]) if m["To"] in wanted}
        if len(found) == len(wanted):
            return found
        time.sleep(1)
    raise AssertionError(f"{len(wanted) - len(found)} mails did not arrive")


def wait_for_mail(hub, to, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in messages(hub["aws"]):
            if message["To"] == to:
                return message
        time.sleep(0.2)
    raise AssertionError(f"no mail to {to}")


def test_duplicates_posted_over_http_stay_one_fact(local_hub):
    fx = load_fixture("sources/greenhouse/new_candidate_application")
    body = fx["body"].encode()
    headers = greenhouse.sign(body, localhub.SECRETS["greenhouse"])
    answers = [requests.post(local_hub["url"] + "/webhooks/default/greenhouse", data=body, headers=headers, timeout=5)
               for _ in range(5)]
    assert [a.status_code for a in answers] == [202] * 5
    assert sum(a.json()["duplicates"] for a in answers) == 4
    [person] = admin_get(local_hub, "/admin/tenants/default/people?email=person@work.com").json()["people"]
    assert [e["type"] for e in person["timeline"]] == ["applied"]


def test_bad_input_over_http_is_json_4xx(local_hub):
    answer = requests.post(local_hub["url"] + "/webhooks/default/greenhouse", data=b"{}", headers={"Signature": "sha256 00"}, timeout=5)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_signature"
    unknown = requests.post(local_hub["url"] + "/webhooks/nobody/greenhouse", data=b"{}", timeout=5)
    assert (unknown.status_code, unknown.json()) == (answer.status_code, answer.json())  # no tenant enumeration


def test_concurrent_copies_of_one_delivery_store_one_fact(local_hub):
    fx = load_fixture("sources/greenhouse/reject_candidate")
    body = fx["body"].replace("265788", "990001").encode()  # a person no other test uses
    headers = greenhouse.sign(body, localhub.SECRETS["greenhouse"])

    def send(_):
        """Once each: a lost race is retried inside the hub, never handed back to the vendor as a 503."""
        return requests.post(local_hub["url"] + "/webhooks/default/greenhouse", data=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    assert sum(a.json()["duplicates"] for a in answers) == 7
    [person] = admin_get(local_hub, "/admin/tenants/default/people?email=hector.porter.990001@example.com").json()["people"]
    assert len(person["timeline"]) == 1


def test_25_consented_candidates_reach_the_sandbox_agency_and_earn_2_slots(local_hub):
    import json as _json
    from datetime import datetime, timedelta
    from urllib.parse import urlencode

    from integrations.sources import standard

    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    emails = [f"relay-{i}@example.jp" for i in range(25)]
    for i, email in enumerate(emails):
        body = _json.dumps({"type": "candidate.rejected", "data": {"person": {"id": f"relay-{i}", "email": email},
                                                                   "application_id": f"ra-{i}", "occurred_at": at}}).encode()
        assert requests.post(local_hub["url"] + "/webhooks/default/standard", data=body, timeout=5,
                             headers=standard.sign(body, localhub.SECRETS["standard"])).status_code == 202
    mails = wait_for_mails(local_hub, emails)
    for email in emails:
        page_url = links(mails[email])["relay"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', requests.get(page_url, timeout=5).text).group(1)
        saved = requests.post(page_url, data=urlencode({"relay": "yes", "csrf": csrf}), timeout=5,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert saved.status_code == 200
    headers = {"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"}
    # the hourly schedule (every few seconds locally) may be sending already; run it now too
    run = requests.post(local_hub["url"] + "/admin/tenants/default/jobs/agency_batch", headers=headers, timeout=60)
    assert run.status_code == 200 and run.json()["agencies"][0]["status"] in ("ok", "busy")
    deadline, ledger = time.monotonic() + 30, {}
    while time.monotonic() < deadline:  # a scheduled run may still be settling the answers it got
        ledger = admin_get(local_hub, "/admin/tenants/default/agencies/sandbox/ledger").json()
        if ledger["referrals_accepted"] == 25:
            break
        requests.post(local_hub["url"] + "/admin/tenants/default/jobs/agency_batch", headers=headers, timeout=60)
        time.sleep(0.5)
    assert (ledger["referrals_sent"], ledger["referrals_accepted"], ledger["slots_earned"]) == (25, 25, 2)
    sandbox_url = re.search(r"sandbox agency: (\S+)", "".join(local_hub["lines"])).group(1)
    assert len(requests.get(sandbox_url, timeout=5).json()["referrals"]) == 25


class HangingVendor:
    """A vendor API on loopback that takes every request and never answers (until stopped)."""

    def __init__(self):
        self.called, self.release = threading.Event(), threading.Event()
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                vendor.called.set()
                vendor.release.wait(60)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.release.set()
        self.server.shutdown()


def test_sigterm_stops_everything_within_5_s_even_while_a_job_runs(local_hub):
    """A scheduled poll of a source whose API never answers holds the runner (for its 10 s read
    timeout); SIGTERM still stops the API, the runner and the embedded AWS within 5 s."""
    vendor = HangingVendor()
    try:
        put = requests.put(local_hub["url"] + "/admin/tenants/default/sources/herp", timeout=10,
                           headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"},
                           json={"api_key": "local-herp-key", "api_base_url": vendor.url})
        assert put.status_code in (200, 201, 204), put.text
        assert vendor.called.wait(60), "the scheduled poll did not reach the vendor"  # the job is running now
        process = local_hub["process"]
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        took = time.monotonic() - sent
        assert took < 5, f"stopped {took:.1f} s after SIGTERM"
    finally:
        vendor.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(local_hub["url"] + "/health", timeout=2)
    with pytest.raises(ProcessLookupError):  # nothing of the hub's process group is left
        os.killpg(process.pid, 0)
    assert "relations hub stopped" in "".join(local_hub["lines"])


# -- a storm on make run's own settings ---------------------------------------------------------------

CANDIDATES, COPIES, SENDERS = 150, 3, 6


def test_a_storm_of_duplicated_rejections_is_answered_202_and_mailed_once_each():
    """150 rejections delivered 3 times each (a vendor's retries keep the webhook-id), shuffled, by
    6 senders at once: every delivery 202, one person with one rejected entry and exactly one mail
    per candidate, all mailed within 2 minutes, and no name or address in the run's log."""
    import json as _json
    from datetime import datetime, timedelta

    from integrations.sources import standard

    run = f"{random.randrange(16 ** 6):06x}"
    people = [{"id": f"storm-{run}-{i}", "name": f"Sakura Stormfield{run}{i:03d}",
               "email": f"sakura.stormfield.{run}.{i:03d}@example.jp", "locale": "ja"} for i in range(CANDIDATES)]
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    bodies = [_json.dumps({"type": "candidate.rejected", "timestamp": at, "data": {
        "person": person, "application_id": f"storm-app-{run}-{i}", "occurred_at": at,
        "job": {"id": "job-storm", "title": "Backend engineer"}}}, ensure_ascii=False).encode()
        for i, person in enumerate(people)]
    deliveries = [i for i in range(CANDIDATES) for _ in range(COPIES)]
    random.Random(run).shuffle(deliveries)
    with localhub.local_hub(HUB_NOTICE_DELAY_SECONDS="2", HUB_LOCAL_SCHEDULE_SECONDS="60") as hub:  # make run's defaults
        session_of = threading.local()

        def deliver(i):
            session = getattr(session_of, "session", None) or requests.Session()
            session_of.session = session
            headers = standard.sign(bodies[i], localhub.SECRETS["standard"], msg_id=f"msg_storm_{run}_{i}")
            answer = session.post(hub["url"] + "/webhooks/default/standard", data=bodies[i], headers=headers, timeout=120)
            return answer.status_code, answer.json() if answer.status_code == 202 else answer.text

        started = time.monotonic()
        with ThreadPoolExecutor(SENDERS) as pool:
            answers = list(pool.map(deliver, deliveries))
        answered_s = time.monotonic() - started
        assert [status for status, _ in answers] == [202] * len(deliveries), [a for a in answers if a[0] != 202][:5]
        assert sum(body["accepted"] for _, body in answers) == len(deliveries)
        assert sum(body["duplicates"] for _, body in answers) == CANDIDATES * (COPIES - 1)

        wanted = {person["email"] for person in people}

        def mailed():
            return [m["To"] for m in messages(hub["aws"]) if m["To"] in wanted]
        deadline = started + 120
        while len(set(mailed())) < CANDIDATES and time.monotonic() < deadline:
            time.sleep(3)
        all_mailed_s = time.monotonic() - started
        assert len(set(mailed())) == CANDIDATES, f"{CANDIDATES - len(set(mailed()))} not mailed within 2 minutes"
        print(f"storm: {len(deliveries)} deliveries by {SENDERS} senders answered 202 in {answered_s:.1f} s, "
              f"{CANDIDATES} candidates mailed within {all_mailed_s:.1f} s")
        time.sleep(8)  # anything sent twice would be out by now (notices are due 2 s after the fact)
        sent = mailed()
        assert sorted(sent) == sorted(wanted), [to for to in set(sent) if sent.count(to) > 1][:5]

        for person in people:
            found = admin_get(hub, f"/admin/tenants/default/people?email={person['email']}").json()["people"]
            assert len(found) == 1, person["id"]
            kinds = [entry["type"] for entry in found[0]["timeline"]]
            assert found[0]["roles"] == ["rejected"] and kinds.count("rejected") == 1 and kinds.count("notice_sent") == 1, kinds

        log = "".join(hub["lines"]) + "".join(path.read_text(errors="replace") for path in hub["state"].glob("*.log"))
        assert f"Stormfield{run}" not in log and f"stormfield.{run}" not in log
