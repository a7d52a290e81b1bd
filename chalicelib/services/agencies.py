"""Career Relay agencies: configuration, batches with their claims and answers, the slot
ledger, provision records."""
from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import consents, counters, ledger, listing, referrals
from chalicelib.domain.errors import PARTNER_FAILED, BadRequest, Conflict, HubError, NotFound, PayloadError, PermanentError, RetryableError
from chalicelib.domain.events import iso
from chalicelib.domain.ports import (
    AgencyClient,
    AgencyClientFactory,
    Clock,
    Config,
    Credentials,
    Egress,
    Queues,
    Referrals,
    Relations,
    Sleep,
    Tenants,
)
from chalicelib.domain.records import Answer, Batch, JsonDict, Referral, ReferralResult
from chalicelib.domain.referrals import Agency
from chalicelib.domain.tenants import TenantSettings
from chalicelib.services.common import RUN_LEASE_S, check_tenant
from chalicelib.services.configuration import Configuration

MAX_WAIT_S = 5.0  # the longest sleep inside a run (or an admin request): a longer wait pauses the agency instead
STOPPED = ("circuit_open", "paused")  # a run status after which this agency's run sends nothing more


@dataclass(frozen=True)
class Wait:
    """The agency asked for a wait longer than MAX_WAIT_S (Retry-After, or backoff): the run ends there."""

    seconds: float


@dataclass
class RunReport:
    """What one batch run did for one agency."""

    agency: str
    batches: int = 0
    sent: int = 0
    accepted: int = 0
    declined: int = 0
    withdrawals: int = 0
    failed_batches: int = 0
    parked: int = 0
    held: int = 0    # consented under another version of the agency: held until the person consents again
    status: str = "ok"

    def to_json(self) -> JsonDict:
        return {"agency": self.agency, "batches": self.batches, "sent": self.sent, "accepted": self.accepted,
                "declined": self.declined, "withdrawals": self.withdrawals, "failed_batches": self.failed_batches,
                "parked": self.parked, "held": self.held, "status": self.status}


