"""Segments: saved expressions over people, e.g.
`role:rejected AND tag:engineer AND rejected_within:365d AND NOT tag:do-not-contact` (pure rules).

Grammar (keywords in any case; values may be "quoted" to hold spaces or parentheses):

    expression := or
    or         := and ("OR" and)*
    and        := unary ("AND" unary)*
    unary      := "NOT" unary | "(" or ")" | term
    term       := field ":" value

Fields: role, tag, source (index terms: the people holding them are read through the search
index), stage and reason (of an ended application), and dates: rejected_within / exited_within /
applied_within (`<N>d`), and rejected_after / rejected_before / exited_after / exited_before /
applied_after (`YYYY-MM-DD`). docs/nurture.md says exactly what each one means.

A segment is evaluated without reading everyone: every alternative (OR branch) must hold a role:,
tag: or source: term that is not negated (its *driver*); the people holding the drivers are read
from the search index and filtered with `matches`. Cost grows with the drivers, not the table.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chalicelib.domain import zones
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.events import iso
from chalicelib.domain.people import tag_key
from chalicelib.domain.person import ROLES, Person, Track, slug

MAX_LENGTH = 2000
MAX_DEPTH = 30
MAX_TERMS = 50
MAX_DAYS = 36500
INDEX_FIELDS = ("role", "tag", "source")   # read through the search index
TEXT_FIELDS = ("stage", "reason")          # of an ended application
EVENTS = ("rejected", "exited", "applied")
DATE_FIELDS = tuple(f"{event}_{op}" for event in EVENTS for op in ("within", "after", "before")
                    if (event, op) != ("applied", "before"))  # only the latest application is kept
FIELDS = INDEX_FIELDS + TEXT_FIELDS + DATE_FIELDS
DRIVER_PREFERENCE = {"tag": 0, "source": 1, "role": 2}  # tags usually narrow most
ENDED = ("rejected", "offer_declined")
_KEYWORDS = ("AND", "OR", "NOT")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DAYS = re.compile(r"^([0-9]{1,6})d$")


# -- syntax tree ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    field: str
    value: str      # normalised (tag_key for tags, slug for stage/reason, iso date, days as text)
    position: int   # 1-based, for messages


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class All:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    operands: tuple[Node, ...]


Node = Term | Not | All | Any_


@dataclass(frozen=True)
class Segment:
    expression: str
    root: Node
    drivers: tuple[tuple[str, str], ...]  # (kind, value) index terms whose holders cover every member

    def matches(self, person: Person, now: datetime, zone: str = "UTC") -> bool:
        """Whether the person is a member now; the date terms count the tenant's local days (zone)."""
        return _eval(self.root, person, now, zone)


# -- tokens ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str       # "(" ")" "word" "keyword" "end"
    text: str
    position: int   # 1-based
    value: str = ""  # for a term word: the part after "field:", unquoted


