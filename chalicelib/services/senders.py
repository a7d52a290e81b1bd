"""Senders: each tenant's sender domain claimed for it alone, registered with the mail service as
that tenant's identity, and its status read again when stale. Notices wait on it (Correspondence)."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain import senders
from chalicelib.domain.errors import BadRequest, Conflict, RetryableError
from chalicelib.domain.events import iso, utc
from chalicelib.domain.ports import Clock, Notices, SenderDomains, SenderIdentities
from chalicelib.domain.records import JsonDict, SenderClaim, SenderIdentity
from chalicelib.domain.tenants import TenantSettings


class Senders:
    def __init__(self, domains: SenderDomains, identities: SenderIdentities, notices: Notices, clock: Clock) -> None:
        self._domains = domains
        self._identities = identities
        self._notices = notices
        self._clock = clock

    def register(self, tenant: str, settings: TenantSettings) -> None:
        """Claim the sender's domain for tenant and register it with the mail service (SES transport;
        an SMTP tenant's sender is its relay's business). Conflict, saying nothing of who holds it,
        when another tenant (or anyone outside the hub) has it."""
        if settings.mail_transport != "ses":
            return
        domain = senders.domain_of(settings.sender_email)
        above = (self._domains.get(parent) for parent in senders.parents(domain))
        if any(held is not None and held.tenant != tenant for held in above) or not self._domains.claim(domain, tenant):
            raise Conflict(senders.REFUSED)
        try:
            identity = self._identities.register(tenant, domain)
        except Conflict:
            self._domains.release(domain, tenant)
            raise
        claim = self._domains.get(domain)
        if claim is None or claim.tenant != tenant:  # released meanwhile by a refused registration
            raise RetryableError("the sender domain changed hands while it was registered; try again")
        self._save(claim, identity)

    def status(self, tenant: str, settings: TenantSettings) -> str:
        """verified when mail may go from the tenant's sender now; else pending, failed or unregistered.
        SMTP tenants: always verified (the hub registers nothing for them)."""
        if settings.mail_transport != "ses":
            return senders.VERIFIED
        claim = self._current(tenant, settings)
        return claim.status if claim else senders.UNREGISTERED

    def overdue(self, tenant: str, settings: TenantSettings) -> bool:
        """Whether the tenant's sender is still not verified UNVERIFIED_ALERT_AFTER its registration
        (an unregistered one too: nothing changes until its settings are PUT again). SMTP: never."""
        if settings.mail_transport != "ses":
            return False
        claim = self._current(tenant, settings)
        if claim is None:
            return True
        return claim.status != senders.VERIFIED and self._clock() - utc(claim.claimed_at) >= senders.UNVERIFIED_ALERT_AFTER

    def describe(self, tenant: str, settings: TenantSettings) -> JsonDict:
        """What the admin sees of the sender: its domain and status, the DNS records to publish, and
        how many notices wait for it. Empty for SMTP tenants."""
        if settings.mail_transport != "ses":
            return {}
        claim = self._current(tenant, settings)
        domain = claim.domain if claim else _domain(settings)
        return {"sender_domain": domain, "sender_status": claim.status if claim else senders.UNREGISTERED,
                "dns_records": senders.dns_records(domain, claim.dkim_tokens) if claim and domain else [],
                "notices_waiting": len(self._notices.waiting(tenant))}

    def _current(self, tenant: str, settings: TenantSettings) -> SenderClaim | None:
        """The tenant's claim on its sender domain with a fresh status (read again when stale; the last
        one read when the mail service does not answer); None when the tenant does not hold it."""
        domain = _domain(settings)
        claim = self._domains.get(domain) if domain else None
        if claim is None or claim.tenant != tenant:
            return None
        if senders.fresh(claim.status, utc(claim.checked_at) if claim.checked_at else None, self._clock()):
            return claim
        try:
            identity = self._identities.lookup(claim.domain)
        except RetryableError:
            return claim
        return self._save(claim, identity)

    def _save(self, claim: SenderClaim, identity: SenderIdentity) -> SenderClaim:
        updated = replace(claim, status=identity.status, dkim_tokens=identity.dkim_tokens or claim.dkim_tokens,
                          checked_at=iso(self._clock()))
        self._domains.save(updated)
        return updated


def _domain(settings: TenantSettings) -> str | None:
    """The sender's domain; None for settings stored before senders were checked that no longer pass."""
    try:
        return senders.domain_of(settings.sender_email)
    except BadRequest:
        return None
