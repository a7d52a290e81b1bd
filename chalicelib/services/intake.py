"""Receiving facts: webhooks, enrichment, polling, connecting sources, the CSV inventory."""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from datetime import timedelta

from chalicelib.domain import inventory
from chalicelib.domain.errors import BadRequest, HubError, PayloadTooLarge, PermanentError, RetryableError, SignatureError, UnknownSource
from chalicelib.domain.events import HubEvent, Lookup
from chalicelib.domain.ports import (
    Clock,
    Credentials,
    EnrichedSource,
    Notices,
    PolledSource,
    Queues,
    Relations,
    SecretFormat,
    SourceAdapter,
    Tenants,
    VendorApis,
)
from chalicelib.domain.records import JsonDict, NoticeRef
from chalicelib.services.common import MAX_BODY_BYTES, MAX_QUEUE_DELAY_S, URL, PollReport, WebhookReceipt, check_tenant


class Intake:
    """Facts in: verified, parsed and recorded once, however often and in whatever order they come."""

    def __init__(self, *, sources: Mapping[str, SourceAdapter], enriched: Mapping[str, EnrichedSource],
                 polled: Mapping[str, PolledSource], secret_formats: Mapping[str, SecretFormat],
                 vendor_apis: VendorApis, credentials: Credentials, relations: Relations, tenants: Tenants,
                 notices: Notices, queues: Queues, clock: Clock) -> None:
        self._sources = sources
        self._enriched = enriched
        self._polled = polled
        self._secret_formats = secret_formats
        self._vendor_apis = vendor_apis
        self._credentials = credentials
        self._relations = relations
        self._tenants = tenants
        self._notices = notices
        self._queues = queues
        self._clock = clock

    def is_pushed(self, source: str) -> bool:
        """Whether the source delivers webhooks (else it is polled)."""
        return source in self._sources

    # -- webhooks -------------------------------------------------------------------------------

    def receive_webhook(self, tenant: str, source: str, headers: Mapping[str, str], raw_body: bytes) -> WebhookReceipt:
        """Verify, parse and record a delivery once; thin notices go to a queue. Nothing slower."""
        if len(raw_body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
        adapter = self._sources.get(source)
        if adapter is None:
            raise UnknownSource("no webhook source is registered under this name")
        check_tenant(tenant)
        headers = {str(k).lower(): str(v) for k, v in headers.items()}
        self._verify(adapter, tenant, source, headers, raw_body)
        notices = adapter.parse(headers, raw_body, tenant=tenant)
        fallback_id = hashlib.sha256(raw_body).hexdigest()  # vendors without a delivery id resend the same bytes
        duplicates = 0
        for index, notice in enumerate(notices):
            delivery_id = f"{notice.delivery_id or fallback_id}:{index}"
            new = self._defer(notice, delivery_id) if isinstance(notice, Lookup) else \
                self._record(notice, delivery_id)
            duplicates += 0 if new else 1
        return WebhookReceipt(accepted=len(notices), ignored=0 if notices else 1, duplicates=duplicates)

    def _verify(self, adapter: SourceAdapter, tenant: str, source: str, headers: Mapping[str, str],
                raw_body: bytes) -> None:
        credentials = self._credentials.source(tenant, source)
        try:
            adapter.verify(headers, raw_body, credentials.webhook_secrets)
        except SignatureError:
            # This container may hold a secret rotated since it was cached: look once more, fresh.
            fresh = self._credentials.source(tenant, source, fresh=True)
            if fresh.webhook_secrets == credentials.webhook_secrets:
                raise
            adapter.verify(headers, raw_body, fresh.webhook_secrets)

    def _record(self, event: HubEvent, delivery_id: str) -> bool:
        """Store a fact once; hand a notice it earned, when due soon, to the notice queue."""
        recorded = self._relations.record_once(event, delivery_id=delivery_id)
        if recorded is None:
            return False
        if recorded.notice is not None:
            self._announce(recorded.notice)
        return True

    def _announce(self, notice: NoticeRef) -> None:
        wait = (notice.due_at - self._clock()).total_seconds()
        if wait > MAX_QUEUE_DELAY_S:
            return  # due later (an exit's effective date): release_notices sends it then
        # not queued: the notice is stored as pending, and release_notices sends it on its next run
        with contextlib.suppress(RetryableError):
            self._queues.send("notices", notice.to_json(), delay_s=max(0, int(wait)))

    def release_notices(self, *, grace_s: int = 120) -> int:
        """The sweeper: queue every pending notice due more than grace_s ago (lost or future-dated)."""
        released = 0
        for notice in self._notices.due(self._clock() - timedelta(seconds=grace_s)):
            self._queues.send("notices", notice.to_json())
            released += 1
        return released

    # -- thin notices ---------------------------------------------------------------------------

    def _defer(self, lookup: Lookup, delivery_id: str) -> bool:
        """Queue a thin notice for enrichment once per delivery id."""
        if not self._relations.mark_delivery(lookup.tenant, lookup.source, delivery_id):
            return False
        try:
            self._queues.send("enrich", lookup.to_json())
        except Exception:
            # not queued: forget the delivery so the vendor's retry is taken, and ask for that retry
            self._relations.unmark_delivery(lookup.tenant, lookup.source, delivery_id)
            raise RetryableError("the notice could not be queued; retry") from None
        return True

    def enrich(self, lookup: Lookup) -> int:
        """Complete a thin notice from the vendor's API and record its events; the new ones counted.

        Errors propagate: the queue redelivers, then parks the message in its dead-letter queue."""
        adapter = self._enriched.get(lookup.source)
        if adapter is None:
            raise UnknownSource("this source sends no thin notices")
        credentials = self._credentials.source(lookup.tenant, lookup.source)
        events = adapter.fetch(lookup, self._vendor_apis(adapter, credentials))
        return sum(1 for event in events if self._record(event, f"{lookup.delivery_id}:{event.fact_key()[:16]}"))

    # -- polling --------------------------------------------------------------------------------

    def poll_due_sources(self) -> list[PollReport]:
        """The scheduled run: every tenant's polled sources. One failing source does not stop the others."""
        reports = []
        for tenant in self._tenants.tenants():
            reports.extend(self.poll_sources(tenant))
        return reports

    def poll_sources(self, tenant: str, *, max_pages: int = 20) -> list[PollReport]:
        check_tenant(tenant)
        reports = []
        for source in self._tenants.sources(tenant):
            if source in self._polled:
                try:
                    reports.append(self.poll_source(tenant, source, max_pages=max_pages))
                except RetryableError:
                    reports.append(PollReport(source, stopped="unavailable"))
                except HubError as error:  # refused credentials, a malformed answer: this source only
                    reports.append(PollReport(source, stopped=error.code))
        return reports

    def poll_source(self, tenant: str, source: str, *, max_pages: int = 20) -> PollReport:
        adapter = self._polled[source]
        api = self._vendor_apis(adapter, self._credentials.source(tenant, source))
        state = self._tenants.poll_state(tenant, source)
        cursor, version = state.cursor, state.version
        pages = events = new = 0
        while True:
            page = adapter.poll(api, cursor, tenant=tenant, now=self._clock())
            pages += 1
            for event in page.events:
                events += 1
                new += self._record(event, f"poll:{event.fact_key()}")
            version = self._tenants.save_poll_state(tenant, source, page.cursor, version)
            if version is None:
                return PollReport(source, pages, events, new, "busy")  # another run advanced the cursor
            cursor = page.cursor
            if page.wait_s:
                return PollReport(source, pages, events, new, "rate_limited")
            if not page.more:
                return PollReport(source, pages, events, new, "done")
            if pages >= max_pages:
                return PollReport(source, pages, events, new, "budget")

    # -- configuration --------------------------------------------------------------------------

    def connect_source(self, tenant: str, source: str, webhook_secret: object = None, api_key: object = None,
                       api_base_url: object = None) -> None:
        """Store a tenant's connection to a source, creating the tenant when new."""
        if source not in self._sources and source not in self._polled:
            raise UnknownSource("no source is registered under this name")
        check_tenant(tenant)
        if source in self._sources:
            if not isinstance(webhook_secret, str) or not 8 <= len(webhook_secret) <= 4096:
                raise BadRequest("webhook_secret must be a string of 8 to 4096 characters")
            secret_format = self._secret_formats.get(source)
            if secret_format is not None:
                secret_format.check_secret(webhook_secret)
        elif webhook_secret is not None:
            raise BadRequest("this source is polled: it takes an api_key, not a webhook_secret")
        elif api_key is None:
            raise BadRequest("this source is polled: api_key is required")
        if api_key is not None and (not isinstance(api_key, str) or not 1 <= len(api_key) <= 4096):
            raise BadRequest("api_key must be a string of 1 to 4096 characters")
        if api_base_url is not None and (not isinstance(api_base_url, str) or not URL.match(api_base_url)):
            raise BadRequest("api_base_url must be an http(s) URL")
        self._credentials.store_source(tenant, source, webhook_secret, api_key, api_base_url)
        self._tenants.add_source(tenant, source)

    # -- inventory ------------------------------------------------------------------------------

    def import_inventory(self, tenant: str, csv_text: str) -> JsonDict:
        """Record the relationships of a CSV; valid rows are kept, the others reported by line."""
        check_tenant(tenant)
        events, errors = inventory.read(csv_text, tenant=tenant)
        rows, new, duplicates = len(events) + len(errors), 0, 0
        for line, event in events:
            try:
                recorded = self._record(event, f"import:{event.fact_key()}")
            except (BadRequest, PermanentError) as refused:  # storage refused this row's content: the row's error, not the file's
                errors.append(inventory.RowError(line, None, refused.message))
                continue
            new, duplicates = new + recorded, duplicates + (not recorded)
        return {"rows": rows, "imported": new, "duplicates": duplicates,
                "errors": [e.to_json() for e in sorted(errors, key=lambda e: e.line)]}
