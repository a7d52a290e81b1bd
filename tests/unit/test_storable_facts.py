"""Facts storage cannot hold are refused where every source builds them (issue 16, point 3)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import PayloadError
from chalicelib.domain.events import Lookup, PersonRef, RejectionEvent

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("field", ["vendor_person_id", "name", "email", "phone"])
@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "a\x00b", "a\nb", "a\u2028b", "\x1b[31m"])
def test_a_person_with_a_lone_surrogate_or_a_control_character_in_a_name_an_address_or_an_id_is_refused(field, bad):
    values = {"vendor_person_id": "c-1", field: bad}
    with pytest.raises(PayloadError) as refused:
        PersonRef(source="standard", **values)
    assert bad not in refused.value.message and field in refused.value.message


@pytest.mark.parametrize("field", ["application_id", "delivery_id", "job_id"])
def test_an_event_with_a_control_character_in_an_id_is_refused(field):
    with pytest.raises(PayloadError):
        RejectionEvent(tenant="acme", person=PersonRef("standard", "c-1"), occurred_at=AT, **{field: "a\x00"})


def test_free_text_keeps_its_line_breaks_but_not_lone_surrogates():
    kept = RejectionEvent(tenant="acme", person=PersonRef("standard", "c-1"), occurred_at=AT, reason="line 1\nline 2")
    assert kept.reason == "line 1\nline 2"
    with pytest.raises(PayloadError):
        RejectionEvent(tenant="acme", person=PersonRef("standard", "c-1"), occurred_at=AT, job_title="Design\udc00er")


def test_a_lookup_with_a_lone_surrogate_in_its_id_is_refused():
    with pytest.raises(PayloadError):
        Lookup(tenant="acme", source="personio", resource="employee", resource_id="7\ud800")


def test_ordinary_names_in_any_script_are_kept():
    ref = PersonRef(source="standard", vendor_person_id="c-1", name="山田 花子 😀 Ünïcödé", email="c-1@example.jp")
    assert ref.name == "山田 花子 😀 Ünïcödé"
