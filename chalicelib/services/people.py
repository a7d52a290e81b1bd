"""People for HR and for their rights: search, tags, export, erasure."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import matching, people_search
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.events import iso
from chalicelib.domain.people import normalise_email
from chalicelib.domain.person import Person
from chalicelib.domain.ports import Clock, Referrals, Relations, Suppressions
from chalicelib.domain.records import JsonDict, Merged, Profile
from chalicelib.services.common import check_person_id, check_tenant


@dataclass(frozen=True)
class Found:
    """A page of a search: the people, the next page's cursor, and for an e-mail search their profiles."""

    people: list[Person]
    next: str | None
    profiles: list[Profile] | None


class People:
    def __init__(self, relations: Relations, suppressions: Suppressions, referrals: Referrals, clock: Clock) -> None:
        self._relations = relations
        self._suppressions = suppressions
        self._referrals = referrals
        self._clock = clock

    def person(self, tenant: str, person_id: str) -> Profile | None:
        if not isinstance(person_id, str) or len(person_id) > 100:
            return None
        found = self._relations.profile(check_tenant(tenant), person_id)
        if found is None:  # an id merged into another person leads to them
            into = self._relations.merged_into(tenant, person_id)
            found = self._relations.profile(tenant, into) if into else None
        return found

    def suggested_merges(self, tenant: str, profile: Profile) -> list[JsonDict]:
        """People who may be this one (same phone; same name and reading), found through the search
        index: one bounded page per term, never a Scan. Suggestions only: docs/people.md."""
        person, candidates = profile.person, []
        for kind, value in sorted(matching.match_terms(person)):
            ids, _ = self._relations.search(check_tenant(tenant), kind, value, limit=matching.CANDIDATES_PER_TERM)
            candidates += self._relations.people(tenant, [i for i in ids if i != person.person_id])
        return matching.suggestions(person, candidates)

    def merge_people(self, tenant: str, person_id: str, body: Mapping[str, Any]) -> Merged:
        """Make {"other": id} part of person_id, both of this tenant (another tenant's id: 404)."""
        unknown = set(body) - {"other"}
        if unknown or not isinstance(body.get("other"), str):
            raise BadRequest('the body is {"other": "<person id>"}')
        other = check_person_id(body["other"])
        if other == check_person_id(person_id):
            raise BadRequest("a person cannot be merged with themselves")
        return self._relations.merge(check_tenant(tenant), person_id, other)

    def people_by_email(self, tenant: str, email: str) -> list[Profile]:
        address = normalise_email(email)
        if address is None:
            raise BadRequest("email is not an e-mail address")
        return self._relations.find_by_email(check_tenant(tenant), address)

    def search_people(self, tenant: str, query: Mapping[str, str], *, region: str | None = None,
                      where: Callable[[Person], bool] | None = None) -> JsonDict:
        """People by e-mail, phone, name prefix, tag and role (all given must hold), a page at a time,
        through the search index: the most selective term given is read, the others filter that page.
        `region`: where a phone without a country code is read (the tenant's phone_region); `where`:
        a further filter on the page (the console's saved segment)."""
        found = self.find_people(tenant, query, region=region, where=where)
        if found.profiles is not None:  # by e-mail: one at most, shown with the timeline
            return {"people": [people_search.profile_json(p.person, p.timeline) for p in found.profiles], "next": None}
        return {"people": [people_search.summary(p) for p in found.people], "next": found.next}

    def find_people(self, tenant: str, query: Mapping[str, str], *, region: str | None = None,
                    where: Callable[[Person], bool] | None = None) -> Found:
        """search_people's page as people (the console shows more than the summary)."""
        check_tenant(tenant)
        terms = people_search.parse(query, region)

        def keep(person: Person) -> bool:
            return terms.matches(person) and (where is None or where(person))

        if terms.email:
            profiles = [p for p in self.people_by_email(tenant, terms.email) if keep(p.person)]
            return Found([p.person for p in profiles], None, profiles)
        kind, value = terms.lead()
        ids, after = self._relations.search(tenant, kind, value, limit=terms.limit, after=terms.after)
        # a name prefix can meet one person under several of their forms (name, reading, ...): shown once
        people = [p for p in self._relations.people(tenant, list(dict.fromkeys(ids))) if keep(p)]
        return Found(people, terms.cursor(after), None)

    def tag_person(self, tenant: str, person_id: str, body: Mapping[str, Any]) -> JsonDict:
        change = people_search.tag_change(dict(body))
        person = self._relations.set_tags(check_tenant(tenant), check_person_id(person_id), change)
        if person is None:
            raise NotFound("no such person")
        return people_search.summary(person)

    def export_person(self, tenant: str, person_id: str) -> JsonDict:
        """Everything held about one person (a disclosure request, APPI Art. 33), provision records included."""
        held = self._relations.held(check_tenant(tenant), check_person_id(person_id))
        if held is None:
            raise NotFound("no such person")
        person = held.person
        return {"exported_at": iso(self._clock()), "tenant": tenant, "person": people_search.full(person),
                "timeline": held.timeline, "notices": held.notices, "referrals": held.referrals, "links": held.links,
                "suppressed_for": self._suppressions.reasons(tenant, person.email) if person.email else [],
                "provisions": self._referrals.provisions(tenant, person.person_id)}

    def erase_person(self, tenant: str, person_id: str) -> JsonDict:
        """Erase one person (a deletion request): see Relations.erase for what goes and what stays."""
        if not self._relations.erase(check_tenant(tenant), check_person_id(person_id)):
            raise NotFound("no such person")
        kept = self._referrals.provisions(tenant, person_id)
        return {"erased": person_id, "provision_records_kept": len(kept),
                "kept_until": max((record["keep_until"] for record in kept), default=None)}
