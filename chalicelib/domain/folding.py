"""The form names are searched in, so a person is found however a Japanese user types them
(docs/search.md): `search_key` folds a name, a reading or a query alike.

  NFKC          full-width letters and half-width カナ (ｶﾀｶﾅ) become the usual forms
  case-folded   Yamada, YAMADA and yamada are one
  hiragana      katakana becomes hiragana (ヤマダ and やまだ are one), by jaconv
  variant kanji common 異体字 of surnames become their usual form (髙橋 and 高橋 are one): VARIANTS
  no spaces     山田太郎 finds 山田 太郎; the middle dot of katakana names (ジョン・スミス) goes too

A query is folded the same way and matched as a prefix of the folded names. Pure; jaconv is a
pure-Python table, imported on first use (cold start)."""
from __future__ import annotations

import unicodedata

MAX_KEY = 100  # characters of a folded name kept: a prefix search needs no more, and keys stay short

# Variant kanji (異体字) that Japanese surnames are written with, and the form they are found by.
# The variant forms are what an HR system or a candidate may have typed (often from a family register);
# a colleague searching types the usual form, or the variant. Both fold to the usual form. Documented
# with the reason for each in docs/search.md; NFKC already folds the CJK compatibility ideographs
# that have a canonical twin (U+F900..), so only characters NFKC keeps apart are listed.
VARIANTS: dict[str, str] = {
    "髙": "高",                              # 髙橋, 髙田 (はしごだか)
    "﨑": "崎", "嵜": "崎",                   # 山﨑 (たつさき), 宮嵜
    "齋": "斎", "齊": "斎", "斉": "斎",        # 齋藤, 齊藤, 斉藤: all さいとう, often confused
    "邊": "辺", "邉": "辺",                   # 渡邊, 渡邉
    "濵": "浜", "濱": "浜",                   # 濵田, 濱田
    "德": "徳",                              # 德永
    "瀨": "瀬",                              # 瀨戸
    "槇": "槙",                              # 槇原
    "冨": "富",                              # 冨田
    "嶋": "島", "嶌": "島",                   # 中嶋, 小嶌
    "澤": "沢",                              # 小澤
    "廣": "広",                              # 廣瀬
    "國": "国",                              # 國分
    "櫻": "桜",                              # 櫻井
    "惠": "恵",                              # 惠子
    "眞": "真",                              # 眞子
    "栁": "柳",                              # 栁田
    "曾": "曽",                              # 曾根
    "藏": "蔵",                              # 大藏
    "舘": "館",                              # 舘野
    "黑": "黒",                              # 黑田
    "\U00020bb7": "吉",                      # 𠮷田 (つちよし)
}
_VARIANT_TABLE = str.maketrans(VARIANTS)
# Removed: every space (a family/given boundary is typed or not) and the katakana middle dot.
_DROPPED = {ord(c): None for c in "・"}


def search_key(text: str) -> str:
    """The folded form of a name, a reading or a query (see the module doc); "" when nothing is left.
    Idempotent: search_key(search_key(x)) == search_key(x); never raises for any str."""
    key = _fold(text)
    for _ in range(4):  # a removed space can let a base letter and a combining mark meet: fold to a fixed point
        again = _fold(key)
        if again == key:
            break
        key = again
    return key


def _fold(text: str) -> str:
    import jaconv  # on first use: keeps it off the cold start of the handlers that never fold a name

    folded = unicodedata.normalize("NFKC", text)
    folded = unicodedata.normalize("NFKC", folded.casefold())  # case folding can leave a string unnormalised
    folded = jaconv.kata2hira(folded).translate(_VARIANT_TABLE).translate(_DROPPED)
    folded = "".join(ch for ch in folded if not (ch.isspace() or unicodedata.category(ch) in ("Zs", "Cc", "Cf")))
    return unicodedata.normalize("NFKC", folded)[:MAX_KEY]
