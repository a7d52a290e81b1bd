"""Receiving facts: webhooks, enrichment, polling, connecting sources, the CSV inventory."""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from chalicelib.domain import egress, inventory, phones
from chalicelib.domain.deliveries import LoggedDelivery
from chalicelib.domain.errors import (
    PARTNER_FAILED,
    BadRequest,
    CredentialsRefused,
    EgressRefused,
    HubError,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    RetryableError,
    SignatureError,
    UnknownSource,
    UnknownTenant,
    Unverified,
)
from chalicelib.domain.events import HubEvent, Lookup
from chalicelib.domain.ports import (
    Clock,
    Credentials,
    Egress,
    EnrichedSource,
    Notices,
    PolledSource,
    Queues,
    Relations,
    SecretFormat,
    SourceAdapter,
    Tenants,
    VendorApiAccess,
    VendorApis,
)
from chalicelib.domain.records import JsonDict, NoticeRef, SourceCredentials
from chalicelib.services.common import MAX_BODY_BYTES, MAX_QUEUE_DELAY_S, URL, PollReport, WebhookReceipt, check_tenant
from chalicelib.services.configuration import Configuration
from chalicelib.services.connections import Connections
from chalicelib.services.credential_fields import CredentialFields

T = TypeVar("T")

# A source whose signature does not cover the body (SIGNATURE_COVERS_BODY = False) has each resource looked up at most
# once per window, whatever the unsigned part of its deliveries says: one captured signature replayed with other bytes
# drives one look-up, not one per replay. The look-up reads the resource's state when it runs, so a second genuine
# change within the window is read by the first.
LOOKUP_WINDOW_S = 300
# ... and queues at most this many look-ups per tenant and source a minute, over all its resources (a forger varying
# the unsigned resource id); beyond it a delivery is answered 503 for the vendor to retry later: nothing genuine is lost.
LOOKUPS_PER_MINUTE = 60


