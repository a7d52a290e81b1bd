"""e20-sources: the console's sources screen in Chromium against `make run`'s local hub (issue 20's
done-when): an admin sends a test event to the Greenhouse source and sees it accepted in the
delivery log; a delivery with a wrong signature (posted with requests) shows as refused (signature)
with no personal data on the screen; a notice parked in the notices dead-letter queue (the real
message shape, for a pending notice) shows on the screen and goes out once after the redrive.
On a laptop and a phone, in Japanese and English (support.look: screenshots + axe)."""
from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
import requests

from integrations.sources import greenhouse
from tests import localhub
from tests.browser.support import VIEWPORTS, look, sign_in
from tests.conftest import load_fixture
from tools.mailbox import messages

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
SECRET = {"greenhouse": localhub.SECRETS["greenhouse"]}


@pytest.fixture(scope="module")
def hub():
    # notices due in an hour: a rejection's notice waits, pending, until the test parks and redrives it
    with localhub.local_hub(HUB_NOTICE_DELAY_SECONDS="3600") as running:
        yield running


def aws(hub: dict, service: str):
    return boto3.client(service, endpoint_url=hub["aws"], region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def rejection(email: str, candidate: int) -> bytes:
    body = json.loads(load_fixture("sources/greenhouse/reject_candidate")["body"])
    application = body["payload"]["application"]
    application["id"] = candidate
    # rejected just now, so it earns a notice (old facts are not announced out of the blue)
    application["rejected_at"] = application["last_activity_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    application["candidate"]["id"] = candidate
    application["candidate"]["email_addresses"] = [{"value": email, "type": "personal"}]
    return json.dumps(body).encode()


def post(hub: dict, body: bytes, secret: str) -> requests.Response:
    return requests.post(f"{hub['url']}/webhooks/default/greenhouse", data=body, timeout=10,
                         headers=greenhouse.sign(body, secret))


def park_pending_notice(hub: dict, email: str) -> None:
    """The notice of the person at `email`, as the notices queue carries it, put in its dead-letter queue."""
    people = requests.get(f"{hub['url']}/admin/tenants/default/people", params={"email": email}, timeout=10,
                          headers={"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"}).json()["people"]
    person_id = people[0]["id"]
    found = aws(hub, "dynamodb").query(TableName="relations-hub-local", IndexName="gsi1",
                                       KeyConditionExpression="gsi1pk = :pk",
                                       ExpressionAttributeValues={":pk": {"S": "OUTBOX#default"}})["Items"]
    entries = [item["gsi1sk"]["S"].split("#", 3) for item in found]  # due, tenant, person id, notice (index_keys.py)
    notice = next(entry[3] for entry in entries if entry[2] == person_id)
    sqs = aws(hub, "sqs")
    url = sqs.get_queue_url(QueueName="relations-hub-local-notices-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"tenant": "default", "person_id": person_id, "notice": notice}))


def mails_to(hub: dict, email: str) -> int:
    return sum(1 for m in messages(hub["aws"]) if m["To"] == email)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_an_admin_tests_a_source_sees_refusals_and_redrives_a_parked_notice_once(hub, browser, viewport, locale):
    lang = locale[:2]
    q = "?lang=en" if lang == "en" else ""
    page = sign_in(browser, hub, "admin", viewport=viewport, locale=locale)
    tenant = f"{hub['url']}/console/t/default"

    page.goto(f"{tenant}/sources{q}")
    assert page.locator("h1").inner_text() == ("連携元" if lang == "ja" else "Sources")
    assert page.locator("#url-greenhouse").input_value().endswith("/webhooks/default/greenhouse")
    look(page, f"console-sources-{lang}-{viewport}")

    page.goto(f"{tenant}/sources/greenhouse{q}")
    page.click("#send-test")
    page.wait_for_selector("#tested")
    assert page.locator("#tested b").get_attribute("data-outcome") == "accepted"
    assert page.locator("#log tr[data-test='1'][data-outcome='accepted']").count() >= 1
    look(page, f"console-source-tested-{lang}-{viewport}")

    email = f"refused-{uuid.uuid4().hex[:8]}@example.com"
    assert post(hub, rejection(email, 700000 + int(time.time()) % 100000), "not-the-secret").status_code == 401
    page.goto(f"{tenant}/sources/greenhouse{q}")
    first = page.locator("#log tbody tr").first
    assert (first.get_attribute("data-outcome"), first.get_attribute("data-reason")) == ("refused", "signature")
    assert page.locator("#state").get_attribute("data-state") == "failing"
    shown = page.content()
    assert email not in shown and "Hector" not in shown and "Porter" not in shown
    look(page, f"console-source-refused-{lang}-{viewport}")

    # a pending notice, parked in the dead-letter queue with the real message shape
    email = f"parked-{uuid.uuid4().hex[:8]}@example.com"
    assert post(hub, rejection(email, 800000 + int(uuid.uuid4().int % 100000)), SECRET["greenhouse"]).status_code == 202
    park_pending_notice(hub, email)
    page.goto(f"{tenant}/sources{q}")
    rows = page.locator("#dead-letters tbody tr")
    assert rows.count() == 1 and email not in page.content()
    look(page, f"console-sources-dead-letter-{lang}-{viewport}")
    rows.first.locator("button").click()
    page.wait_for_selector("#notice")
    assert page.locator("#no-dead-letters").count() == 1
    look(page, f"console-sources-redriven-{lang}-{viewport}")
    deadline = time.monotonic() + 30
    while mails_to(hub, email) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # a second copy would have come by now
    assert mails_to(hub, email) == 1

    # rotate: the new secret shown once, and it verifies
    page.goto(f"{tenant}/sources/greenhouse{q}")
    page.click("#rotate-end")
    page.wait_for_selector("#new-secret")
    SECRET["greenhouse"] = page.locator("#new-secret").inner_text().strip()
    look(page, f"console-source-rotated-{lang}-{viewport}")
    assert post(hub, rejection(f"ok-{uuid.uuid4().hex[:8]}@example.com", 900000 + int(uuid.uuid4().int % 90000)),
                SECRET["greenhouse"]).status_code == 202
    page.context.close()
