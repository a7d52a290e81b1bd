"""The Career Relay agency API: the hub's own contract for partner recruitment agencies.

Vendor docs: docs/agency-api.md and docs/agency-api.openapi.json (this repository).
Auth: Standard Webhooks signature headers with the agency's whsec_ secret, or a bearer token;
an Idempotency-Key per batch (and per withdrawal), the same on every retry.
Quirks: an agency may answer for only some referrals (the rest are sent again with the batch);
`duplicate` means it already has the referral and counts as delivered.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook

from chalicelib.domain.errors import PayloadError
from chalicelib.domain.records import ReferralResult
from integrations.egress import EgressPolicy
from integrations.http import VendorApi, new_session

NAME = "career_relay"
STATUSES = ("accepted", "declined", "duplicate")


def batch_body(batch_id: str, referrer: Mapping[str, str], referrals: Sequence[Mapping[str, Any]]) -> bytes:
    """The request body for a batch (pure; the bytes that are signed)."""
    return json.dumps({"batch_id": batch_id, "referrer": dict(referrer), "referrals": list(referrals)},
                      ensure_ascii=False, separators=(",", ":")).encode()


def auth_headers(auth: Mapping[str, str], message_id: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
    """Headers proving the request comes from the hub, per the agency's configured auth."""
    if auth.get("type") == "bearer":
        return {"Authorization": f"Bearer {auth['token']}"}
    now = now or datetime.now(UTC)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(auth["secret"]).sign(message_id, now, body.decode())}


def read_results(answer: Any, sent: set[str]) -> list[ReferralResult]:
    """The per-referral results of an answer, for referrals of this batch only; PayloadError if malformed."""
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise PayloadError("the agency answered without a results list")
    results = []
    for item in answer["results"]:
        if not isinstance(item, dict):
            raise PayloadError("a result is not an object")
        referral_id, status, ref = item.get("referral_id"), item.get("status"), item.get("agency_ref")
        if referral_id not in sent or status not in STATUSES:
            continue  # not ours, or a status we do not know: the referral is sent again later
        results.append(ReferralResult(referral_id, status, str(ref)[:200] if ref is not None else None))
    return results


class Client:
    """One agency's endpoint for one tenant; every call goes through the egress policy (the strict
    one unless the hub passes its own: chalicelib/wiring.py)."""

    def __init__(self, endpoint: str, auth: Mapping[str, str], session: requests.Session | None = None,
                 timeout: tuple[float, float] = (3.05, 15), *, egress: EgressPolicy | None = None) -> None:
        policy = egress if egress is not None else EgressPolicy()
        self._api = VendorApi(vendor=NAME, base_url=endpoint, session=session if session is not None else new_session(egress=policy),
                              timeout=timeout, egress=policy)
        self._auth = auth

    def send(self, batch_id: str, idempotency_key: str, referrer: Mapping[str, str],
             referrals: Sequence[Mapping[str, Any]]) -> list[ReferralResult]:
        body = batch_body(batch_id, referrer, referrals)
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key,
                   **auth_headers(self._auth, batch_id, body)}
        answer = self._api.post("/referrals", data=body, headers=headers)
        if answer is None:
            raise PayloadError("the agency has no /referrals endpoint (404)")
        return read_results(answer, {r["referral_id"] for r in referrals})

    def withdraw(self, referral_id: str, withdrawn_at: str) -> None:
        body = json.dumps({"referral_id": referral_id, "withdrawn_at": withdrawn_at}).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"withdraw-{referral_id}",
                   **auth_headers(self._auth, f"withdraw-{referral_id}", body)}
        self._api.post(f"/referrals/{referral_id}/withdrawal", data=body, headers=headers)  # 404: it never had it
