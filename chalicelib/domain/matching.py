"""Which people may be one human (pure rules): the terms that find candidates through the search
index, and why a candidate is suggested. docs/people.md gives the rule and its reasons:

- Automatic (intake): a shared source identity ("<source>:<vendor id>") or a shared normalised
  e-mail address is the same person; storage links them on write (Relations.record_once).
- Suggested only (the admin decides, then merges): the same phone number, or the same name and
  reading. A phone can be a company switchboard, a family's landline or a recycled mobile number,
  and names repeat (佐藤 太郎); merging strangers would show one person's data to another."""
from __future__ import annotations

from chalicelib.domain import phones
from chalicelib.domain.folding import search_key
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.person import Person

PHONE = "phone"                 # search term kind: a digest of the phone as stored (E.164): no number in a key
NAME_READING = "name_reading"   # search term kind: the folded name and folded reading together
SAME_PHONE = "same phone"
SAME_NAME_AND_READING = "same name and reading"
CANDIDATES_PER_TERM = 20        # index entries read per term: a bounded read, whatever the tenant's size


def fold(text: str | None) -> str:
    """A name as compared: as it is searched (folding.search_key: NFKC, case-folded, spaces removed,
    katakana as hiragana, variant kanji folded). Empty for no name."""
    return search_key(text or "")


def name_reading(person: Person) -> str | None:
    """The folded name and reading of a person who has both, else None."""
    name, reading = fold(person.name), fold(person.name_kana)
    return f"{name}|{reading}"[:200] if name and reading else None


def match_terms(person: Person) -> set[tuple[str, str]]:
    """The search terms that find people who may be the same human (kept in the index)."""
    terms: set[tuple[str, str]] = set()
    if person.phone:
        terms.add((PHONE, phones.phone_key(person.phone)))
    reading = name_reading(person)
    if reading:
        terms.add((NAME_READING, reading))
    return terms


def reasons(person: Person, other: Person) -> list[str]:
    """Why other may be the same human as person (empty: no reason)."""
    why = []
    if person.phone and person.phone == other.phone:
        why.append(SAME_PHONE)
    if name_reading(person) and name_reading(person) == name_reading(other):
        why.append(SAME_NAME_AND_READING)
    return why


def suggestions(person: Person, candidates: list[Person]) -> list[JsonObject]:
    """The candidates worth merging into person, each with its reasons; never the person itself."""
    found: list[JsonObject] = []
    for other in sorted({c.person_id: c for c in candidates}.values(), key=lambda c: c.person_id):
        why = reasons(person, other) if other.person_id != person.person_id else []
        if why:
            found.append({"person_id": other.person_id, "why": why})
    return found
