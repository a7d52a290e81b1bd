"""Segment expressions, cadences and rediscovery flags: pure rules, no storage."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import nurture, rediscovery, segments
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.events import iso
from chalicelib.domain.person import Person, Track

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def person(**fields) -> Person:
    return Person(tenant="acme", person_id="p_" + "0" * 24, **fields)


def days_ago(days: int) -> str:
    return iso(NOW - timedelta(days=days))


REJECTED_ENGINEER = person(tags=("Engineer",), identities=("greenhouse:1",), email="a@example.jp",
                           tracks={"app:greenhouse:1": Track("rejected", days_ago(200), stage="一次面接", reason="経験")})
ALUMNUS = person(tags=("sales",), identities=("smarthr:9",), tracks={"employment": Track("exited", days_ago(400))},
                 milestones={"first_exited_at": days_ago(400)})


@pytest.mark.parametrize("expression,drivers", [
    ("role:rejected AND tag:engineer AND rejected_within:365d AND NOT tag:do-not-contact", (("tag", "engineer"),)),
    ("role:alumni", (("role", "alumni"),)),
    ("(tag:a OR source:lever) AND rejected_within:30d", (("tag", "a"), ("source", "lever"))),
    ('tag:"data science" and not reason:"経験 不足"', (("tag", "data science"),)),
    ("role:rejected OR (role:alumni AND exited_before:2026-01-01)", (("role", "rejected"), ("role", "alumni"))),
])
def test_expressions_parse_with_their_index_drivers(expression, drivers):
    assert segments.parse(expression).drivers == drivers


@pytest.mark.parametrize("expression,message", [
    ("role:rejected AND", "position 18: expected a term"),
    ("role:rejected tag:x", "position 15: expected AND, OR or the end"),
    ("(role:rejected OR tag:x", "position 24: expected ')' to close the '(' at position 1"),
    ("role:rejected AND colour:blue", "position 19: unknown field 'colour'"),
    ("role:boss", "position 6: expected a role"),
    ("role:rejected AND rejected_within:365", "position 35: expected a number of days like 365d"),
    ("role:rejected AND exited_after:2026-02-30", "position 32: expected a date"),
    ('tag:"open', 'position 5: a quoted value is not closed'),
    ("rejected_within:30d", "position 1: every alternative"),
    ("role:rejected OR rejected_within:30d", "position 18: every alternative"),
    ("NOT tag:x", "position 5: every alternative"),
    ("role:rejected AND )", "position 19: expected a term"),
    ("tag:", "position 5: expected a value"),
    ("tag:a\x00", "position 6: expected printable text"),
    ("tag:\ud800", "position 5: expected printable text"),
])
def test_bad_expressions_are_refused_naming_the_position(expression, message):
    with pytest.raises(BadRequest) as refused:
        segments.parse(expression)
    assert message in refused.value.message


def test_deep_nesting_and_long_expressions_are_refused_not_crashed():
    with pytest.raises(BadRequest, match="nested more than"):
        segments.parse("(" * 200 + "tag:a" + ")" * 200)
    with pytest.raises(BadRequest, match="longer than"):
        segments.parse("tag:a OR " * 400 + "tag:b")


PIECES = st.sampled_from(list('()" :-dtagrolesxy0123456789\\') + ["tag:", "role:rejected", "source:", "stage:",
                                                                  "rejected_within:", "365d", " AND ", " OR ", "NOT "])


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join) | st.text(max_size=80))
def test_any_text_parses_or_is_a_bad_request(text):
    try:
        segment = segments.parse(text)
    except BadRequest as error:
        assert error.message
        return
    assert segment.drivers
    segment.matches(REJECTED_ENGINEER, NOW)


@pytest.mark.parametrize("expression,engineer,alumnus", [
    ("role:rejected AND tag:engineer AND rejected_within:365d AND NOT tag:do-not-contact", True, False),
    ("role:rejected AND rejected_within:100d", False, False),
    ("role:rejected AND stage:一次面接 AND reason:経験", True, False),
    ("source:greenhouse OR role:alumni", True, True),
    ("role:alumni AND exited_within:365d", False, False),
    ("role:alumni AND exited_before:2025-06-01", False, True),
    ("role:alumni AND exited_after:2025-01-01", False, True),
    ("tag:sales AND NOT (role:rejected OR role:applicant)", False, True),
])
def test_matches_reads_the_persons_state(expression, engineer, alumnus):
    segment = segments.parse(expression)
    assert segment.matches(REJECTED_ENGINEER, NOW) is engineer
    assert segment.matches(ALUMNUS, NOW) is alumnus


# -- cadences -------------------------------------------------------------------------------------

def test_after_rejection_is_due_once_per_ending():
    cadence = nurture.read_cadence({"after": "rejection", "days": 180})
    due = nurture.occurrence(REJECTED_ENGINEER, cadence, last_done=None, enrolled_at=iso(NOW))
    assert due == days_ago(20)
    assert nurture.occurrence(REJECTED_ENGINEER, cadence, last_done=due, enrolled_at=iso(NOW)) is None
    rejected_again = person(tracks={**REJECTED_ENGINEER.tracks, "app:greenhouse:2": Track("rejected", days_ago(5))})
    assert nurture.occurrence(rejected_again, cadence, last_done=due, enrolled_at=iso(NOW)) == iso(NOW + timedelta(days=175))


def test_yearly_on_exit_takes_the_next_anniversary_after_enrolment_and_the_last_one_done():
    cadence = nurture.read_cadence({"every": "year", "on": "exit"})
    first = nurture.occurrence(ALUMNUS, cadence, last_done=None, enrolled_at=iso(NOW))
    assert first == iso(NOW - timedelta(days=400) + timedelta(days=730))  # 2 years after, the first not past
    assert nurture.occurrence(ALUMNUS, cadence, last_done=first, enrolled_at=iso(NOW)) > first
    leap = person(tracks={"employment": Track("exited", "2024-02-29T09:00:00.000000Z")})
    assert nurture.occurrence(leap, cadence, last_done=None, enrolled_at="2024-06-01T00:00:00.000000Z") == "2025-02-28T09:00:00.000000Z"


@pytest.mark.parametrize("cadence", [None, [], {"after": "hire", "days": 3}, {"after": "exit", "days": -1},
                                     {"after": "exit", "days": True}, {"every": "month", "on": "exit"},
                                     {"every": "year", "on": "exit", "days": 3}, {"after": "exit"}])
def test_bad_cadences_are_refused(cadence):
    with pytest.raises(BadRequest, match="cadence"):
        nurture.read_cadence(cadence)


def test_only_opted_in_reachable_people_may_get_nurture_mail():
    opted_in = person(email="a@example.jp", consents={"openings": {"given": True}})
    assert nurture.why_not(opted_in) is None
    assert nurture.why_not(person(email="a@example.jp")) == "not_opted_in"
    assert nurture.why_not(person(email="a@example.jp", consents={"openings": {"given": False}})) == "not_opted_in"
    assert nurture.why_not(person(email="a@example.jp", consents={"openings": {"given": True}, "mail": {"opted_out": True}})) == "opted_out"
    assert nurture.why_not(person(consents={"openings": {"given": True}})) == "no_email"


def test_the_interval_holds_except_for_the_same_mail_claimed_again():
    claimed = nurture.claimed(person(), "k1", NOW - timedelta(days=10))
    assert nurture.interval_clear(claimed, "k1", NOW, 90) is None
    assert nurture.interval_clear(claimed, "k2", NOW, 90) == iso(NOW + timedelta(days=80))
    assert nurture.interval_clear(claimed, "k2", NOW + timedelta(days=81), 90) is None


# -- rediscovery ----------------------------------------------------------------------------------

def entry(kind, at, app, **extra):
    return {"type": kind, "occurred_at": at, "source": "standard", "application_id": app, **extra}


def test_reapplications_and_boomerangs_are_flagged_whatever_order_the_timeline_is_in():
    timeline = [entry("applied", "2025-01-01", "a1"), entry("rejected", "2025-02-01", "a1"),
                entry("applied", "2025-08-01", "a2"), entry("hired", "2025-09-01", "a2"),
                entry("exited", "2026-01-01", "emp"), entry("applied", "2026-03-01", "a3"), entry("hired", "2026-04-01", "a3")]
    flagged = rediscovery.annotate(timeline)
    assert [(e["application_id"], e.get("reapplication"), e.get("boomerang")) for e in flagged] == [
        ("a1", None, None), ("a1", None, None), ("a2", True, None), ("a2", None, None), ("emp", None, None),
        ("a3", True, True), ("a3", None, True)]
    shuffled = list(reversed(timeline))
    assert rediscovery.annotate(shuffled) == list(reversed(flagged))


def test_a_reverted_rejection_is_no_ending_to_come_back_from():
    timeline = [entry("applied", "2025-01-01", "a1"), entry("rejected", "2025-02-01", "a1"),
                entry("rejection_reverted", "2025-02-02", "a1"), entry("applied", "2025-03-01", "a2")]
    assert not any(e.get("reapplication") for e in rediscovery.annotate(timeline))


def test_a_rejection_reverted_at_its_own_instant_is_no_ending_either():
    timeline = [entry("rejection_reverted", "2025-02-01", "a1"), entry("rejected", "2025-02-01", "a1"),
                entry("applied", "2025-03-01", "a2")]
    assert not any(e.get("reapplication") for e in rediscovery.annotate(timeline))