class Intake:
    """Facts in: verified, parsed and recorded once, however often and in whatever order they come."""

    def __init__(self, *, sources: Mapping[str, SourceAdapter], enriched: Mapping[str, EnrichedSource],
                 polled: Mapping[str, PolledSource], secret_formats: Mapping[str, SecretFormat],
                 vendor_apis: VendorApis, egress: Egress, credentials: Credentials, relations: Relations,
                 tenants: Tenants, notices: Notices, queues: Queues, configuration: Configuration, clock: Clock,
                 connections: Connections, credential_fields: CredentialFields | None = None,
                 field_writers: Mapping[str, VendorApiAccess] | None = None) -> None:
        self._sources, self._enriched, self._polled = sources, enriched, polled
        self._secret_formats, self._vendor_apis, self._egress = secret_formats, vendor_apis, egress
        self._credentials, self._relations, self._tenants = credentials, relations, tenants
        self._notices, self._queues, self._configuration = notices, queues, configuration
        self._clock, self._connections = clock, connections
        self._fields = credential_fields or CredentialFields()
        self._writers = field_writers or {}  # ATS whose fields the hub writes (services/writeback.py): their API too

    def is_pushed(self, source: str) -> bool:
        """Whether the source delivers webhooks (else it is polled)."""
        return source in self._sources

    # -- webhooks -------------------------------------------------------------------------------

    def receive_webhook(self, tenant: str, source: str, headers: Mapping[str, str], raw_body: bytes, *,
                        logged: Callable[[], LoggedDelivery] | None = None) -> WebhookReceipt:
        """Verify, parse, record once; thin notices to a queue; nothing slower. logged: its log entry, stored with a new fact."""
        if len(raw_body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
        headers = {str(k).lower(): str(v) for k, v in headers.items()}
        try:
            adapter = self._sources.get(source)
            if adapter is None:
                raise UnknownSource("no webhook source is registered under this name")
            check_tenant(tenant)
            self._verify(adapter, tenant, source, headers, raw_body)
        except (SignatureError, UnknownSource, UnknownTenant) as refused:
            raise Unverified(refused) from None  # one answer: no tenant or source enumeration
        notices = adapter.parse(headers, raw_body, tenant=tenant)
        entry = logged() if logged is not None and notices else None
        fallback_id = hashlib.sha256(raw_body).hexdigest()  # vendors without a delivery id resend the same bytes
        duplicates, regions, facts, folded = 0, dict[str, str](), list[tuple[HubEvent, str | None]](), False
        for index, notice in enumerate(notices):
            delivery_id = f"{notice.delivery_id or fallback_id}:{index}"
            if isinstance(notice, Lookup):
                new = self._defer(notice, delivery_id,
                                  once_per_window=None if adapter.SIGNATURE_COVERS_BODY else self._window_key(notice))
            elif not adapter.SIGNATURE_COVERS_BODY:
                raise PermanentError(f"{source} signs less than the body: its facts come from its API only")
            else:
                new = self._record(notice, delivery_id, regions, facts, logged=entry)
                folded, entry = folded or (new and entry is not None), None if new else entry
            duplicates += 0 if new else 1
        return WebhookReceipt(accepted=len(notices), ignored=0 if notices else 1, duplicates=duplicates, facts=tuple(facts),
                              logged=folded)

    def _verify(self, adapter: SourceAdapter, tenant: str, source: str, headers: Mapping[str, str],
                raw_body: bytes) -> None:
        credentials = self._credentials.source(tenant, source)
        try:
            adapter.verify(headers, raw_body, credentials.webhook_secrets)
        except SignatureError:
            # This container may hold a secret rotated since it was cached: look once more, fresh
            # (the store reads one secret at most once a minute, so a flood of bad deliveries costs no more).
            fresh = self._credentials.source(tenant, source, fresh=True)
            if fresh.webhook_secrets == credentials.webhook_secrets:
                raise
            adapter.verify(headers, raw_body, fresh.webhook_secrets)

    def _record(self, event: HubEvent, delivery_id: str, regions: dict[str, str],
                facts: list[tuple[HubEvent, str | None]] | None = None, *, logged: LoggedDelivery | None = None) -> bool:
        """Store a fact once; hand a notice it earned, when due soon, to the notice queue. facts: each
        fact of a delivery with its person's id (None when known before), for the writeback."""
        recorded = self._relations.record_once(self._with_region(event, regions), delivery_id=delivery_id, logged=logged)
        if facts is not None:
            facts.append((event, recorded.person_id if recorded is not None else None))
        if recorded is None:
            return False
        if recorded.notice is not None:
            self._announce(recorded.notice)
        return True

    def _with_region(self, event: HubEvent, regions: dict[str, str]) -> HubEvent:
        """The fact with the region its phone is read in (people.apply keeps it in E.164): the tenant's
        phone_region, read once per delivery, look-up, poll run or file (regions), and only for a fact
        that carries a phone its source gave no region for."""
        ref = event.person
        if not ref.phone or ref.phone_region:
            return event
        if event.tenant not in regions:
            settings = self._configuration.tenant_settings(event.tenant)
            regions[event.tenant] = settings.phone_region if settings else phones.DEFAULT_REGION
        return replace(event, person=replace(ref, phone_region=regions[event.tenant]))

    def _announce(self, notice: NoticeRef) -> None:
        wait = (notice.due_at - self._clock()).total_seconds()
        if wait > MAX_QUEUE_DELAY_S:
            return  # due later (an exit's effective date): release_notices sends it then
        # not queued: the notice is stored as pending, and release_notices sends it on its next run
        with contextlib.suppress(RetryableError):
            self._queues.send("notices", notice.to_json(), delay_s=max(0, int(wait)))

    def release_notices(self, *, grace_s: int = 120) -> int:
        """The sweeper: queue pending notices due more than grace_s ago (lost or future-dated), each
        tenant's oldest up to its own budget, the tenants in turns: no tenant's backlog delays another's."""
        released = 0
        for notice in self._notices.due(self._clock() - timedelta(seconds=grace_s)):
            self._queues.send("notices", notice.to_json())
            released += 1
        return released

    # -- thin notices ---------------------------------------------------------------------------

    def _window_key(self, lookup: Lookup) -> str:
        window = int(self._clock().timestamp()) // LOOKUP_WINDOW_S
        return f"lookup:{lookup.resource}:{lookup.resource_id}:{lookup.hint or ''}:{window}"

    def _defer(self, lookup: Lookup, delivery_id: str, *, once_per_window: str | None = None) -> bool:
        """Queue a thin notice for enrichment once per delivery id (and, given once_per_window, once
        per resource, hint and window)."""
        marked = [delivery_id] if once_per_window is None else [delivery_id, once_per_window]
        for index, key in enumerate(marked):
            if not self._relations.mark_delivery(lookup.tenant, lookup.source, key):
                for earlier in marked[:index]:  # looked up in this window already: this delivery adds nothing
                    self._relations.unmark_delivery(lookup.tenant, lookup.source, earlier)
                return False
        if once_per_window is not None:
            minute = self._clock().strftime("%Y-%m-%dT%H:%M")
            if not self._relations.spend_lookup(lookup.tenant, lookup.source, minute, LOOKUPS_PER_MINUTE):
                for key in marked:
                    self._relations.unmark_delivery(lookup.tenant, lookup.source, key)
                raise RetryableError("too many look-ups for this source this minute; retry later")
        try:
            self._queues.send("enrich", lookup.to_json())
        except Exception:
            # not queued: forget the delivery so the vendor's retry is taken, and ask for that retry
            for key in marked:
                self._relations.unmark_delivery(lookup.tenant, lookup.source, key)
            raise RetryableError("the notice could not be queued; retry") from None
        return True

    def enrich(self, lookup: Lookup) -> int:
        """Complete a thin notice from the vendor's API and record its events; the new ones counted.

        Errors propagate: the queue redelivers, then parks the message in its dead-letter queue."""
        adapter = self._enriched.get(lookup.source)
        if adapter is None:
            raise UnknownSource("this source sends no thin notices")
        events = self._with_connection(lookup.tenant, lookup.source,
                                       lambda: adapter.fetch(lookup, self._connections.api(lookup.tenant, lookup.source, adapter)))
        regions: dict[str, str] = {}
        return sum(1 for event in events if self._record(event, f"{lookup.delivery_id}:{event.fact_key()[:16]}", regions))

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
                except UnknownTenant:  # no credentials stored: nothing was called
                    reports.append(PollReport(source, stopped="not_connected"))
                except HubError as error:
                    failing = isinstance(error, CredentialsRefused)
                    # a timeout, a refusal, a malformed answer, an address the policy refused: this
                    # source only, and one code whatever answered (the detail is for the logs)
                    reports.append(PollReport(source, stopped=PARTNER_FAILED, detail=f"{error.code}: {error.message}",
                                              failing=failing))
        return reports

    def poll_source(self, tenant: str, source: str, *, max_pages: int = 20) -> PollReport:
        return self._with_connection(tenant, source, lambda: self._poll(tenant, source, max_pages=max_pages))

    def _with_connection(self, tenant: str, source: str, call: Callable[[], T]) -> T:
        """Run a call with the source's credentials: refused credentials mark the source failing,
        a call that works marks it ok again."""
        try:
            result = call()
        except HubError as error:
            self._connections.failed(tenant, source, error)
            raise
        self._connections.succeeded(tenant, source)
        return result

    def _poll(self, tenant: str, source: str, *, max_pages: int) -> PollReport:
        adapter = self._polled[source]
        api = self._connections.api(tenant, source, adapter)
        state = self._tenants.poll_state(tenant, source)
        cursor, version = state.cursor, state.version
        pages = events = new = 0
        regions: dict[str, str] = {}
        while True:
            page = adapter.poll(api, cursor, tenant=tenant, now=self._clock())
            pages += 1
            for event in page.events:
                events += 1
                new += self._record(event, f"poll:{event.fact_key()}", regions)
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
                       api_base_url: object = None, *, by_platform: bool = False,
                       revoke_previous: object = False, account_token: object = None,
                       oauth: object = None) -> JsonDict:
        """Store a tenant's connection to a source, creating the tenant when new; which secrets are
        stored now ({"webhook_secret": bool, "api_key": bool}). The replaced webhook secret verifies
        for a day (deliveries in flight), unless revoke_previous ends it now.

        The api key is bound to where it goes: a new api_base_url without a new api_key drops the
        stored key. A tenant admin may point api_base_url only at the vendor's documented hosts
        (API_HOSTS); the platform operator (by_platform) at any URL the egress policy allows. The
        account token and OAuth client go with the key (credential_fields.py)."""
        if source not in self._sources and source not in self._polled:
            raise UnknownSource("no source is registered under this name")
        check_tenant(tenant)
        if not isinstance(revoke_previous, bool):
            raise BadRequest("revoke_previous must be true or false")
        if revoke_previous and source not in self._sources:
            raise BadRequest("this source is polled: it has no webhook secret to revoke")
        if source in self._sources:
            if not isinstance(webhook_secret, str) or not 8 <= len(webhook_secret) <= 4096:
                raise BadRequest("webhook_secret must be a string of 8 to 4096 characters")
            secret_format = self._secret_formats.get(source)
            if secret_format is not None:
                secret_format.check_secret(webhook_secret)
        elif webhook_secret is not None:
            raise BadRequest("this source is polled: it takes an api_key, not a webhook_secret")
        elif api_key is None and oauth is None:
            raise BadRequest("this source is polled: api_key is required (or oauth, where it takes one)")
        if api_key is not None and (not isinstance(api_key, str) or not 1 <= len(api_key) <= 4096):
            raise BadRequest("api_key must be a string of 1 to 4096 characters")
        token = self._fields.account_token(source, account_token)
        tokens = self._fields.oauth_tokens(source, oauth, by_platform=by_platform, checker=self._egress, now=self._clock())
        url = None if api_base_url is None else self._check_api_base_url(source, api_base_url, by_platform=by_platform)
        drop_api_key = (api_key is None and token is None and tokens is None and url is not None
                        and self._api_moves(tenant, source, url))
        self._credentials.store_source(tenant, source, webhook_secret, api_key, url, drop_api_key=drop_api_key,
                                       revoke_previous=revoke_previous, account_token=token, oauth=tokens)
        self._tenants.add_source(tenant, source)
        try:
            stored = self._credentials.source(tenant, source, fresh=True)
        except UnknownTenant:
            stored = SourceCredentials(webhook_secrets=())
        return self._stored(source, stored)

    def _stored(self, source: str, stored: SourceCredentials) -> JsonDict:
        """Which of the source's secrets are stored: booleans, never values."""
        answer = {"webhook_secret": bool(stored.webhook_secrets), "api_key": stored.api_key is not None}
        if source in self._fields.account_tokens:
            answer["account_token"] = stored.account_token is not None
        if source in self._fields.oauth:
            answer["oauth"] = stored.oauth is not None
        return answer

    def source_status(self, tenant: str, source: str) -> JsonDict:
        """A connected source as its admin reads it: which secrets are stored (never their values)
        and whether its credentials work ("ok", or "failing" with a reason and since when)."""
        if source not in self._sources and source not in self._polled:
            raise UnknownSource("no source is registered under this name")
        check_tenant(tenant)
        if source not in self._tenants.sources(tenant):
            raise NotFound("this tenant has not connected this source")
        try:
            stored = self._credentials.source(tenant, source, fresh=True)
        except UnknownTenant:
            stored = SourceCredentials(webhook_secrets=())
        return {"tenant": tenant, "source": source, "secrets": self._stored(source, stored),
                "api_base_url": stored.api_base_url, **self._connections.status(tenant, source)}

    def _api(self, source: str) -> VendorApiAccess | None:
        return self._enriched.get(source) or self._polled.get(source) or self._writers.get(source)

    def _check_api_base_url(self, source: str, url: object, *, by_platform: bool) -> str:
        api = self._api(source)
        if api is None:
            raise BadRequest("this source's vendor API is never called: api_base_url does not apply")
        if not isinstance(url, str) or not URL.match(url):
            raise BadRequest("api_base_url must be an https:// URL")
        endpoint = egress.read_url(url, what="api_base_url")
        if not by_platform and not (endpoint.scheme == "https" and endpoint.port == 443
                                    and egress.host_matches(endpoint.host, api.API_HOSTS)):
            raise EgressRefused(f"api_base_url must be an https:// URL on one of {source}'s documented API hosts "
                                f"({', '.join(api.API_HOSTS)}); only the platform operator may set another")
        self._egress.check_url(url, what="api_base_url")
        return url

    def _api_moves(self, tenant: str, source: str, url: str) -> bool:
        """Whether url is another address than the one the stored api key was given for."""
        try:
            current = self._credentials.source(tenant, source, fresh=True)
        except UnknownTenant:
            return False  # nothing stored, nothing to drop
        api = self._api(source)
        default = api.API_BASE_URL if api is not None else ""
        return url.rstrip("/") != (current.api_base_url or default).rstrip("/")

    # -- inventory ------------------------------------------------------------------------------

    def import_inventory(self, tenant: str, body: str | bytes, *, dry_run: bool = False) -> JsonDict:
        """Record the relationships of a CSV (docs/import.md); valid rows are kept, the others reported
        by line. Each row is recorded once by its fact key, so the same file twice changes nothing the
        second time. A dry run stores nothing and answers what would be stored, row by row. A date
        without a time is midnight in the tenant's time zone."""
        found = inventory.read(body, tenant=check_tenant(tenant), now=self._clock(), time_zone=self._configuration.zone(tenant))
        errors = list(found.errors)
        rows = len(found.events) + len(errors)
        if dry_run:
            return {"dry_run": True, "rows": rows, "valid": len(found.events), "columns": found.columns,
                    "ignored_columns": list(found.ignored), "preview": [inventory.summary(line, e) for line, e in found.events],
                    "errors": [e.to_json() for e in sorted(errors, key=lambda e: e.line)]}
        new, duplicates = 0, 0
        regions: dict[str, str] = {}
        for line, event in found.events:
            try:
                recorded = self._record(event, f"import:{event.fact_key()}", regions)
            except (BadRequest, PermanentError) as refused:  # storage refused this row's content: the row's error, not the file's
                errors.append(inventory.RowError(line, None, refused.message))
                continue
            new, duplicates = new + recorded, duplicates + (not recorded)
        return {"rows": rows, "imported": new, "duplicates": duplicates,
                "errors": [e.to_json() for e in sorted(errors, key=lambda e: e.line)]}
