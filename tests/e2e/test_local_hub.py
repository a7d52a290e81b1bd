"""`make run` for real: the launcher, the moto server, `chalice local`, the runner; driven with curl."""
from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time
from datetime import UTC
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
    assert requests.post(local_hub["url"] + "/webhooks/nobody/greenhouse", data=b"{}", timeout=5).status_code == 404


def test_concurrent_copies_of_one_delivery_store_one_fact(local_hub):
    from concurrent.futures import ThreadPoolExecutor

    fx = load_fixture("sources/greenhouse/reject_candidate")
    body = fx["body"].replace("265788", "990001").encode()  # a person no other test uses
    headers = greenhouse.sign(body, localhub.SECRETS["greenhouse"])

    def send(_):
        """As a vendor does: a 503 (the store was busy) is retried."""
        for _attempt in range(5):
            answer = requests.post(local_hub["url"] + "/webhooks/default/greenhouse", data=body, headers=headers, timeout=60)
            if answer.status_code != 503:
                return answer
            time.sleep(1)
        return answer

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


def test_sigterm_stops_everything(local_hub):
    process = local_hub["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(local_hub["url"] + "/health", timeout=2)
    assert "relations hub stopped" in "".join(local_hub["lines"])