def _error(position: int, message: str) -> BadRequest:
    return BadRequest(f"position {position}: {message}")


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The string opened by the quote at text[start]; the index after its closing quote."""
    out, i = [], start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise _error(start + 1, 'a quoted value is not closed: expected "')


def tokenize(text: str) -> list[_Token]:
    tokens, i = [], 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char, i + 1))
            i += 1
        elif char == '"':
            raise _error(i + 1, 'expected a term like tag:"some value" (a quoted value needs its field and ":")')
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in '()"':
                i += 1
            word = text[start:i]
            if word.upper() in _KEYWORDS:
                tokens.append(_Token("keyword", word.upper(), start + 1))
                continue
            field, colon, value = word.partition(":")
            if colon and not value and i < len(text) and text[i] == '"':
                value, i = _quoted(text, i)
            tokens.append(_Token("word", text[start:i], start + 1, value if colon else ""))
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


# -- parser ----------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.terms = 0

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.or_(0)
        token = self.peek()
        if token.kind != "end":
            raise _error(token.position, f"expected AND, OR or the end, found {_shown(token)}")
        return node

    def or_(self, depth: int) -> Node:
        return self._chain("OR", self.and_, Any_, depth)

    def and_(self, depth: int) -> Node:
        return self._chain("AND", self.unary, All, depth)

    def _chain(self, keyword: str, operand: Callable[[int], Node], combine: Callable[[tuple[Node, ...]], Node],
               depth: int) -> Node:
        """operand (keyword operand)*, one node for them all."""
        operands = [operand(depth)]
        while self.peek().kind == "keyword" and self.peek().text == keyword:
            self.take()
            operands.append(operand(depth))
        return operands[0] if len(operands) == 1 else combine(tuple(operands))

    def unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise _error(self.peek().position, f"nested more than {MAX_DEPTH} deep")
        token = self.take()
        if token.kind == "keyword" and token.text == "NOT":
            return Not(self.unary(depth + 1))
        if token.kind == "(":
            node = self.or_(depth + 1)
            closing = self.take()
            if closing.kind != ")":
                raise _error(closing.position, f"expected ')' to close the '(' at position {token.position}, "
                                               f"found {_shown(closing)}")
            return node
        if token.kind == "word":
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise _error(token.position, f"a segment has at most {MAX_TERMS} terms")
            return _term(token)
        raise _error(token.position, f"expected a term (like tag:engineer), NOT or '(', found {_shown(token)}")


def _shown(token: _Token) -> str:
    return "the end" if token.kind == "end" else f"'{token.text[:40]}'"


def _term(token: _Token) -> Term:
    field, colon, _ = token.text.partition(":")
    if not colon:
        raise _error(token.position, f"expected a term like field:value, found '{token.text[:40]}'")
    field = field.lower()
    if field not in FIELDS:
        raise _error(token.position, f"unknown field '{field[:40]}' (known: {', '.join(FIELDS)})")
    raw = token.value
    where = token.position + len(field) + 1
    if not raw.strip():
        raise _error(where, f"expected a value after '{field}:'")
    if field == "role":
        if raw not in ROLES:
            raise _error(where, f"expected a role ({', '.join(ROLES)}), found '{raw[:40]}'")
        value = raw
    elif field == "tag":
        value = tag_key(raw)
        if not value or "#" in value or len(value) > 50:
            raise _error(where, "expected a tag of 1 to 50 characters without '#'")
    elif field == "source":
        value = raw.lower()
        if not _SOURCE.match(value):
            raise _error(where, "expected a source slug like greenhouse")
    elif field in TEXT_FIELDS:
        value = slug(raw)
    elif field.endswith("_within"):
        match = _DAYS.match(raw)
        if not match or not 1 <= int(match.group(1)) <= MAX_DAYS:
            raise _error(where, f"expected a number of days like 365d (1d to {MAX_DAYS}d), found '{raw[:40]}'")
        value = match.group(1)
    else:
        try:
            value = date.fromisoformat(raw).isoformat() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else ""
        except ValueError:
            value = ""
        if not value:
            raise _error(where, f"expected a date like 2025-04-01, found '{raw[:40]}'")
    return Term(field, value, token.position)


def _drivers(node: Node) -> tuple[tuple[str, str], ...] | None:
    """Index terms whose holders include every person the node matches; None if there are none
    (the node would need everyone read)."""
    if isinstance(node, Term):
        return ((node.field, node.value),) if node.field in INDEX_FIELDS else None
    if isinstance(node, Not):
        return None
    if isinstance(node, All):
        covers = [cover for cover in map(_drivers, node.operands) if cover is not None]
        if not covers:
            return None
        return min(covers, key=lambda cover: (len(cover), [DRIVER_PREFERENCE[kind] for kind, _ in cover]))
    union: list[tuple[str, str]] = []
    for operand in node.operands:
        cover = _drivers(operand)
        if cover is None:
            return None
        union += [term for term in cover if term not in union]
    return tuple(union)


def _first_undriven(node: Node) -> int:
    """Where an alternative without a driver starts (for the message)."""
    if isinstance(node, Term):
        return node.position
    if isinstance(node, Not):
        return _first_undriven(node.operand)
    if isinstance(node, Any_):
        return next((_first_undriven(o) for o in node.operands if _drivers(o) is None), _first_undriven(node.operands[0]))
    return _first_undriven(node.operands[0])


def parse(expression: object) -> Segment:
    """The segment an expression describes; BadRequest naming the position (1-based) otherwise."""
    if not isinstance(expression, str) or not expression.strip():
        raise BadRequest("expression must be a non-empty string")
    if len(expression) > MAX_LENGTH:
        raise BadRequest(f"expression is longer than {MAX_LENGTH} characters")
    bad = next((i for i, char in enumerate(expression) if not char.isprintable() and not char.isspace()
                or "\ud800" <= char <= "\udfff"), None)
    if bad is not None:
        raise _error(bad + 1, "expected printable text (a control character or a lone surrogate)")
    root = _Parser(tokenize(expression)).parse()
    drivers = _drivers(root)
    if drivers is None:
        raise _error(_first_undriven(root), "every alternative (each side of OR) needs a role:, tag: or source: "
                                            "term that is not under NOT, so the segment is read through the index "
                                            "and not by reading everyone")
    return Segment(expression, root, drivers)


# -- evaluation ------------------------------------------------------------------------------------

def _ended(person: Person) -> list[Track]:
    return [track for key, track in person.tracks.items() if key.startswith("app:") and track.status in ENDED]


def event_times(person: Person, event: str) -> tuple[str, str] | None:
    """(earliest, latest) moment of an event kind the person's state still shows; None when none."""
    if event == "rejected":
        times = [track.at for track in _ended(person)]
        return (min(times), max(times)) if times else None
    if event == "exited":
        employment = person.tracks.get("employment")
        latest = employment.at if employment and employment.status == "exited" else None
        first = person.milestones.get("first_exited_at") or latest
        latest = latest or first
        return (first, latest) if first and latest else None
    latest = person.milestones.get("last_applied_at")
    return (latest, latest) if latest else None


def _term_holds(term: Term, person: Person, now: datetime, zone: str) -> bool:
    field, value = term.field, term.value
    if field == "role":
        return value in person.roles
    if field == "tag":
        return value in {tag_key(tag) for tag in person.tags}
    if field == "source":
        return any(identity.split(":", 1)[0] == value for identity in person.identities)
    if field in TEXT_FIELDS:
        return any(slug(getattr(track, field)) == value for track in _ended(person) if getattr(track, field))
    event, _, op = field.rpartition("_")
    times = event_times(person, event)
    if times is None:
        return False
    first, latest = times
    if op == "within":  # on one of the last N local days or today: from the local midnight N days ago
        return latest >= iso(zones.midnight(zones.local_date(now, zone) - timedelta(days=int(value)), zone))
    day = iso(zones.midnight(date.fromisoformat(value), zone))  # a date is the tenant's local day
    return latest >= day if op == "after" else first < day


def _eval(node: Node, person: Person, now: datetime, zone: str) -> bool:
    if isinstance(node, Term):
        return _term_holds(node, person, now, zone)
    if isinstance(node, Not):
        return not _eval(node.operand, person, now, zone)
    if isinstance(node, All):
        return all(_eval(o, person, now, zone) for o in node.operands)
    return any(_eval(o, person, now, zone) for o in node.operands)
