"""The admin API's search queries, cursors and tag edits: any input is a result or a 400."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import fields, people_search
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.people import search_terms
from chalicelib.domain.person import Person

QUERY_KEYS = st.sampled_from(["email", "name", "tag", "role", "limit", "cursor", "other"])


@given(st.dictionaries(QUERY_KEYS, st.text(max_size=60), max_size=6))
def test_any_query_is_a_search_or_a_400(query):
    try:
        search = people_search.parse(query)
    except BadRequest:
        return
    assert 1 <= search.limit <= 100 and (search.email or search.name or search.tag or search.role)


@given(st.one_of(st.text(max_size=80), st.binary(max_size=60).map(lambda b: people_search.encode_cursor({"x": b.hex()}))))
def test_any_cursor_is_understood_or_a_400(cursor):
    try:
        state = people_search.decode_cursor(cursor)
    except BadRequest:
        return
    assert isinstance(state["after"], str)


def test_a_cursor_round_trips_and_belongs_to_its_search():
    search = people_search.parse({"name": "Ｙａｍａ", "limit": "2"})
    assert search.name == "yama" and search.lead() == ("name", "yama")
    cursor = search.cursor("yamada hanako#p_1")
    assert people_search.parse({"name": "yama", "cursor": cursor}).after == "yamada hanako#p_1"
    try:
        people_search.parse({"tag": "x", "cursor": cursor})
    except BadRequest as error:
        assert "another search" in error.message
    else:
        raise AssertionError("a cursor of another search was taken")


@given(st.dictionaries(st.sampled_from(["tags", "add", "remove", "x"]),
                       st.one_of(st.lists(st.text(max_size=60), max_size=60), st.text(), st.none()), max_size=3),
       st.lists(st.text(min_size=1, max_size=10), max_size=5))
def test_any_tag_edit_is_applied_or_a_400(body, current):
    try:
        tags = people_search.tag_change(body)(tuple(current))
    except BadRequest:
        return
    assert len(tags) <= fields.MAX_TAGS


def test_search_terms_follow_roles_tags_sources_and_name():
    person = Person(tenant="t", person_id="p", name="  Yamada   Hanako ", tags=("Engineer",), identities=("greenhouse:1",),
                    extra_roles=("referrer",))
    assert search_terms(person) == {("role", "referrer"), ("tag", "engineer"), ("source", "greenhouse"),
                                    ("name", "yamadahanako")}  # folded: docs/search.md
