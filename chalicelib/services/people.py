"""People for HR and for their rights: search, tags, export, erasure; the audit trail and admin tokens."""
from __future__ import annotations

import re
from typing import Mapping

from chalicelib.domain import people_search
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.events import iso
from chalicelib.domain.people import normalise_email
from chalicelib.domain.ports import Profile
from chalicelib.services.common import _person_id, check_tenant


class PeopleAdmin:
    """Use cases of chalicelib.services.Hub, over the ports it holds."""

    # -- people ---------------------------------------------------------------------------------

    def person(self, tenant: str, person_id: str) -> Profile | None:
        if not isinstance(person_id, str) or len(person_id) > 100:
            return None
        return self.relations.profile(check_tenant(tenant), person_id)

    def people_by_email(self, tenant: str, email: str) -> list[Profile]:
        address = normalise_email(email)
        if address is None:
            raise BadRequest("email is not an e-mail address")
        return self.relations.find_by_email(check_tenant(tenant), address)

    def search_people(self, tenant: str, query: Mapping[str, str]) -> dict:
        """People by e-mail, name prefix, tag and role (all given must hold), a page at a time, through
        the search index: the most selective term given is read, the others filter that page."""
        check_tenant(tenant)
        terms = people_search.parse(query)
        if terms.email:
            found = self.people_by_email(tenant, terms.email)  # one at most: shown with the timeline
            return {"people": [people_search.profile_json(p.person, p.timeline) for p in found if terms.matches(p.person)],
                    "next": None}
        kind, value = terms.lead()
        ids, after = self.relations.search(tenant, kind, value, limit=terms.limit, after=terms.after)
        people = [p for p in self.relations.people(tenant, ids) if terms.matches(p)]
        return {"people": [people_search.summary(p) for p in people], "next": terms.cursor(after)}

    def tag_person(self, tenant: str, person_id: str, body: dict) -> dict:
        change = people_search.tag_change(body)
        person = self.relations.set_tags(check_tenant(tenant), _person_id(person_id), change)
        if person is None:
            raise NotFound("no such person")
        return people_search.summary(person)

    def export_person(self, tenant: str, person_id: str) -> dict:
        """Everything held about one person (a disclosure request, APPI Art. 33), provision records included."""
        held = self.relations.held(check_tenant(tenant), _person_id(person_id))
        if held is None:
            raise NotFound("no such person")
        person = held.pop("person")
        return {"exported_at": iso(self.clock()), "tenant": tenant, "person": people_search.full(person), **held,
                "suppressed_for": self.suppressions.reasons(tenant, person.email) if person.email else [],
                "provisions": self.referrals_store.provisions(tenant, person.person_id)}

    def erase_person(self, tenant: str, person_id: str) -> dict:
        """Erase one person (a deletion request): see Relations.erase for what goes and what stays."""
        if not self.relations.erase(check_tenant(tenant), _person_id(person_id)):
            raise NotFound("no such person")
        kept = self.referrals_store.provisions(tenant, person_id)
        return {"erased": person_id, "provision_records_kept": len(kept),
                "kept_until": max((record["keep_until"] for record in kept), default=None)}

    # -- admin access ----------------------------------------------------------------------------

    def audit(self, tenant: str, *, who: str, action: str, target: str | None) -> None:
        self.audit_log.record(tenant, who=who, action=action, target=target)

    def audit_entries(self, tenant: str, query: Mapping[str, str]) -> dict:
        check_tenant(tenant)
        limit, before = people_search.page(query)
        entries, after = self.audit_log.entries(tenant, limit=limit, before=before)
        return {"entries": entries, "next": people_search.encode_cursor({"after": after}) if after else None}

    def issue_admin_token(self, tenant: str, *, by: str) -> dict:
        check_tenant(tenant)
        self.relations.add_tenant(tenant)
        token_id, token = self.admin_tokens.issue(tenant, by=by)
        return {"id": token_id, "token": token, "tenant": tenant}

    def revoke_admin_token(self, tenant: str, token_id: str) -> dict:
        check_tenant(tenant)
        if not re.fullmatch(r"[0-9a-f]{16}", token_id or "") or not self.admin_tokens.revoke(tenant, token_id):
            raise NotFound("no such token")
        return {"revoked": token_id}
