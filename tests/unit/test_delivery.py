"""chalicelib/domain/delivery.py: the delivery setting's rules."""
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import delivery
from chalicelib.domain.errors import BadRequest


def test_hub_notice_is_the_default_and_the_only_mode_that_mails_the_rejection():
    assert delivery.read(None) == delivery.DEFAULT and delivery.DEFAULT.mode == "hub_notice"
    assert [m for m in delivery.MODES if not delivery.sends_hub_notice(m)] == ["ats_field"]  # invitation: the hub's invitation


def test_ats_field_needs_a_capable_source_and_its_settings():
    with pytest.raises(BadRequest, match="not available"):
        delivery.parse({"mode": "ats_field"}, source="lever", writable=False)
    with pytest.raises(BadRequest, match="on_behalf_of"):
        delivery.parse({"mode": "ats_field", "field": "f"}, source="greenhouse", writable=True, requires=("field", "on_behalf_of"))
    chosen = delivery.parse({"mode": "ats_field", "field": "f", "on_behalf_of": 7}, source="greenhouse", writable=True,
                            requires=("field", "on_behalf_of"))
    assert chosen.on_behalf_of == "7" and delivery.read(chosen.to_json()) == chosen


@pytest.mark.parametrize("days", [-1, 366, "3", True, 1.5])
def test_invitation_delay_days_is_a_whole_number_from_0_to_365(days):
    with pytest.raises(BadRequest, match="invitation_delay_days"):
        delivery.parse({"mode": "invitation", "invitation_delay_days": days}, source="x", writable=False)
    assert delivery.parse({"mode": "invitation", "invitation_delay_days": 365}, source="x", writable=False).invitation_delay_days == 365


def test_a_link_of_any_window_has_at_least_the_grace_left_when_the_window_ends():
    now = datetime(2026, 5, 1, tzinfo=UTC)
    window = delivery.window(now)
    assert delivery.link_valid_until(window) - now >= delivery.LINK_GRACE
    assert delivery.window(now + delivery.WINDOW) == window + 1
    assert delivery.link_valid_until(window) - (now + timedelta(days=1)) < delivery.WINDOW + delivery.LINK_GRACE


def test_a_link_token_is_a_mac_of_what_the_link_is_for_and_fits_the_token_store() -> None:
    from chalicelib.adapters.dynamo import keys

    key = b"k" * 48
    token = delivery.link_token(key, "acme", "standard", "a-1", 12, "p-1")
    assert token == delivery.link_token(key, "acme", "standard", "a-1", 12, "p-1")
    assert token.startswith("acme.") and len(token.split(".", 1)[1]) == 43 and "=" not in token
    others = {delivery.link_token(b"j" * 48, "acme", "standard", "a-1", 12, "p-1"),
              delivery.link_token(key, "acme", "greenhouse", "a-1", 12, "p-1"),
              delivery.link_token(key, "acme", "standard", "a-2", 12, "p-1"),
              delivery.link_token(key, "acme", "standard", "a-1", 13, "p-1"),
              delivery.link_token(key, "acme", "standard", "a-1", 12, "p-2")}
    assert token not in others and len(others) == 5
    longest = delivery.link_token(key, "t" * 63, "standard", "a-1", 12, "p-1")  # the longest tenant slug
    assert keys.token_key(longest) is not None
