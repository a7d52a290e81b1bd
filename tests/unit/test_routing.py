"""Routing (chalicelib/domain/routing.py, docs/routing.md): the default table in Japanese and English
wordings, the tenant's rules in order, and their validation; no reason string makes it raise."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import routing
from chalicelib.domain.errors import BadRequest


def rejection(reason=None, *, by_candidate=False, stage=None, source="greenhouse"):
    return routing.Rejection(reason=reason, by_candidate=by_candidate, stage=stage, source=source)


@pytest.mark.parametrize("reason, label", [
    ("採用枠充足のため", "position filled"), ("ポジション充足", "position filled"), ("Position filled", "position filled"),
    ("POSITION FILLED", "position filled"), ("Ｐｏｓｉｔｉｏｎ　ｆｉｌｌｅｄ", "position filled"), ("Role filled", "position filled"),
    ("他の候補者を採用", "another candidate"), ("Hired someone else", "another candidate"),
    ("Another candidate was chosen", "another candidate"), ("Other finalist", "another candidate"),
    ("入社時期が合わない", "timing"), ("Timing", "timing"),
])
def test_filled_timing_and_another_finalist_are_nurture_only_by_default(reason, label):
    assert routing.default(rejection(reason)) == routing.Decision("nurture_only", None, f"default: {label}")


@pytest.mark.parametrize("reason", [None, "", "Too Junior", "スキル不足", "unfilled requirements", "Lacks experience"])
def test_other_reasons_are_relay_by_default(reason):
    assert routing.default(rejection(reason)) == routing.Decision("relay", None, "default: other reasons")


def test_a_withdrawal_or_a_declined_offer_is_none_whatever_the_reason():
    assert routing.default(rejection("Position filled", by_candidate=True)).action == "none"
    assert routing.default(rejection(None, by_candidate=True)).chosen_by == "default: withdrew or declined"


def test_the_first_matching_rule_decides_and_says_which_it_was():
    rules = routing.parse_rules({"rules": [
        {"match": {"source": "greenhouse", "reason": ["spam", "重複"]}, "action": "none"},
        {"match": {"stage": "最終面接"}, "action": "nurture_only"},
        {"match": {"reason_type": "We rejected them"}, "action": "relay"},
    ]})
    assert routing.decide(rules, rejection("Duplicate 重複応募")) == routing.Decision("none", 0, "rule 0")
    assert routing.decide(rules, rejection("Spam", source="herp")).rule == 2  # rule 0 wants greenhouse
    assert routing.decide(rules, rejection("Position filled", stage="最終面接")) == routing.Decision("nurture_only", 1, "rule 1")
    assert routing.decide(rules, rejection("Position filled", by_candidate=True)).chosen_by == "default: withdrew or declined"
    assert routing.decide([], rejection("Position filled")).chosen_by == "default: position filled"


def test_stored_rules_read_back_as_saved():
    rules = routing.parse_rules({"rules": [{"match": {"reason": "Position Filled"}, "action": "relay"}, {"action": "none"}]})
    assert routing.stored_rules({"rules": [rule.to_json() for rule in rules]}) == rules
    assert rules[0].to_json() == {"match": {"reason": ["position filled"]}, "action": "relay"}


@pytest.mark.parametrize("body, says", [
    ([], "the body must be"), ({"rules": "x"}, "rules must be a list"),
    ({"rules": [{"action": "relay"}] * 51}, "at most 50"),
    ({"rules": [{"match": {}}]}, 'rules[0] must be an object with "match" and "action"'),
    ({"rules": [{"action": "mail"}]}, "rules[0].action must be one of relay, nurture_only, none"),
    ({"rules": [{"action": "none", "match": {"colour": "red"}}]}, "rules[0].match may hold only"),
    ({"rules": [{"action": "none", "match": {"reason": ""}}]}, "rules[0].match.reason"),
    ({"rules": [{"action": "none", "match": {"reason": ["x"] * 21}}]}, "1 to 20 texts"),
    ({"rules": [{"action": "none", "match": {"stage": "a\nb"}}]}, "without control characters"),
    ({"rules": [{"action": "none", "match": {"reason_type": "maybe"}}]}, "reason_type must be one of"),
])
def test_bad_rules_are_refused_with_what_is_wrong(body, says):
    with pytest.raises(BadRequest) as refused:
        routing.parse_rules(body)
    assert says in str(refused.value)


@given(reason=st.one_of(st.none(), st.text(max_size=300)), by_candidate=st.booleans(),
       stage=st.one_of(st.none(), st.text(max_size=50)), rule_text=st.text(min_size=1, max_size=50))
def test_no_reason_string_makes_routing_raise(reason, by_candidate, stage, rule_text):
    decision = routing.default(rejection(reason, by_candidate=by_candidate, stage=stage))
    assert decision.action in routing.ACTIONS
    try:
        rules = routing.parse_rules({"rules": [{"match": {"reason": rule_text, "stage": rule_text}, "action": "none"}]})
    except BadRequest:
        return
    assert routing.decide(rules, rejection(reason, by_candidate=by_candidate, stage=stage)).action in routing.ACTIONS


def test_channels_and_what_each_action_offers():
    assert routing.channel_of("rejection") == "hub_notice" and routing.channel_of("relay_invitation") == "invitation"
    assert routing.offers("relay") == ("relay", "openings") and routing.offers("nurture_only") == ("openings",)
    assert routing.offers("none") == ()
