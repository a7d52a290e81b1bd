"""The admin API's lists (issue 18) on the in-memory fakes: sources with their state and webhook URL
(never a secret), agencies with their pause and slots, segments with a bounded count, a segment's
members a page at a time through the search index (each member once, never a Scan), campaigns with
their counters; every list paged by a cursor of its own."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain import counters
from chalicelib.domain.errors import BadRequest, NotFound, UnknownTenant
from chalicelib.domain.events import iso
from chalicelib.services import Services
from chalicelib.services.common import MEMBERS_QUERIES, MEMBERS_READ_BUDGET
from tests.fakes import Clock, InMemoryCounters
from tests.unit.services.support import PUBLIC_URL, SECRET, configure, deliver, fake, message, person_id


def known(services: Services, who: str, *, tags: tuple[str, ...] = (), kind: str = "candidate.rejected") -> str:
    deliver(services, message(kind, "2026-05-01T09:00:00+00:00", person=who, name=f"{who} さん", application="a1"),
            msg_id=f"m-{who}")
    pid = person_id(services, f"{who}@example.jp")
    assert pid is not None
    if tags:
        services.people.tag_person("acme", pid, {"add": list(tags)})
    return pid


def everyone(page: Any, key: str, **query: str) -> list[dict]:
    """Every item of a list, following `next` to the end."""
    found, cursor = [], None
    while True:
        answer = page({**query, **({"cursor": cursor} if cursor else {})})
        found += answer[key]
        cursor = answer["next"]
        if cursor is None:
            return found


# -- sources --------------------------------------------------------------------------------------

def test_sources_are_listed_with_state_kind_and_webhook_url_and_never_a_secret(services: Services, acme: str,
                                                                              clock: Clock) -> None:
    services.intake.connect_source("acme", "herp", api_key="herp-secret-key")
    services.intake._connections.failing("acme", "herp", "credentials_refused")

    listed = services.source_list.list_sources("acme")["sources"]

    assert [(s["source"], s["kind"], s["status"]) for s in listed] == [("herp", "polled", "failing"),
                                                                      ("standard", "webhook", "ok")]
    herp, standard = listed
    assert herp["reason"] == "credentials_refused" and herp["since"] == iso(clock.now()) and herp["webhook_url"] is None
    assert standard["webhook_url"] == f"{PUBLIC_URL}/webhooks/acme/standard"
    assert herp["secrets"] == {"webhook_secret": False, "api_key": True} and standard["secrets"]["webhook_secret"] is True
    assert all(s["last_delivery_at"] is None for s in listed)  # not tracked
    assert SECRET not in repr(listed) and "herp-secret-key" not in repr(listed)
    assert services.source_list.list_sources("globex") == {"sources": []}
    with pytest.raises(UnknownTenant):
        services.source_list.list_sources("Not A Tenant")


# -- agencies -------------------------------------------------------------------------------------

def test_agencies_are_listed_with_their_pause_and_slots(services: Services, acme: str, clock: Clock) -> None:
    configure(services, "alpha")
    configure(services, "beta")
    services.ports.referrals.save_state("acme", "beta", 3, iso(clock.now() + timedelta(hours=1)))

    listed = services.agencies.list_agencies("acme", {})

    assert listed["next"] is None
    alpha, beta = listed["agencies"]
    assert (alpha["slug"], alpha["paused"], alpha["paused_until"], alpha["paused_why"]) == ("alpha", False, None, None)
    assert (beta["paused"], beta["paused_why"], beta["consecutive_failures"]) == (True, "failures", 3)
    assert beta["paused_until"] == iso(clock.now() + timedelta(hours=1))
    assert alpha["slot_balance"] == 0 and alpha["secrets"] == {"auth": True} and alpha["legal_name"]
    assert "agency-token" not in repr(listed)
    clock.advance(timedelta(hours=2))  # a pause that ended is no pause
    assert services.agencies.list_agencies("acme", {})["agencies"][1]["paused"] is False


def test_a_list_is_paged_by_its_own_cursor(services: Services, acme: str) -> None:
    for slug in ("a1", "a2", "a3"):
        configure(services, slug)

    first = services.agencies.list_agencies("acme", {"limit": "2"})
    assert [a["slug"] for a in first["agencies"]] == ["a1", "a2"] and first["next"]
    rest = services.agencies.list_agencies("acme", {"limit": "2", "cursor": first["next"]})
    assert [a["slug"] for a in rest["agencies"]] == ["a3"] and rest["next"] is None
    with pytest.raises(BadRequest, match="another list"):
        services.nurture.list_campaigns("acme", {"cursor": first["next"]})
    for bad in ({"limit": "0"}, {"limit": "101"}, {"cursor": "not-a-cursor"}, {"after": "a1"}):
        with pytest.raises(BadRequest):
            services.agencies.list_agencies("acme", bad)
    assert services.agencies.list_agencies("globex", {}) == {"agencies": [], "next": None}


# -- segments and their members ---------------------------------------------------------------------

def test_segments_are_listed_with_description_and_a_bounded_count(services: Services, acme: str) -> None:
    known(services, "c-1", tags=("engineer",))
    known(services, "c-2", tags=("engineer", "designer"))
    known(services, "c-3", tags=("designer",))
    services.nurture.put_segment("acme", "engineers", {"expression": "role:rejected AND tag:engineer",
                                                        "description": "エンジニア職の不採用者"})
    services.nurture.put_segment("acme", "rejected", {"expression": "role:rejected"})

    listed = services.nurture.list_segments("acme", {})

    assert [(s["segment"], s["count"], s["description"]) for s in listed["segments"]] == [
        ("engineers", 2, "エンジニア職の不採用者"), ("rejected", 3, None)]
    assert listed["segments"][0]["read_through"] == ["tag:engineer"] and listed["next"] is None
    assert services.nurture.segment_preview("acme", "engineers")["description"] == "エンジニア職の不採用者"
    with pytest.raises(BadRequest, match="description"):
        services.nurture.put_segment("acme", "x", {"expression": "role:rejected", "description": "x" * 501})


def test_a_segment_too_large_to_count_in_a_list_says_null(services: Services, acme: str) -> None:
    for i in range(105):  # more than LIST_COUNT_BUDGET index entries
        known(services, f"c-{i}")
    services.nurture.put_segment("acme", "rejected", {"expression": "role:rejected"})

    [segment] = services.nurture.list_segments("acme", {})["segments"]
    assert segment["count"] is None
    assert services.nurture.segment_preview("acme", "rejected")["count"] == 105  # the single GET counts


def test_members_come_a_page_at_a_time_each_once_under_the_first_driver(services: Services, acme: str) -> None:
    both = known(services, "c-both", tags=("engineer", "designer"))
    engineers = [known(services, f"c-e{i}", tags=("engineer",)) for i in range(3)]
    designers = [known(services, f"c-d{i}", tags=("designer",)) for i in range(3)]
    known(services, "c-none", tags=("sales",))
    services.nurture.put_segment("acme", "makers", {"expression": "tag:designer OR tag:engineer"})

    pages = []
    found = everyone(lambda q: pages.append(services.nurture.segment_members("acme", "makers", q)) or pages[-1],
                     "people", limit="2")

    assert sorted(p["id"] for p in found) == sorted([both, *engineers, *designers])  # each once
    assert all(len(page["people"]) <= 2 for page in pages)
    assert set(found[0]) == {"id", "name", "email", "roles", "tags", "created_at", "last_contact_at"}
    count = services.nurture.segment_preview("acme", "makers")["count"]
    assert count == len(found)  # the same plan as the count


def test_members_are_filtered_by_the_whole_expression_and_reads_are_bounded(services: Services, acme: str) -> None:
    keep = known(services, "c-keep", tags=("engineer",))
    for i in range(30):
        known(services, f"c-skip{i}", tags=("engineer", "do-not-contact"))
    services.nurture.put_segment("acme", "ok", {"expression": "tag:engineer AND NOT tag:do-not-contact"})
    searches: list[int] = []  # the limit of each index query
    search = services.ports.relations.search

    def counted(*args: Any, **kwargs: Any) -> Any:
        searches.append(kwargs["limit"])
        return search(*args, **kwargs)

    services.ports.relations.search = counted  # type: ignore[method-assign]
    found, cursor, per_request = [], None, []
    while True:
        before = len(searches)
        page = services.nurture.segment_members("acme", "ok", {"limit": "1", **({"cursor": cursor} if cursor else {})})
        per_request.append(searches[before:])
        found += page["people"]
        cursor = page["next"]
        if cursor is None:
            break

    assert [p["id"] for p in found] == [keep]
    assert len(per_request) >= 2  # 31 index entries at one a query: more than one request's worth
    assert all(len(queries) <= MEMBERS_QUERIES and sum(queries) <= MEMBERS_READ_BUDGET for queries in per_request)
    assert sum(map(sum, per_request)) <= 31 + len(per_request)  # each index entry read about once, no Scan


def test_a_members_cursor_is_refused_for_another_segment_or_a_changed_one(services: Services, acme: str) -> None:
    for i in range(3):
        known(services, f"c-{i}", tags=("engineer",))
    services.nurture.put_segment("acme", "a", {"expression": "tag:engineer"})
    services.nurture.put_segment("acme", "b", {"expression": "tag:engineer"})
    cursor = services.nurture.segment_members("acme", "a", {"limit": "1"})["next"]
    assert cursor

    with pytest.raises(BadRequest, match="another list"):
        services.nurture.segment_members("acme", "b", {"cursor": cursor})
    with pytest.raises(BadRequest, match="another list"):
        services.nurture.list_segments("acme", {"cursor": cursor})
    services.nurture.put_segment("acme", "a", {"expression": "tag:engineer AND role:rejected"})
    with pytest.raises(BadRequest, match="changed"):
        services.nurture.segment_members("acme", "a", {"cursor": cursor})
    with pytest.raises(NotFound):
        services.nurture.segment_members("acme", "nosuch", {})
    with pytest.raises(NotFound):  # another tenant's segment is not found
        services.nurture.segment_members("globex", "a", {})


# -- campaigns ------------------------------------------------------------------------------------

def test_campaigns_are_listed_with_cadence_segment_template_pause_and_counters(services: Services, acme: str) -> None:
    services.nurture.put_segment("acme", "rejected", {"expression": "role:rejected"})
    services.nurture.put_campaign("acme", "winback", {"segment": "rejected", "template_kind": "nurture",
                                                      "cadence": {"after": "rejection", "days": 180}})
    services.nurture.put_campaign("acme", "yearly", {"segment": "rejected", "template_kind": "nurture", "active": False,
                                                     "cadence": {"every": "year", "on": "rejection"}})
    totals = fake(services, "counters", InMemoryCounters)._m.counters.setdefault("acme", {}).setdefault("TOTAL", {})
    totals.update({counters.campaign("winback", "sent"): 4, counters.campaign_skipped("winback", "opted_out"): 2,
                   counters.campaign_skipped("winback", "left_segment"): 1})  # as the mail step counts them

    listed = services.nurture.list_campaigns("acme", {})

    winback, yearly = listed["campaigns"]
    assert (winback["campaign"], winback["segment"], winback["template_kind"], winback["paused"]) == (
        "winback", "rejected", "nurture", False)
    assert winback["cadence"] == {"after": "rejection", "days": 180} and yearly["paused"] is True
    assert winback["next_run"] is None and {"sent", "deferred", "skipped", "stats"} <= set(winback)
    assert (winback["sent"], winback["skipped"], winback["stats"]["skipped"]) == (4, 3, {"opted_out": 2, "left_segment": 1})
    assert (yearly["sent"], yearly["skipped"]) == (0, 0)
    assert services.nurture.list_campaigns("globex", {}) == {"campaigns": [], "next": None}
