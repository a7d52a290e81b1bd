"""SmartHR (HR, Japan) webhooks -> hub exits.

Vendor docs: SmartHR "SmartHR Webhook の仕様について" (https://developer.smarthr.jp/api/about_webhook)
  and the API reference for 従業員 / Crew, GET /api/v1/crews/{id} (https://developer.smarthr.jp/api/index.html);
  release note 2022/01/05 "変更されたデータのIDのみを送信するオプションをWebhookに追加しました"
  (https://support.smarthr.jp/ja/release-notes/api/2022-01-05/4413917867801: ids-only webhooks, read
  with an access token of suitable scope).
Auth: no signature. The optional SecretToken set on the webhook is sent verbatim in the
  X-SmartHR-Token header ("このトークンは X-SmartHR-Token というリクエストヘッダで送信されます");
  it is compared in constant time with the tenant's secret(s). Tenants must set one.
  The token proves who holds the secret, never what the body says (SIGNATURE_COVERS_BODY = False):
  no fact is taken from the body. Every crew_updated that may be an exit is a Lookup, and fetch
  builds the exit from the Crew the SmartHR API returns (GET /v1/crews/{id}).
Quirks:
  - There is no resignation event: an exit is a `crew_updated` whose Crew has resigned_at
    (退職年月日) set, and the exit is keyed to that date. A body whose Crew says resigned_at null is
    skipped (a forger can only make the hub do nothing); any other crew_updated (resigned_at set,
    or a webhook that exposes ids only) is looked up with GET /v1/crews/{id}, and only the API's
    resigned_at, name and e-mail are recorded. Every later update of a resigned crew repeats the
    same fact (deduped).
  - The body is {event, triggered_at, sender, crew}; no official example was retrieved: the shape
    and the Crew field names (id, last_name, first_name, email, tel_number, resigned_at,
    resigned_reason) follow the community SDK nogic1008/SmartHR.NET.
  - No delivery id; deliveries are retried up to 17 times over about 3 days (2xx within 60 s
    expected), then the webhook is disabled, so parse never fails on a Crew it does not act on.
  - The API lives on each tenant's own subdomain (https://<tenant>.smarthr.jp/api) with a Bearer
    access token: each tenant must set api_base_url; fetch refuses the unfilled default.
Names: the crew's `last_name` -> family_name, `first_name` -> given_name, `last_name_yomi` ->
  family_kana, `first_name_yomi` -> given_kana (GET /api/v1/crews/{id}: 姓, 名, 姓（ヨミガナ）, 名（ヨミガナ）).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import PermanentError
from chalicelib.domain.events import ExitEvent, HubEvent, Lookup, Notice, PersonRef, utc
from integrations import signing
from integrations.http import VendorApi
from integrations.payload import dig, load_object, obj, text

NAME = "smarthr"
EVENT_FIELD = ("body", "event")
EVENTS = ("crew_updated",)
SIGNING = "X-SmartHR-Token: the webhook's secret token, compared in constant time; nothing signed"
# a static token: it authenticates the sender, not the bytes, so parse returns Lookups only
SIGNATURE_COVERS_BODY = False
API_BASE_URL = "https://{tenant}.smarthr.jp/api"
# The hosts a tenant admin may point api_base_url at: SmartHR API, https://developer.smarthr.jp/api/index.html (each
# tenant's own <tenant>.smarthr.jp; sandbox tenants on <tenant>.daruma.space).
API_HOSTS = ("*.smarthr.jp", "*.daruma.space")


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> None:
    signing.verify_token(secrets, signing.require_header(headers, "X-SmartHR-Token"))


def sign(raw_body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
    return {"X-SmartHR-Token": secret, "Content-Type": "application/json"}


def parse(headers: Mapping[str, str], raw_body: bytes, *, tenant: str) -> Sequence[Notice]:
    message = load_object(raw_body)
    if message.get("event") not in EVENTS:
        return []
    crew = obj(message, "crew", what="crew")
    if "resigned_at" in crew and not text(crew, "resigned_at"):
        return []  # still employed by the body's own account: nothing to look up
    if "resigned_at" in crew:
        utc(text(crew, "resigned_at"), what="crew.resigned_at")  # a malformed notice is refused, not looked up
    triggered = dig(message, "triggered_at")
    return [Lookup(tenant=tenant, source=NAME, resource="crew",
                   resource_id=text(crew, "id", required=True, what="crew.id") or "", hint="exited",
                   occurred_at=utc(triggered, what="triggered_at") if triggered else None)]


def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def fetch(lookup: Lookup, api: VendorApi) -> list[HubEvent]:
    if "{" in api.base_url:
        raise PermanentError("smarthr needs the tenant's api_base_url (https://<tenant>.smarthr.jp/api)")
    crew = api.get(f"/v1/crews/{lookup.resource_id}")
    if not isinstance(crew, dict):
        return []
    return _exit(crew, tenant=lookup.tenant, delivery_id=lookup.delivery_id)


def _exit(crew: Mapping[str, Any], *, tenant: str, delivery_id: str | None) -> list[HubEvent]:
    resigned = text(crew, "resigned_at")
    if not resigned:
        return []
    person = PersonRef(source=NAME, vendor_person_id=text(crew, "id", required=True, what="crew.id") or "",
                       family_name=text(crew, "last_name"), given_name=text(crew, "first_name"),
                       family_kana=text(crew, "last_name_yomi"), given_kana=text(crew, "first_name_yomi"),
                       email=text(crew, "email"), phone=text(crew, "tel_number"))
    return [ExitEvent(tenant=tenant, person=person, delivery_id=delivery_id,
                      occurred_at=utc(resigned, what="crew.resigned_at"), reason=text(crew, "resigned_reason"))]
