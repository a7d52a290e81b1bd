"""How an inventory file is read before its rows are: its encoding (UTF-8 with or without BOM,
UTF-16 with BOM, CP932/Shift_JIS), its delimiter (comma, or tab for Excel's "Unicode text"), and its
header through the alias table of docs/import.md (Japanese and English names, compared after NFKC,
case and spaces). Messages for the admin in Japanese and English side by side; never a value.
Pure, stdlib only."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from chalicelib.domain.errors import BadRequest

# field -> the names a header may give it (docs/import.md keeps the same table for admins)
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full_name", "display_name"),  # kept as written: never split
    "full_name_ja": ("氏名", "名前", "氏名(漢字)", "社員名", "従業員名"),  # family name first: split at the first space
    "family_name": ("姓", "last_name", "family_name", "surname", "lastname", "名字", "苗字"),
    "given_name": ("名", "first_name", "given_name", "firstname"),
    "kana": ("フリガナ", "ふりがな", "氏名(フリガナ)", "氏名(ふりがな)", "氏名(カナ)", "氏名(ヨミ)", "カナ氏名", "kana",
             "name_kana", "furigana"),
    "family_kana": ("セイ", "姓(フリガナ)", "姓(ふりがな)", "姓(カナ)", "姓(ヨミ)", "family_kana", "last_name_kana",
                    "last_name_yomi"),
    "given_kana": ("メイ", "名(フリガナ)", "名(ふりがな)", "名(カナ)", "名(ヨミ)", "given_kana", "first_name_kana",
                   "first_name_yomi"),
    "email": ("email", "e-mail", "mail", "email_address", "メールアドレス", "Eメール", "メール"),
    "phone": ("phone", "phone_number", "tel", "mobile", "電話番号", "携帯電話番号", "携帯番号"),
    "role": ("role", "status", "区分", "ステータス", "種別"),
    "occurred_at": ("occurred_at", "date", "日付"),
    "applied_on": ("applied_on", "applied_at", "application_date", "応募日"),
    "rejected_on": ("rejected_on", "rejected_at", "不採用日"),
    "hired_on": ("hired_on", "hired_at", "hire_date", "入社日", "入社年月日"),
    "exited_on": ("exited_on", "exited_at", "exit_date", "退職日", "退職年月日"),
    "source": ("source", "出典", "ソース"),
    "tags": ("tags", "tag", "タグ"),
}
DATES = ("occurred_at", "exited_on", "rejected_on", "hired_on", "applied_on")  # the order a row's date is looked for
ENCODINGS = "UTF-8 (BOM optional), UTF-16 (BOM), Shift_JIS (CP932)"


def key(header: str) -> str:
    """The form headers are compared in: NFKC (full-width letters and brackets to half-width),
    case-folded, without spaces, underscores, hyphens or middle dots."""
    text = unicodedata.normalize("NFKC", header).casefold()
    return "".join(c for c in text if not c.isspace() and c not in "_-・")


_FIELD_OF = {key(alias): field for field, aliases in ALIASES.items() for alias in aliases}


class FileRefused(BadRequest):
    """The file as a whole cannot be read: its message in Japanese and English, naming no value."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja} / {en}")


def decode(data: str | bytes) -> str:
    """The file's text: a BOM decides (UTF-8, UTF-16), else UTF-8 if it is, else CP932."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    tries = (("utf-8-sig",) if data.startswith(b"\xef\xbb\xbf")
             else ("utf-16",) if data.startswith((b"\xff\xfe", b"\xfe\xff"))
             else ("utf-8", "cp932"))
    for encoding in tries:
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError:
            continue
    raise FileRefused(f"CSVの文字コードを読み取れません。{ENCODINGS} のいずれかで保存してください",
                      f"the CSV's encoding is not one the hub reads: save it as {ENCODINGS}")


def delimiter(text: str) -> str:
    """Tab for a tab-separated first line without commas (Excel's "Unicode text"), else comma."""
    first = text.split("\n", 1)[0]
    return "\t" if "\t" in first and "," not in first else ","


@dataclass(frozen=True)
class Header:
    """Which column (by its position) holds which field, and the header as the file writes it."""

    positions: dict[str, int]   # field -> column index
    written: dict[str, str]     # field -> the header as written (what errors name)
    ignored: tuple[str, ...]    # headers no field is read from

    def column(self, field: str) -> str:
        return self.written.get(field, field)


def read_header(cells: list[str]) -> Header:
    """Map the header row to fields; FileRefused for a field given twice or a required one missing."""
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    ignored = []
    for index, cell in enumerate(cells):
        shown = (cell or "").strip()
        field = _FIELD_OF.get(key(shown))
        if field is None:
            if shown:
                ignored.append(shown)
            continue
        if field in positions:
            raise FileRefused(f"列「{written[field]}」と「{shown}」は同じ項目（{field}）です。どちらか一方にしてください",
                              f"the columns '{written[field]}' and '{shown}' both give {field}: keep one")
        positions[field], written[field] = index, shown
    header = Header(positions, written, tuple(ignored))
    _check_required(header)
    return header


def _check_required(header: Header) -> None:
    missing = []
    if "email" not in header.positions:
        missing.append(("メールアドレス (email)", "email (メールアドレス)"))
    if not any(d in header.positions for d in DATES):
        missing.append(("日付 (occurred_at) または 退職日・不採用日・入社日・応募日",
                        "occurred_at (日付) or a dated column such as 退職日"))
    if "role" not in header.positions and not any(d in header.positions for d in DATES[1:]):
        missing.append(("区分 (role) または 退職日・不採用日・入社日・応募日", "role (区分) or a dated column such as 退職日"))
    if missing:
        raise FileRefused("CSVの見出しに必要な列がありません: " + "、".join(ja for ja, _ in missing) + "（docs/import.md）",
                          "the CSV header lacks: " + "; ".join(en for _, en in missing) + " (docs/import.md)")


# -- row errors in Japanese, by the rule's English text (chalicelib/domain/fields.py) --------------------
RULES_JA = {
    "not an e-mail address": "メールアドレスとして読めません",
    "a name has at most 200 characters on one line, without control characters": "氏名は改行・制御文字なしの200文字以内です",
    "a phone number has digits, + ( ) - . / and spaces, at most 40 characters":
        "電話番号は数字と + ( ) - . / と空白で、40文字以内です",
    "at most 100 characters on one line, without control characters": "改行・制御文字なしの100文字以内です",
    "a tag has 1 to 50 printable characters and no '#'": "タグは1〜50文字の印字できる文字で、「#」を含みません",
    "a person has at most 50 tags": "タグは1人50個までです",
}


def rule_ja(rule: str) -> str:
    """A rule's Japanese text; a general one for a rule without a translation."""
    return RULES_JA.get(rule, "この列の値を受け付けられません")
