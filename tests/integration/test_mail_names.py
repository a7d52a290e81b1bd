"""The person's name in the mail they get: a Greenhouse rejection (last_name is the family name)
becomes a notice that the real mail adapter sends, read back from the in-process SES."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from integrations.sources import greenhouse
from tests.conftest import ADMIN, SETTINGS, connect, drain, load_fixture, sent_mail

SECRET = "gh-test-secret-7f3a"
JSON = {**ADMIN, "Content-Type": "application/json"}


def greenhouse_rejection(first_name: str, last_name: str, email: str) -> bytes:
    """Greenhouse's documented reject_candidate example, with this name and address, rejected a minute ago."""
    body = json.loads(load_fixture("sources/greenhouse/reject_candidate")["body"])
    application = body["payload"]["application"]
    application["candidate"].update(first_name=first_name, last_name=last_name,
                                    email_addresses=[{"value": email, "type": "personal"}])
    application["rejected_at"] = application["last_activity_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.mark.parametrize("locale,first,last,opening,closing", [
    ("ja", "太郎", "山田", "山田 太郎 様", "山田 太郎 様の今後"),
    ("en", "Hector", "Porter", "Dear Hector Porter,", "Porter"),
])
def test_a_greenhouse_rejection_mails_the_name_in_its_reading_order(client, locale, first, last, opening, closing):
    settings = {**SETTINGS, "default_locale": locale}  # Greenhouse sends no locale: the tenant's is used
    assert client.http.put("/admin/tenants/acme/settings", headers=JSON, body=json.dumps(settings)).status_code == 200
    connect(client, "acme", "greenhouse", SECRET)
    body = greenhouse_rejection(first, last, "named@example.jp")
    answer = client.http.post("/webhooks/acme/greenhouse", headers=greenhouse.sign(body, SECRET), body=body)
    assert answer.status_code == 202, answer.body
    drain()
    [mail] = sent_mail()
    text = mail.get_body(("plain",)).get_content()
    assert text.startswith(opening)
    assert closing in text
    html = mail.get_body(("html",)).get_content()
    assert opening.rstrip(",") in html
