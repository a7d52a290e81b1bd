"""What a rejection earns, by what it was (docs/routing.md): the tenant's ordered rules, then the
default table; and the link channels the KPIs are split by. Pure.

An action is one of
  relay         the Career Relay offer (agencies and future openings)
  nurture_only  a silver medalist: no agency offer; the invitation to future openings, tag silver-medalist
  none          no mail at all (spam, duplicates, withdrawals)

Rules match on the normalised rejection: the vendor's reason name (`reason`: any of the texts
appears in it), its type (`reason_type`: "we rejected them" or "they rejected us"), the stage and
the source (equal after folding). The first rule that matches decides; when none does, DEFAULTS."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chalicelib.domain.errors import BadRequest

ACTIONS = ("relay", "nurture_only", "none")
MAX_RULES = 50
MAX_VALUES = 20       # texts one match field may list
MAX_TEXT = 200        # characters of one text
MATCH_FIELDS = ("reason", "reason_type", "stage", "source")
REASON_TYPES = ("we rejected them", "they rejected us")  # Greenhouse rejection_reason.type.name, folded
SILVER_MEDALIST = "silver-medalist"

# Link channels (every link records the one it went out through; the KPI funnel is split by them)
CHANNELS = ("hub_notice", "ats_field", "invitation", "standard_answer")
DEFAULT_CHANNEL = "hub_notice"
INVITATION_KIND = "relay_invitation"  # the template kind of the invitation mode's mail
_CHANNEL_OF_KIND = {INVITATION_KIND: "invitation"}

# The default table (docs/routing.md): label, action, texts (folded; ASCII ones as whole words)
DEFAULTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("position filled", "nurture_only", ("採用枠充足", "ポジション充足", "充足", "position filled", "filled",
                                         "position closed", "募集終了")),
    ("another candidate", "nurture_only", ("他の候補者", "他候補者", "another candidate", "other candidate",
                                           "other finalist", "hired someone else")),
    ("timing", "nurture_only", ("時期", "タイミング", "timing")),
)
WITHDREW = "withdrew or declined"
OTHER = "other reasons"


def fold(text: str | None) -> str:
    """NFKC (full-width letters, half-width カナ), case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def _contains(haystack: str, needle: str) -> bool:
    if needle.isascii():
        return re.search(rf"(?<![a-z0-9]){re.escape(needle)}(?![a-z0-9])", haystack) is not None
    return needle in haystack


@dataclass(frozen=True)
class Rejection:
    """What routing sees of a rejection: its reason, whether the person ended it, its stage and source."""

    reason: str | None
    by_candidate: bool
    stage: str | None
    source: str

    @property
    def reason_type(self) -> str:
        return REASON_TYPES[1] if self.by_candidate else REASON_TYPES[0]


@dataclass(frozen=True)
class Rule:
    match: Mapping[str, tuple[str, ...]]  # field -> folded texts (any of them)
    action: str

    def matches(self, rejection: Rejection) -> bool:
        for name, texts in self.match.items():
            if name == "reason":
                if not any(_contains(fold(rejection.reason), text) for text in texts):
                    return False
            elif fold(getattr(rejection, name)) not in texts:
                return False
        return True

    def to_json(self) -> dict[str, object]:
        return {"match": {name: list(texts) for name, texts in self.match.items()}, "action": self.action}


@dataclass(frozen=True)
class Decision:
    action: str
    rule: int | None  # the index of the tenant's rule that chose, None for the default table
    chosen_by: str    # "rule 2" or "default: position filled"

    def fields(self) -> dict[str, object]:
        """What a timeline entry says of the choice (no personal data): the action, which rule chose it."""
        return {"action": self.action, "rule": self.rule, "chosen_by": self.chosen_by}

    def entry(self, occurred_at: str, notice_kind: str) -> dict[str, object]:
        """The timeline entry of a notice routed to no mail (a sent one tells it in notice_sent)."""
        return {"type": "notice_routed", "notice": notice_kind, **self.fields(), "occurred_at": occurred_at}


def default(rejection: Rejection) -> Decision:
    if rejection.by_candidate:
        return Decision("none", None, f"default: {WITHDREW}")
    reason = fold(rejection.reason)
    for label, action, texts in DEFAULTS:
        if any(_contains(reason, fold(text)) for text in texts):
            return Decision(action, None, f"default: {label}")
    return Decision("relay", None, f"default: {OTHER}")


def decide(rules: Sequence[Rule], rejection: Rejection) -> Decision:
    for index, rule in enumerate(rules):
        if rule.matches(rejection):
            return Decision(rule.action, index, f"rule {index}")
    return default(rejection)


def _texts(where: str, value: object) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_VALUES:
        raise BadRequest(f"{where} must be a text or a list of 1 to {MAX_VALUES} texts")
    folded = []
    for text in values:
        if not isinstance(text, str) or not fold(text) or len(text) > MAX_TEXT \
                or any(unicodedata.category(ch) == "Cc" for ch in text):
            raise BadRequest(f"{where}: each text must be non-empty, at most {MAX_TEXT} characters, without control characters")
        folded.append(fold(text))
    return tuple(folded)


def parse_rules(body: object) -> list[Rule]:
    """The rules of a PUT body {"rules": [{"match": {...}, "action": ...}, ...]}; BadRequest names the mistake."""
    if not isinstance(body, dict) or set(body) != {"rules"}:
        raise BadRequest('the body must be {"rules": [...]}')
    raw = body["rules"]
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise BadRequest(f"rules must be a list of at most {MAX_RULES} rules")
    rules = []
    for index, item in enumerate(raw):
        where = f"rules[{index}]"
        if not isinstance(item, dict) or set(item) - {"match", "action"} or "action" not in item:
            raise BadRequest(f'{where} must be an object with "match" and "action"')
        if item["action"] not in ACTIONS:
            raise BadRequest(f"{where}.action must be one of {', '.join(ACTIONS)}")
        match = item.get("match", {})
        if not isinstance(match, dict) or set(match) - set(MATCH_FIELDS):
            raise BadRequest(f"{where}.match may hold only {', '.join(MATCH_FIELDS)}")
        fields = {name: _texts(f"{where}.match.{name}", value) for name, value in match.items()}
        if "reason_type" in fields and set(fields["reason_type"]) - set(REASON_TYPES):
            raise BadRequest(f"{where}.match.reason_type must be one of: {', '.join(REASON_TYPES)}")
        rules.append(Rule(match=fields, action=str(item["action"])))
    return rules


def stored_rules(data: Mapping[str, object] | None) -> list[Rule]:
    """Rules as stored (checked when saved)."""
    raw = (data or {}).get("rules")
    return [Rule(match={k: tuple(v) for k, v in r["match"].items()}, action=r["action"])
            for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []


def channel_of(kind: str) -> str:
    """The channel a notice of this template kind goes out through."""
    return _CHANNEL_OF_KIND.get(kind, DEFAULT_CHANNEL)


def offers(action: str) -> tuple[str, ...]:
    """The consent purposes the page offers under an action."""
    return {"relay": ("relay", "openings"), "nurture_only": ("openings",)}.get(action, ())
