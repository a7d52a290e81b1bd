"""People's names as Japanese HR writes them: a family name, a given name, their readings (フリガナ).

Sources say which part is which (Greenhouse's `last_name` is the family name, SmartHR's `last_name`
too); the hub never guesses the order from a full name. How a name is shown follows its script
(docs/names.md): a name written in kanji or kana reads family name first with a space (山田 太郎),
a name in Latin letters reads in its own order, given name first (Hector Porter). A source that
gives only one full name keeps it as written.

Imports nothing of ours, like person.py: events, people rules and templates all speak of names
through this module."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Scripts written family name first: Han (kanji), hiragana, katakana (with the long-vowel mark and
# the iteration marks that only occur inside them).
_EAST_ASIAN = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA")


def east_asian(text: str) -> bool:
    """Whether a name is written in kanji or kana (then it reads family name first)."""
    for char in unicodedata.normalize("NFKC", text):
        label = unicodedata.name(char, "")
        if label.startswith(_EAST_ASIAN) or char in "々〆ヶ":
            return True
    return False


def _joined(first: str | None, second: str | None) -> str | None:
    parts = [part for part in (first, second) if part]
    return " ".join(parts) or None


@dataclass(frozen=True)
class NameParts:
    """A name in parts, as a source or a file gives it; every part optional."""

    family: str | None = None
    given: str | None = None
    family_kana: str | None = None
    given_kana: str | None = None

    def __post_init__(self) -> None:
        for what in ("family", "given", "family_kana", "given_kana"):
            value = getattr(self, what)
            if isinstance(value, str):
                object.__setattr__(self, what, " ".join(value.split()) or None)

    @property
    def display(self) -> str | None:
        """The whole name as it is read: family first with a space for kanji and kana, given first
        for Latin script. None when neither part is known."""
        if not (self.family or self.given):
            return None
        if east_asian(self.family or "") or east_asian(self.given or ""):
            return _joined(self.family, self.given)
        return _joined(self.given, self.family)

    @property
    def kana(self) -> str | None:
        """The reading, family first (ヤマダ タロウ), or None."""
        return _joined(self.family_kana, self.given_kana)


def split_full_name(text: str | None) -> NameParts:
    """A full name written family first (a Japanese HR export's 氏名 column: 山田 太郎, 山田　太郎) split
    at its first space or ideographic space; a name with no space is a family name alone. Only for
    sources and files documented to write family first."""
    if not text or not text.strip():
        return NameParts()
    words = text.split(maxsplit=1)  # str.split splits at U+3000 (ideographic space) too
    return NameParts(family=words[0], given=words[1] if len(words) > 1 else None)
