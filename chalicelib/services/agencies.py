"""Career Relay agencies: configuration, batches with their claims and answers, the slot
ledger, provision records."""
from __future__ import annotations

from datetime import datetime

from chalicelib.domain import consents, referrals
from chalicelib.domain.errors import (
    BadRequest, Conflict, HubError, NotFound, PayloadError, PermanentError, RetryableError,
)
from chalicelib.domain.events import iso
from chalicelib.services.common import RUN_LEASE_S, check_tenant


class Agencies:
    """Use cases of chalicelib.services.Hub, over the ports it holds."""

    # -- agencies, batches, the slot ledger -------------------------------------------------------

    def put_agency(self, tenant: str, slug: str, body: dict) -> dict:
        check_tenant(tenant)
        agency, auth = referrals.read_agency(slug, body, tuple(self.agency_clients))
        self.credentials.store_agency_auth(tenant, slug, auth)
        self.config.put(tenant, f"AGENCY#{slug}", agency.to_json())
        self.relations.add_tenant(tenant)
        return agency.to_json()

    def agency(self, tenant: str, slug: str) -> referrals.Agency:
        found = self.config.get(check_tenant(tenant), f"AGENCY#{slug}") if isinstance(slug, str) else None
        if not found:
            raise NotFound("no such agency")
        return referrals.Agency.from_json(found[0])

    def run_agency_batches(self, tenant: str, *, max_batches: int = 20) -> list[dict]:
        """Send each agency its queued referrals in batches. Agencies run side by side, so a slow or
        failing one holds up none of the others."""
        from concurrent.futures import ThreadPoolExecutor

        agencies = [referrals.Agency.from_json(a) for a in self.agencies(check_tenant(tenant))]
        if not agencies:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self.agency_parallelism, len(agencies)))) as pool:
            return list(pool.map(lambda agency: self._run_agency(tenant, agency, max_batches), agencies))

    def run_all_agency_batches(self) -> list[dict]:
        return [report for tenant in self.relations.tenants() for report in self.run_agency_batches(tenant)]

    def _run_agency(self, tenant: str, agency: referrals.Agency, max_batches: int) -> dict:
        report = {"agency": agency.slug, "batches": 0, "sent": 0, "accepted": 0, "declined": 0, "withdrawals": 0,
                  "failed_batches": 0, "parked": 0, "status": "ok"}
        store = self.referrals_store
        state = store.state(tenant, agency.slug)
        now = self.clock()
        if state.paused_until and state.paused_until > iso(now):
            return {**report, "status": "paused"}
        if not store.acquire(tenant, agency.slug, RUN_LEASE_S):
            return {**report, "status": "busy"}  # another run is serving this agency right now
        try:
            return self._serve_agency(tenant, agency, max_batches, report, now)
        finally:
            store.release(tenant, agency.slug)

    def _serve_agency(self, tenant: str, agency: referrals.Agency, max_batches: int, report: dict, now: datetime) -> dict:
        store = self.referrals_store
        client = self._agency_client(tenant, agency)
        try:
            for referral in store.pending_withdrawals(tenant, agency.slug):
                client.withdraw(referral.referral_id, iso(now))
                store.withdrawal_sent(referral)
                report["withdrawals"] += 1
            for batch in store.open_batches(tenant, agency.slug):  # a run that stopped halfway, or a partial answer
                self._deliver(tenant, agency, client, batch, report)
            while report["batches"] < max_batches:
                queued = store.queued(tenant, agency.slug, agency.batch_size)
                if not queued:
                    break
                batch = store.new_batch(tenant, agency.slug)
                settings = self.tenant_settings(tenant)
                ids = [referral.pk.split("#P#", 1)[1] for referral in queued]
                names = {person.person_id: person.name for person in self.relations.people(tenant, ids)}
                store.claim(tenant, queued, batch, agency, {person_id: {
                    "recipient": {"legal_name": agency.legal_name, "name": agency.name, "country": agency.country},
                    "data_items": list(agency.data_items),
                    "consent": {"given_at": referral.consent_at, "text_version": referral.consent_version,
                                "channel": consents.CHANNEL},
                    "keep_until": iso(referrals.keep_until(now)), "expires_at": referrals.keep_until(now),
                    "person_name": names.get(person_id)} for person_id, referral in zip(ids, queued)})
                if not batch.members:
                    store.close_batch(batch, "empty")
                    continue
                self._deliver(tenant, agency, client, batch, report, settings)
        except HubError as error:
            report["status"] = error.code
        return report

    def _agency_client(self, tenant: str, agency: referrals.Agency):
        auth = self.credentials.agency_auth(tenant, agency.slug)
        return self.agency_clients[agency.client].Client(agency.endpoint, auth, timeout=(3.05, self.agency_timeout_s))

    def _deliver(self, tenant: str, agency: referrals.Agency, client, batch, report: dict, settings=None) -> None:
        """Send one batch (retrying within the run), then record every answer exactly once."""
        store = self.referrals_store
        settings = settings or self.tenant_settings(tenant)
        members = [m for m in store.members(tenant, batch) if m.status == "sending"]
        profiles = store.profiles(tenant, [m.pk.split("#P#", 1)[1] for m in members])
        payload, by_id = [], {}
        for member in members:
            person_id = member.pk.split("#P#", 1)[1]
            profile = profiles.get(person_id)
            if profile is None or not profile[2]:
                store.fail(tenant, member, "consent withdrawn or person erased before sending")
                continue
            person, timeline, _ = profile
            payload.append(referrals.payload(person, timeline, member.referral_id, agency.data_items,
                                             {"at": member.consent_at, "text_version": member.consent_version}))
            by_id[member.referral_id] = member
        if not payload:
            store.close_batch(batch)
            return
        referrer = {"company_name": settings.company_name if settings else tenant,
                    "contact": settings.contact if settings else ""}
        report["batches"] += 1
        error: HubError | None = None
        for attempt in range(referrals.MAX_TRIES_PER_RUN):
            try:
                results = client.send(batch.sk.split("#", 1)[1], batch.idempotency_key, referrer, payload)
                error = None
                break
            except RetryableError as failure:
                error = failure
                if attempt + 1 < referrals.MAX_TRIES_PER_RUN:
                    self.sleep(referrals.backoff_s(attempt, retry_after=failure.retry_after_s))
            except (PermanentError, PayloadError) as failure:
                error = failure
                break
        if error is not None:
            self._batch_failed(tenant, agency, batch, by_id, error, report)
            return
        report["sent"] += len(payload)
        answers: dict[str, tuple] = {}  # one answer per referral, the first, whatever the agency repeats
        for result in results:
            answers.setdefault(result.referral_id, (by_id[result.referral_id], result.status, result.agency_ref))
        for outcome in store.settle(tenant, agency, list(answers.values())):
            if outcome:
                report[outcome] += 1
        answered = {r.referral_id for r in results}
        if answered >= set(by_id):
            store.close_batch(batch)
        else:  # a partial answer: the rest go again with this batch's key
            store.batch_attempted(batch, "partial answer", park=False)
        store.save_state(tenant, agency.slug, 0, None)

    def _batch_failed(self, tenant: str, agency: referrals.Agency, batch, members: dict, error: HubError, report: dict) -> None:
        store = self.referrals_store
        report["failed_batches"] += 1
        park = (batch.attempts or 0) + 1 >= referrals.MAX_BATCH_ATTEMPTS or isinstance(error, PermanentError)
        store.batch_attempted(batch, error.message, park=park)
        if park:
            report["parked"] += 1
            for member in members.values():
                store.fail(tenant, member, error.code)
            self.queues.send("agency_dead_letters", {"tenant": tenant, "agency": agency.slug, "batch": batch.sk,
                                                     "error": error.code, "referrals": len(members)})
        state = store.state(tenant, agency.slug)
        failures = (state.consecutive_failures or 0) + 1
        pause = referrals.pause_for(failures)
        store.save_state(tenant, agency.slug, failures, iso(self.clock() + pause) if pause else None)
        if pause:
            report["status"] = "circuit_open"

    def ledger(self, tenant: str, slug: str) -> dict:
        agency = self.agency(tenant, slug)
        counts = self.referrals_store.ledger_counts(tenant, slug)
        entries = self.referrals_store.ledger_entries(tenant, slug)
        return {**counts, "slot_balance": counts["slots_earned"] - counts["slots_used"],
                "referrals_per_slot": agency.referrals_per_slot, "entries": entries}

    def use_slot(self, tenant: str, slug: str, body: dict, *, by: str) -> dict:
        self.agency(tenant, slug)
        note = body.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 500):
            raise BadRequest("note must be a string of at most 500 characters")
        entry = self.referrals_store.use_slot(tenant, slug, note=note, by=by)
        if entry is None:
            raise Conflict("no free slot left: the balance is 0")
        return entry

    def provisions(self, tenant: str, person_id: str) -> list[dict]:
        if not isinstance(person_id, str) or not person_id or len(person_id) > 100:
            raise BadRequest("give ?person_id=...")
        return self.referrals_store.provisions(check_tenant(tenant), person_id)
