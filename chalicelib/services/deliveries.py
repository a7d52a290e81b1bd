"""e20-sources: a source's deliveries and the tenant's failed work (issue 20, the sources screen).

The delivery log: every webhook delivery's outcome, written by `receive` around Intake.receive_webhook
at no DynamoDB request of its own on the two common paths (docs/sources.md, "The delivery log"): a
delivery that brings a new fact has its entry written in that fact's transaction; a duplicate has
its entry queued (the deliveries queue; `write_queued` writes it, on the entry's own name, so a
redelivered message writes the same entry again, never a second one; a send that fails is written
at once instead). Other outcomes (ignored, thin notices) and refusals are one PutItem; a failed write is
logged and never fails the delivery. A refusal after a first fact was stored overwrites that fact's
entry (the same name). Refusals are logged only where the tenant and
source exist: a bad signature (the tenant's stored secret was read to check it), a malformed body
or one that cannot be stored (after the signature held). An unknown tenant or source has nowhere
to be logged, and logging it would tell a caller which tenants exist.

The test event: the vendor's sample delivery (integrations/test_events.py) is signed with the
stored secret and handed, as raw bytes and headers, to the same adapter verify and parse the
webhook route uses, in-process: it proves the stored secret and the parser without a network hop
and without opening the egress policy to the hub's own public URL. Nothing is recorded: the
synthetic person never becomes a person, a KPI or a mail; the log shows the delivery as a test."""
from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime

from chalicelib.domain import deliveries as log
from chalicelib.domain.deliveries import Delivery, DeliveryLog, LoggedDelivery
from chalicelib.domain.errors import BadRequest, Conflict, HubError, PermanentError, RetryableError, SignatureError, Unverified
from chalicelib.domain.events import iso
from chalicelib.domain.ports import Clock, Credentials, Queues, SecretFormat, SourceAdapter
from chalicelib.domain.records import JsonDict
from chalicelib.services.common import WebhookReceipt, check_tenant
from chalicelib.services.intake import Intake

MAX_LIMIT = 100
QUEUE = "deliveries"  # a duplicate's log entry, written off the request path (adapters/resources.py)


def outcome_of(receipt: WebhookReceipt) -> str:
    if receipt.accepted == 0:
        return "ignored"
    return "duplicate" if receipt.duplicates >= receipt.accepted else "accepted"