class Agencies:
    def __init__(self, *, referrals: Referrals, relations: Relations, credentials: Credentials, config: Config,
                 tenants: Tenants, queues: Queues, agency_clients: Mapping[str, AgencyClientFactory], egress: Egress,
                 configuration: Configuration, clock: Clock, sleep: Sleep, timeout_s: float, parallelism: int) -> None:
        self._referrals = referrals
        self._relations = relations
        self._credentials = credentials
        self._config = config
        self._tenants = tenants
        self._queues = queues
        self._agency_clients = agency_clients
        self._egress = egress
        self._configuration = configuration
        self._clock = clock
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._parallelism = parallelism

    # -- configuration --------------------------------------------------------------------------

    def put_agency(self, tenant: str, slug: str, body: Mapping[str, Any]) -> JsonDict:
        """Configure an agency; which secrets it has now ({"auth": bool}).

        Its credentials are bound to its endpoint: an update may leave auth out while the endpoint
        stays; a new endpoint without new auth drops the stored credentials (before the new
        endpoint is written, so they never reach it). The endpoint must pass the egress policy."""
        check_tenant(tenant)
        agency, auth = referrals.read_agency(slug, dict(body), tuple(self._agency_clients), auth_required=False)
        found = self._config.get(tenant, "agency", (slug,))
        previous = Agency.from_json(found.data) if found else None
        if previous is None and auth is None:
            raise BadRequest('a new agency needs its auth: {"type": "standard_webhooks", "secret": "whsec_..."} '
                             'or {"type": "bearer", "token": "..."}')
        self._egress.check_url(agency.endpoint, what="endpoint")
        same_place = previous is not None and previous.endpoint == agency.endpoint
        if auth is None and same_place and previous is not None:
            agency = replace(agency, auth_type=previous.auth_type)  # the stored credentials still apply
        if not same_place and previous is not None:
            self._credentials.drop_agency_auth(tenant, slug)
        self._config.put(tenant, "agency", (slug,), agency.to_json())
        if auth is not None:
            self._credentials.store_agency_auth(tenant, slug, auth)
        self._config.put_once(tenant, "consent_text", (agency.consent_version,), referrals.consent_evidence(agency.to_json()))
        self._tenants.add_tenant(tenant)
        return {**agency.to_json(), "secrets": {"auth": agency.auth_type != referrals.NO_AUTH}}

    def agency_view(self, tenant: str, slug: str) -> JsonDict:
        """An agency's configuration and its circuit: until when it is paused (None: not paused)."""
        agency = self.agency(tenant, slug)
        state = self._referrals.state(tenant, slug)
        return {**agency.to_json(), "paused_until": state.paused_until,
                "consecutive_failures": state.consecutive_failures,
                "recent_batches": self._referrals.recent_batches(tenant, slug, 20)}  # e20-programs

    # -- issue 18, the admin API's lists --
    def list_agencies(self, tenant: str, query: Mapping[str, str]) -> JsonDict:
        """A page of the agencies: each one's configuration (no secret: which it has, as a boolean),
        whether it is paused now (until when, and why), and its free slots."""
        limit, after = listing.read_page(query, "agencies")
        named, following = self._config.page(check_tenant(tenant), "agency", limit=limit, after=after)
        now, answer = iso(self._clock()), []
        for slug, document in named:
            agency = Agency.from_json(document.data)
            state = self._referrals.state(tenant, slug)
            counts = self._referrals.ledger_counts(tenant, slug)
            paused = bool(state.paused_until and state.paused_until > now)
            why = None if not paused else "failures" if state.consecutive_failures else "agency_asked_to_wait"
            answer.append({**agency.to_json(), "secrets": {"auth": agency.auth_type != referrals.NO_AUTH},
                           "paused": paused, "paused_until": state.paused_until if paused else None,
                           "paused_why": why, "consecutive_failures": state.consecutive_failures,
                           "slot_balance": counts["slots_earned"] - counts["slots_used"]})
        return {"agencies": answer, "next": listing.cursor("agencies", following)}

    def agency(self, tenant: str, slug: str) -> Agency:
        found = self._config.get(check_tenant(tenant), "agency", (slug,)) if isinstance(slug, str) else None
        if not found:
            raise NotFound("no such agency")
        return Agency.from_json(found.data)

    # -- batch runs -----------------------------------------------------------------------------

    def run_agency_batches(self, tenant: str, *, max_batches: int = 20) -> list[JsonDict]:
        """Send each agency its queued referrals in batches. Agencies run side by side, so a slow or
        failing one holds up none of the others."""
        agencies = self._configuration.agencies(check_tenant(tenant))
        if not agencies:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self._parallelism, len(agencies)))) as pool:
            return [report.to_json() for report in
                    pool.map(lambda agency: self._run_agency(tenant, agency, max_batches), agencies)]

    def run_all_agency_batches(self) -> list[JsonDict]:
        return [report for tenant in self._tenants.tenants() for report in self.run_agency_batches(tenant)]

    def _run_agency(self, tenant: str, agency: Agency, max_batches: int) -> RunReport:
        report = RunReport(agency.slug)
        state = self._referrals.state(tenant, agency.slug)
        now = self._clock()
        if state.paused_until and state.paused_until > iso(now):
            report.status = "paused"
            return report
        if not self._referrals.acquire(tenant, agency.slug, RUN_LEASE_S):
            report.status = "busy"  # another run is serving this agency right now
            return report
        try:
            self._serve_agency(tenant, agency, max_batches, report, now)
        finally:
            self._referrals.release(tenant, agency.slug)
        return report

    def _serve_agency(self, tenant: str, agency: Agency, max_batches: int, report: RunReport, now: datetime) -> None:
        store = self._referrals
        if agency.auth_type == referrals.NO_AUTH:
            report.status = "no_credentials"  # its endpoint changed without new auth: set auth again
            return
        try:
            client = self._agency_client(tenant, agency)  # unreadable credentials fail this agency alone
            for referral in store.pending_withdrawals(tenant, agency.slug):
                try:
                    client.withdraw(referral.referral_id, iso(now))
                except HubError:
                    report.status = PARTNER_FAILED  # one code whatever answered; tried again next run
                    return
                store.withdrawal_sent(referral)
                report.withdrawals += 1
            for batch in store.open_batches(tenant, agency.slug):  # a run that stopped halfway, or a partial answer
                if report.status in STOPPED:
                    return
                self._deliver(tenant, agency, client, batch, report)
            rounds = 0
            while report.batches < max_batches and report.status not in STOPPED and rounds < 4 * max_batches:
                rounds += 1  # (a paused agency is left alone; a round of held referrals only is a round too)
                queued = store.queued(tenant, agency.slug, agency.batch_size)
                if not queued:
                    break
                queued = self._hold_other_versions(tenant, agency, queued, report)
                if not queued:
                    continue
                batch = store.new_batch(tenant, agency.slug)
                settings = self._configuration.tenant_settings(tenant)
                names = {person.person_id: person.name
                         for person in self._relations.people(tenant, [r.person_id for r in queued])}
                store.claim(tenant, queued, batch, agency, {
                    referral.person_id: self._provision(agency, referral, now, names.get(referral.person_id))
                    for referral in queued})
                if not batch.members:
                    store.close_batch(batch, "empty")
                    continue
                self._deliver(tenant, agency, client, batch, report, settings)
        except HubError as error:
            report.status = error.code

    def _hold_other_versions(self, tenant: str, agency: Agency, found: list[Referral],
                             report: RunReport) -> list[Referral]:
        """The referrals consented under the agency's version now; the others are held (not sent,
        not failed) until the person consents to this version. The claim checks it again."""
        current = agency.consent_version
        for referral in found:
            if referral.consent_version != current and self._referrals.hold(tenant, referral):
                report.held += 1
        return [referral for referral in found if referral.consent_version == current]

    @staticmethod
    def _provision(agency: Agency, referral: Referral, now: datetime, person_name: str | None) -> JsonDict:
        """The provision record of one referral (APPI Art. 29): recipient, items, the consent with
        the version it was given to (the version sent under), kept until."""
        return {"recipient": {"legal_name": agency.legal_name, "name": agency.name, "country": agency.country,
                              "endpoint_owner": referrals.endpoint_owner(agency.endpoint)},
                "data_items": list(agency.data_items),
                "consent": {"given_at": referral.consent_at, "version": referral.consent_version,
                            "text_version": referral.text_version or referral.consent_version,
                            "channel": consents.CHANNEL},
                "keep_until": iso(referrals.keep_until(now)), "expires_at": referrals.keep_until(now),
                "person_name": person_name}

    def _agency_client(self, tenant: str, agency: Agency) -> AgencyClient:
        auth = self._credentials.agency_auth(tenant, agency.slug)
        return self._agency_clients[agency.client](agency.endpoint, auth, timeout=(3.05, self._timeout_s))

    def _deliver(self, tenant: str, agency: Agency, client: AgencyClient, batch: Batch, report: RunReport,
                 settings: TenantSettings | None = None) -> None:
        """Send one batch (retrying within the run), then record every answer exactly once."""
        store = self._referrals
        settings = settings or self._configuration.tenant_settings(tenant)
        members = self._hold_other_versions(tenant, agency, [m for m in store.members(tenant, batch)
                                                             if m.status == "sending"], report)
        profiles = self._relations.profiles(tenant, [m.person_id for m in members])
        payload, by_id = [], {}
        for member in members:
            profile = profiles.get(member.person_id)
            if profile is None or not consents.relay_stands(profile.person):
                store.fail(tenant, member, "consent withdrawn or person erased before sending")
                continue
            payload.append(referrals.payload(profile.person, profile.timeline, member.referral_id, agency.data_items,
                                             {"at": member.consent_at, "version": member.consent_version,
                                              "text_version": member.text_version or member.consent_version}))
            by_id[member.referral_id] = member
        if not payload:
            store.close_batch(batch)
            return
        referrer = {"company_name": settings.company_name if settings else tenant,
                    "contact": settings.contact if settings else ""}
        report.batches += 1
        results = self._send(client, batch, referrer, payload)
        if isinstance(results, Wait):
            # no sleep past MAX_WAIT_S: the batch stays open (its Idempotency-Key with it) and the
            # first scheduled run after paused_until sends it again
            state = store.state(tenant, agency.slug)
            store.save_state(tenant, agency.slug, state.consecutive_failures,
                             iso(self._clock() + timedelta(seconds=results.seconds)))
            report.status = "paused"
            return
        if isinstance(results, HubError):
            self._batch_failed(tenant, agency, batch, by_id, results, report)
            return
        report.sent += len(payload)
        answers: dict[str, Answer] = {}  # one answer per referral, the first, whatever the agency repeats
        for result in results:
            answers.setdefault(result.referral_id, Answer(by_id[result.referral_id], result.status, result.agency_ref))
        for outcome in store.settle(tenant, agency, list(answers.values())):
            if outcome == "accepted":
                report.accepted += 1
            elif outcome == "declined":
                report.declined += 1
        if {r.referral_id for r in results} >= set(by_id):
            store.close_batch(batch)
        else:  # a partial answer: the rest go again with this batch's key
            store.batch_attempted(batch, "partial answer", park=False)
        store.save_state(tenant, agency.slug, 0, None)

    def _send(self, client: AgencyClient, batch: Batch, referrer: Mapping[str, str],
              payload: list[JsonDict]) -> list[ReferralResult] | HubError | Wait:
        """The agency's results for a batch, trying a few times within the run; or the last error; or
        a Wait when the agency asks for (or the backoff comes to) more than MAX_WAIT_S."""
        error: HubError = RetryableError("not sent")
        for attempt in range(referrals.MAX_TRIES_PER_RUN):
            try:
                return list(client.send(batch.batch_id, batch.idempotency_key, referrer, payload))
            except RetryableError as failure:
                error = failure
                wait = referrals.backoff_s(attempt, retry_after=failure.retry_after_s)
                if wait > MAX_WAIT_S:
                    return Wait(wait)
                if attempt + 1 < referrals.MAX_TRIES_PER_RUN:
                    self._sleep(wait)
            except (PermanentError, PayloadError) as failure:
                return failure
        return error

    def _batch_failed(self, tenant: str, agency: Agency, batch: Batch, members: Mapping[str, Referral],
                      error: HubError, report: RunReport) -> None:
        store = self._referrals
        report.failed_batches += 1
        park = (batch.attempts or 0) + 1 >= referrals.MAX_BATCH_ATTEMPTS or isinstance(error, PermanentError)
        store.batch_attempted(batch, error.message, park=park)
        if park:
            report.parked += 1
            for member in members.values():
                store.fail(tenant, member, PARTNER_FAILED)  # the admin reads one code; error.code goes below
            self._queues.send("agency_dead_letters", {"tenant": tenant, "agency": agency.slug, "batch": batch.batch_id,
                                                      "error": error.code, "referrals": len(members)})
        failures = self._referrals.state(tenant, agency.slug).consecutive_failures + 1
        pause = referrals.pause_for(failures)
        store.save_state(tenant, agency.slug, failures, iso(self._clock() + pause) if pause else None)
        if pause:
            report.status = "circuit_open"

    # -- the ledger -----------------------------------------------------------------------------

    def ledger(self, tenant: str, slug: str) -> JsonDict:
        agency = self.agency(tenant, slug)
        counts = self._referrals.ledger_counts(tenant, slug)
        entries = self._referrals.ledger_entries(tenant, slug)
        # e20-programs: each slot_earned entry names the accepted referrals that earned it (domain/ledger.py)
        explained, progress = ledger.explain(entries, counts[counters.LEDGER_ACCEPTED], agency.referrals_per_slot,
                                             lambda first, last: self._referrals.accepted_referrals(tenant, slug, first, last))
        return {**counts, "slot_balance": counts["slots_earned"] - counts["slots_used"],
                "referrals_per_slot": agency.referrals_per_slot, "entries": explained, "toward_next_slot": progress}

    def recent_batches(self, tenant: str, slug: str, limit: int = 20) -> list[JsonDict]:
        """e20-programs: the agency's last batches with their outcomes (status, members, attempts, error)."""
        self.agency(tenant, slug)
        return self._referrals.recent_batches(tenant, slug, limit)

    def ledger_counts(self, tenant: str, slug: str) -> dict[str, int]:
        return self._referrals.ledger_counts(tenant, slug)

    def use_slot(self, tenant: str, slug: str, body: Mapping[str, Any], *, by: str) -> JsonDict:
        self.agency(tenant, slug)
        note = body.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 500):
            raise BadRequest("note must be a string of at most 500 characters")
        entry = self._referrals.use_slot(tenant, slug, note=note, by=by)
        if entry is None:
            raise Conflict("no free slot left: the balance is 0")
        return entry

    def provisions(self, tenant: str, person_id: str) -> list[JsonDict]:
        if not isinstance(person_id, str) or not person_id or len(person_id) > 100:
            raise BadRequest("give ?person_id=...")
        return self._referrals.provisions(check_tenant(tenant), person_id)
