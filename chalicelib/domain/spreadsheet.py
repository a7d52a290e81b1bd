"""CSV the hub writes for a spreadsheet (the one writer every CSV export goes through).

People's values reach the hub from vendors and from CSV imports, and are stored as the text they
were (a name of "=HYPERLINK(...)" stays that text). A spreadsheet opening a CSV runs a cell that
starts with = + - or @ (or a tab or carriage return before one) as a formula: CSV injection
(OWASP, "CSV Injection"). Every cell written here that could start a formula is prefixed with a
single quote, which spreadsheets show as text; the JSON answers of the API are left as they are.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only with it; the inventory import strips it


def cell(value: object) -> str:
    """The text of one cell, neutralised: lists joined with "; ", None empty, a would-be formula
    prefixed with ' (also when spaces or line breaks come before its first sign)."""
    if value is None:
        text = ""
    elif isinstance(value, (list, tuple)):
        text = "; ".join("" if v is None else str(v) for v in value)
    else:
        text = str(value)
    if text.startswith(FORMULA_STARTS) or text.lstrip(" \n\r\t").startswith(FORMULA_STARTS[:4]):
        return "'" + text
    return text


def write(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (BOM, CRLF, minimal quoting) with every cell passed through `cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(name) for name in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return BOM + out.getvalue()