class SourceDeliveries:
    def __init__(self, *, intake: Intake, sources: Mapping[str, SourceAdapter], secret_formats: Mapping[str, SecretFormat],
                 credentials: Credentials, delivery_log: DeliveryLog | None, test_events: Mapping[str, bytes],
                 clock: Clock, queues: Queues) -> None:
        self._intake, self._sources, self._formats = intake, sources, secret_formats
        self._credentials, self._log, self._samples, self._clock = credentials, delivery_log, test_events, clock
        self._queues = queues

    # -- the webhook route ------------------------------------------------------------------------

    def receive(self, tenant: str, source: str, headers: Mapping[str, str], raw_body: bytes) -> WebhookReceipt:
        """Intake.receive_webhook, with its outcome in the delivery log (see the module's docstring)."""
        at, entry = self._clock(), secrets.token_hex(8)  # one name and moment: every write of the entry lands on it
        try:
            receipt = self._intake.receive_webhook(tenant, source, headers, raw_body, logged=lambda: LoggedDelivery(
                source, entry, Delivery(at, "accepted", event=self._event(source, raw_body))))
        except Unverified as refused:
            if refused.reason == SignatureError.code:  # the tenant's secret was found: tenant and source exist
                self._write(tenant, source, Delivery(at, "refused", reason="signature"), entry)
            raise
        except (BadRequest, PermanentError, RetryableError) as refused:
            reason = "retry" if isinstance(refused, RetryableError) else "unstorable" if refused.status >= 500 else "malformed"
            if refused.status != 413:  # too large: refused before the tenant was looked at
                self._write(tenant, source, Delivery(at, "refused", event=self._event(source, raw_body), reason=reason), entry)
            raise
        if receipt.logged:
            return receipt
        delivery = Delivery(at, outcome_of(receipt), event=self._event(source, raw_body))
        if not (delivery.outcome == "duplicate" and self._queued(tenant, LoggedDelivery(source, entry, delivery))):
            self._write(tenant, source, delivery, entry)
        return receipt

    def _queued(self, tenant: str, logged: LoggedDelivery) -> bool:
        """Hand the entry to the deliveries queue; False when it could not be (then it is written at once)."""
        if self._log is None:
            return False
        try:
            self._queues.send(QUEUE, logged.to_json(tenant))
        except Exception:  # noqa: BLE001 - any fault of the queue: the entry is written on the request path instead
            return False
        return True

    def write_queued(self, message: Mapping[str, object]) -> None:
        """The deliveries queue's consumer: write one queued entry (on its own name: a redelivered
        message rewrites it). RetryableError when the log could not take it: the queue retries, then parks it."""
        try:
            logged = LoggedDelivery.from_json(message)
        except (KeyError, TypeError, ValueError):
            raise PermanentError("not a delivery log entry") from None
        tenant = check_tenant(str(message.get("tenant")))
        if self._log is not None and not self._log.record(tenant, logged.source, logged.delivery, entry=logged.entry):
            raise RetryableError("the delivery log could not be written; the queue retries")

    def _write(self, tenant: str, source: str, delivery: Delivery, entry: str | None = None) -> None:
        if self._log is not None:
            self._log.record(tenant, source, delivery, entry=entry)

    def _event(self, source: str, raw_body: bytes) -> str | None:
        """The vendor's event name where its adapter says it sits in the body (EVENT_FIELD); never more."""
        adapter = self._sources.get(source)
        place, *path = adapter.EVENT_FIELD if adapter is not None else ("header",)
        if place != "body" or not path:
            return None
        try:
            value: object = json.loads(raw_body)
        except ValueError:
            return None
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        return log.event_name(value)

    # -- reading the log --------------------------------------------------------------------------

    def deliveries(self, tenant: str, source: str, query: Mapping[str, str]) -> JsonDict:
        self._intake.source_status(tenant, source)  # 404 unless connected
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            raise BadRequest("limit must be a number from 1 to 100") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest("limit must be a number from 1 to 100")
        cursor = query.get("cursor") or None
        if cursor is not None and (len(cursor) > 64 or "#" not in cursor):
            raise BadRequest("cursor is not one this list gave")
        if self._log is None:
            return {"deliveries": [], "next": None}
        found, after = self._log.entries(tenant, source, limit=limit, before=cursor)
        return {"deliveries": [d.to_json() for d in found], "next": after}

    def last_delivery_at(self, tenant: str, source: str) -> datetime | None:
        last = self._log.last(tenant, source) if self._log is not None else None
        return last.at if last is not None else None

    def state(self, tenant: str, source: str, status: JsonDict) -> JsonDict:
        """last_delivery_at, and the state the screen shows: ok, failing (state_reason: the
        credentials' reason, or the last delivery's refusal) or never_delivered (no delivery from the
        vendor in the log's 14 days). A polled source has no delivery log: its credentials decide."""
        failing = status.get("status") == "failing"
        last = self._log.last(tenant, source) if self._log is not None and self._intake.is_pushed(source) else None
        at = iso(last.at) if last is not None else None
        if failing:
            return {"last_delivery_at": at, "state": "failing", "state_reason": status.get("reason")}
        if not self._intake.is_pushed(source):
            return {"last_delivery_at": None, "state": "ok", "state_reason": None}
        if last is None:
            return {"last_delivery_at": None, "state": "never_delivered", "state_reason": None}
        if last.outcome == "refused":
            return {"last_delivery_at": at, "state": "failing", "state_reason": last.reason}
        return {"last_delivery_at": at, "state": "ok", "state_reason": None}

    # -- actions ----------------------------------------------------------------------------------

    def send_test(self, tenant: str, source: str) -> JsonDict:
        """Sign the vendor's sample with the stored secret and verify and parse it as a delivery; record nothing."""
        self._intake.source_status(tenant, source)  # 404 unless connected
        adapter, sample = self._sources.get(source), self._samples.get(source)
        if adapter is None:
            raise Conflict("this source is polled: it receives no webhooks to test (poll it now instead)")
        if sample is None:
            raise Conflict("the hub has no sample delivery for this vendor yet")
        stored = self._credentials.source(check_tenant(tenant), source, fresh=True)
        event = self._event(source, sample)
        headers = {k.lower(): v for k, v in adapter.sign(sample, stored.webhook_secrets[0], now=self._clock()).items()}
        try:
            adapter.verify(headers, sample, stored.webhook_secrets)
            notices = adapter.parse(headers, sample, tenant=tenant)
        except SignatureError:
            delivery = Delivery(self._clock(), "refused", event=event, reason="signature", test=True)
        except HubError:
            delivery = Delivery(self._clock(), "refused", event=event, reason="malformed", test=True)
        else:
            delivery = Delivery(self._clock(), "accepted" if notices else "ignored", event=event, test=True)
        self._write(tenant, source, delivery)
        return {"tenant": tenant, "source": source, **delivery.to_json()}

    def rotate_secret(self, tenant: str, source: str, *, end_previous: bool) -> JsonDict:
        """A new webhook secret made by the hub (shown once); the old one verifies for the grace
        period unless end_previous. Stored through the same connect_source as the admin PUT."""
        self._intake.source_status(tenant, source)
        if source not in self._sources:
            raise Conflict("this source is polled: it has no webhook secret")
        formatter = self._formats.get(source)
        secret = formatter.new_secret() if formatter is not None else "whk_" + secrets.token_urlsafe(32)
        self._intake.connect_source(tenant, source, secret, revoke_previous=end_previous)
        return {"tenant": tenant, "source": source, "webhook_secret": secret, "previous_ended": end_previous}

    def end_previous(self, tenant: str, source: str) -> JsonDict:
        """End the secret replaced by the last rotation now (the current one stays)."""
        self._intake.source_status(tenant, source)
        if source not in self._sources:
            raise Conflict("this source is polled: it has no webhook secret")
        current = self._credentials.source(check_tenant(tenant), source, fresh=True).webhook_secrets[0]
        self._intake.connect_source(tenant, source, current, revoke_previous=True)
        return {"tenant": tenant, "source": source, "previous_ended": True}
