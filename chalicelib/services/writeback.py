"""The Career Relay link in the ATS's own rejection mail (issue 19, the `ats_field` delivery).

A source's `delivery` setting (chalicelib/domain/delivery.py) says how a rejected candidate gets
their link. In `ats_field` mode the hub sends no rejection notice for that source; instead:
  - an ATS whose API takes a field write (registry.FIELD_WRITERS): when an application is created
    (and, by the backfill, for those already open when the mode is switched on) a message goes to
    the `writeback` queue; its consumer issues the application's link (channel ats_field) and
    writes it into the field, never on the webhook's request path. Once per (tenant, source,
    application, link digest): a replayed delivery or a redelivered message writes nothing again;
    a new link window (delivery.WINDOW) issues and writes a new link before the old one runs low
    (the daily refresh_all queues a backfill per source once per window).
  - a source that takes the link in the webhook's answer (registry.ANSWERED_LINKS: `standard`):
    the answer carries {"links": {"<application id>": "https://.../r/..."}} (channel standard_answer).

An application's link is not remembered but computed: its token is a MAC of (tenant, source,
application, window, person) under the platform's link key (LinkKeys, a secret outside the table;
delivery.link_token), registered with the Tokens store by its hash only. A replay computes the
same token (registering it again writes nothing) and answers the same link; no raw token or link
is kept at rest (docs/security.md). A rotated key gives new links from then on; the old ones stay
valid until they expire (their hashes are stored). The vendor's Retry-After pauses the source's writes (writeback_state document) and the
message comes back delayed: no Lambda sleeps. 401/403 mark the source failing and the queue
retries (then its dead-letter queue, for a redrive after the source is connected again); 404 drops
the write (the application is gone); an unknown field marks the source failing with the reason
ats_field_unknown and stops."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from chalicelib.domain import delivery, phones
from chalicelib.domain.delivery import Delivery
from chalicelib.domain.errors import BadRequest, Conflict, CredentialsRefused, FieldRefused, NotFound, RetryableError, UnknownSource
from chalicelib.domain.events import ApplicationEvent, HubEvent, iso, utc
from chalicelib.domain.ports import Clock, Config, FieldWriter, LinkKeys, Once, Queues, Relations, Tenants, Tokens
from chalicelib.domain.records import JsonDict
from chalicelib.domain.vendors import FieldTarget
from chalicelib.services.common import MAX_QUEUE_DELAY_S, check_tenant
from chalicelib.services.connections import Connections

QUEUE = "writeback"
BACKFILL_PAGES = 5  # pages one backfill run reads at most; the next run (or message) goes on from the cursor

Fact = tuple[HubEvent, str | None]  # a fact of a delivery and its person's id (None: known before)


class Writeback:
    def __init__(self, *, writers: Mapping[str, FieldWriter], answered: frozenset[str], config: Config,
                 connections: Connections, relations: Relations, tenants: Tenants, tokens: Tokens, queues: Queues,
                 once: Once, link_keys: LinkKeys, clock: Clock, public_url: str) -> None:
        self._writers = writers
        self._answered = answered
        self._config = config
        self._connections = connections
        self._relations = relations
        self._tenants = tenants
        self._tokens = tokens
        self._queues = queues
        self._once = once
        self._link_keys = link_keys
        self._clock = clock
        self._public_url = public_url

    # -- the setting ----------------------------------------------------------------------------

    def check_delivery(self, source: str, data: object) -> Delivery:
        writer = self._writers.get(source)
        return delivery.parse(data, source=source, writable=writer is not None or source in self._answered,
                              requires=writer.FIELD_REQUIRES if writer is not None else ())

    def delivery(self, tenant: str, source: str) -> Delivery:
        found = self._config.get(tenant, "source_delivery", (source,))
        return delivery.read(found.data if found is not None else None)

    def sends_hub_notice(self, tenant: str, source: str) -> bool:
        return delivery.sends_hub_notice(self.delivery(tenant, source).mode)

    def save_delivery(self, tenant: str, source: str, chosen: Delivery) -> None:
        """Store the source's delivery; switching ats_field on for a field-writing ATS queues its backfill."""
        before = self.delivery(tenant, source)
        self._config.put(tenant, "source_delivery", (source,), chosen.to_json())
        if chosen.mode == delivery.ATS_FIELD and before.mode != delivery.ATS_FIELD and source in self._writers:
            self._queues.send(QUEUE, {"backfill": True, "tenant": tenant, "source": source})

    # -- the webhook's facts --------------------------------------------------------------------

    def delivered(self, tenant: str, source: str, facts: Sequence[Fact]) -> dict[str, str]:
        """After a delivery was recorded: the links the answer carries (standard), or the field
        writes queued (an application created at a field-writing ATS). {} in any other mode."""
        if not facts or self.delivery(tenant, source).mode != delivery.ATS_FIELD:
            return {}
        links: dict[str, str] = {}
        for event, person_id in facts:
            if not event.application_id:
                continue
            person = person_id or self._person(tenant, event)
            if person is None:
                continue
            if source in self._answered:
                links[event.application_id] = self.link(tenant, source, event.application_id, person, "standard_answer")
            elif source in self._writers and isinstance(event, ApplicationEvent):
                self._queues.send(QUEUE, self._message(tenant, source, event, person))
        return links

    def link(self, tenant: str, source: str, application_id: str, person_id: str, channel: str) -> str:
        """The application's link of this window: computed (the same link every time), kept hashed."""
        window = delivery.window(self._clock())
        token = delivery.link_token(self._link_keys.link_key(), tenant, source, application_id, window, person_id)
        self._tokens.register(tenant, token, person_id, "relay", delivery.link_valid_until(window), channel=channel)
        return f"{self._public_url}/r/{token}"

    # -- the queue's consumer -------------------------------------------------------------------

    def handle(self, message: Mapping[str, object]) -> str:
        """One writeback message: a field write, or a backfill run. What became of it."""
        tenant, source = str(message.get("tenant")), str(message.get("source"))
        check_tenant(tenant)
        if message.get("backfill"):
            report = self.backfill(tenant, source)
            if not report["done"]:
                self._queues.send(QUEUE, dict(message))  # bounded runs, each from the stored cursor
            return "backfill"
        return self.write(tenant, source, message)

    def write(self, tenant: str, source: str, message: Mapping[str, object]) -> str:
        writer = self._writers.get(source)
        chosen = self.delivery(tenant, source)
        if writer is None or chosen.mode != delivery.ATS_FIELD:
            return "skipped"  # the mode was switched off since
        paused = self._paused_s(tenant, source)
        if paused > 0:
            self._queues.send(QUEUE, dict(message), delay_s=min(paused, MAX_QUEUE_DELAY_S))
            return "paused"
        application_id = str(message.get("application_id"))
        link = self.link(tenant, source, application_id, str(message.get("person_id")), delivery.ATS_FIELD)
        candidate = message.get("candidate_id")
        target = FieldTarget(application_id=application_id, candidate_id=str(candidate) if candidate else None,
                             field=chosen.field, on_behalf_of=chosen.on_behalf_of)

        def write() -> JsonDict:
            api = self._connections.api(tenant, source, writer)
            return {"written": writer.write_field(api, target, link)}

        try:
            result = self._once.run(tenant, f"ats-field:{source}:{application_id}:{delivery.digest(link)}", write)
        except RetryableError as busy:
            if not busy.retry_after_s:
                raise  # a 5xx or a timeout: the queue's own retries
            wait = int(busy.retry_after_s) + 1
            self._pause(tenant, source, wait)
            self._queues.send(QUEUE, dict(message), delay_s=min(wait, MAX_QUEUE_DELAY_S))
            return "rate_limited"
        except FieldRefused:
            self._connections.failing(tenant, source, "ats_field_unknown")
            return "field_unknown"  # retrying cannot help: an admin fixes the field, then runs the backfill
        except CredentialsRefused as refused:
            self._connections.failed(tenant, source, refused)
            raise
        self._connections.succeeded(tenant, source)
        return "written" if result.get("written") else "gone"

    def _pause(self, tenant: str, source: str, seconds: int) -> None:
        until = self._clock() + timedelta(seconds=seconds)
        self._config.put(tenant, "writeback_state", (source,), {"paused_until": iso(until)})

    def _paused_s(self, tenant: str, source: str) -> int:
        found = self._config.get(tenant, "writeback_state", (source,))
        until = found.data.get("paused_until") if found is not None else None
        if not isinstance(until, str):
            return 0
        return max(0, int((utc(until) - self._clock()).total_seconds()))

    # -- the backfill ---------------------------------------------------------------------------

    def backfill(self, tenant: str, source: str, *, max_pages: int = BACKFILL_PAGES) -> JsonDict:
        """Queue the field writes of the applications open at the ATS: at most max_pages pages per
        run, from the stored cursor (the next run goes on; a finished one starts over next time)."""
        check_tenant(tenant)
        writer = self._writers.get(source)
        if writer is None:
            raise UnknownSource("this source has no field the hub can write")
        if source not in self._tenants.sources(tenant):
            raise NotFound("this tenant has not connected this source")
        if self.delivery(tenant, source).mode != delivery.ATS_FIELD:
            raise BadRequest("the backfill writes links for the ats_field delivery: switch it on first")
        name = (f"{source}:backfill",)
        state = self._config.get(tenant, "writeback_state", name)
        cursor = state.data.get("cursor") if state is not None else None
        version = state.version if state is not None else None
        api = self._connections.api(tenant, source, writer)
        pages = queued = 0
        while pages < max_pages:
            page = writer.open_applications(api, cursor if isinstance(cursor, str) else None, tenant=tenant)
            pages += 1
            for open_application in page.applications:
                event = self._with_region(open_application.event)
                recorded = self._relations.record_once(event, delivery_id=f"backfill:{event.fact_key()}")
                person = recorded.person_id if recorded is not None else self._person(tenant, event)
                if person is not None and isinstance(event, ApplicationEvent):
                    self._queues.send(QUEUE, self._message(tenant, source, event, person, open_application.candidate_id))
                    queued += 1
            cursor = page.cursor
            try:
                version = self._config.put(tenant, "writeback_state", name, {"cursor": cursor}, expected_version=version)
            except Conflict:
                return {"source": source, "pages": pages, "queued": queued, "done": True, "stopped": "busy"}
            if cursor is None:
                break
        return {"source": source, "pages": pages, "queued": queued, "done": cursor is None}

    # -- the daily refresh ----------------------------------------------------------------------

    def refresh_all(self) -> list[JsonDict]:
        """The daily job: refresh_links for every tenant."""
        return [self.refresh_links(tenant) for tenant in self._tenants.tenants()]

    def refresh_links(self, tenant: str) -> JsonDict:
        """Once per link window, per ats_field source with a field writer: queue a backfill, which
        writes each open application's link of the new window (the links of the last one have at
        most LINK_GRACE left). Bounded and resumable as every backfill is (a few pages a run, from
        the stored cursor); a write is once per link digest, so nothing already written is again."""
        window = delivery.window(self._clock())
        queued: list[str] = []
        for source in self._tenants.sources(tenant):
            if source not in self._writers or self.delivery(tenant, source).mode != delivery.ATS_FIELD:
                continue
            name = (f"{source}:refresh",)
            state = self._config.get(tenant, "writeback_state", name)
            if state is not None and state.data.get("window") == window:
                continue  # refreshed in this window already
            try:
                self._config.put(tenant, "writeback_state", name, {"window": window},
                                 expected_version=state.version if state is not None else None)
            except Conflict:
                continue  # another run took it
            self._queues.send(QUEUE, {"backfill": True, "tenant": tenant, "source": source})
            queued.append(source)
        return {"tenant": tenant, "window": window, "queued": queued}

    # -- helpers --------------------------------------------------------------------------------

    def _person(self, tenant: str, event: HubEvent) -> str | None:
        """The person a fact known before is about (a replayed delivery): found by e-mail."""
        if not event.person.email:
            return None
        found = self._relations.find_by_email(tenant, event.person.email)
        return found[0].person.person_id if found else None

    @staticmethod
    def _with_region(event: HubEvent) -> HubEvent:
        ref = event.person
        if ref.phone and not ref.phone_region:
            return replace(event, person=replace(ref, phone_region=phones.DEFAULT_REGION))
        return event

    @staticmethod
    def _message(tenant: str, source: str, event: HubEvent, person_id: str, candidate_id: str | None = None) -> JsonDict:
        """A write's message: ids only, never personal data."""
        return {"tenant": tenant, "source": source, "application_id": event.application_id, "person_id": person_id,
                "candidate_id": candidate_id or event.person.vendor_person_id}

