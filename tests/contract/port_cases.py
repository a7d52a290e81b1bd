"""What the port contract suites build their cases from: facts, consented people, an agency."""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.events import ApplicationEvent, HubEvent, PersonRef, iso
from chalicelib.domain.records import JsonDict, Referral
from chalicelib.domain.referrals import Agency, keep_until
from tests.fakes import Stores

TENANT = "acme"
OTHER = "globex"
PERSON_ID = re.compile(r"p_[0-9a-f]{24}")  # what the admin API accepts as a person id
MISSING = "p_" + "0" * 24
ALPHA = Agency(slug="alpha", name="Alpha", legal_name="Alpha Career KK", country="JP", endpoint="https://alpha.example",
               auth_type="bearer", data_items=("name", "email"), batch_size=10, referrals_per_slot=10)


def ref(vid: str = "c1", *, source: str = "greenhouse", email: str | None = "hanako@example.com",
        name: str | None = "Yamada Hanako") -> PersonRef:
    return PersonRef(source=source, vendor_person_id=vid, name=name, email=email, locale="ja")


def fact(cls: type[HubEvent], at: datetime, *, person: PersonRef | None = None, app: str = "a1", tenant: str = TENANT,
         **extra: Any) -> HubEvent:
    return cls(tenant=tenant, person=person or ref(), occurred_at=at, application_id=app, **extra)


def person(stores: Stores, vid: str, *, name: str | None = None, tags: Sequence[str] = (), tenant: str = TENANT,
           ago: timedelta = timedelta(days=2)) -> str:
    """A person who applied (a while ago); their id."""
    event = fact(ApplicationEvent, stores.clock.now() - ago, tenant=tenant, app=f"app-{vid}", tags=tuple(tags),
                 person=ref(vid, email=f"{vid}@example.com", name=name or f"Person {vid}"))
    recorded = stores.relations.record_once(event, delivery_id=f"d-{vid}")
    assert recorded is not None
    return recorded.person_id


def versions(agencies: Sequence[str]) -> dict[str, str]:
    """The agencies a consent page listed, each with its consent version (alpha's is ALPHA's)."""
    return {slug: ALPHA.consent_version if slug == ALPHA.slug else f"r-{slug}" for slug in agencies}


def consent(stores: Stores, person_id: str, relay: bool = True, *, agencies: Sequence[str] = ("alpha",),
            tenant: str = TENANT, renew: bool = False) -> None:
    stores.relations.record_decision(tenant, person_id, {"relay": relay, "openings": True, "renew": renew},
                                     at=stores.clock.now(), version="ja-0123456789abcdef", score=None, token_ref=None,
                                     agencies=versions(agencies))


def consented(stores: Stores, vid: str, *, agencies: Sequence[str] = ("alpha",)) -> str:
    """A person who gave relay consent for the agencies (a referral each is queued); their id."""
    person_id = person(stores, vid)
    consent(stores, person_id, agencies=agencies)
    return person_id


def provisions(stores: Stores, referrals: Sequence[Referral], agency: Agency = ALPHA) -> dict[str, JsonDict]:
    """The provision records a batch run writes for the referrals it claims (APPI Art. 29)."""
    now = stores.clock.now()
    return {r.person_id: {"recipient": {"legal_name": agency.legal_name, "name": agency.name, "country": agency.country},
                          "data_items": list(agency.data_items),
                          "consent": {"given_at": r.consent_at, "version": r.consent_version, "text_version": r.text_version,
                                      "channel": "career_relay_link"},
                          "keep_until": iso(keep_until(now)), "expires_at": keep_until(now), "person_name": "N"}
            for r in referrals}


def all_pages(stores: Stores, kind: str, value: str, *, limit: int, tenant: str = TENANT) -> list[str]:
    """Every id the search index holds for a term, page by page (each page at most `limit`)."""
    found: list[str] = []
    after: str | None = None
    for _ in range(50):
        page, after = stores.relations.search(tenant, kind, value, limit=limit, after=after)
        assert len(page) <= limit
        found += page
        if after is None:
            assert len(found) == len(set(found)), "a person came twice"
            return found
    raise AssertionError("the pages never end")
