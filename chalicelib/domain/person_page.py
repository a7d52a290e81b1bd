"""What the console's person page says, in plain Japanese (or English): a person's timeline as
「2024年4月1日 不採用（一次面接）」, their roles with the history of each track, dates in the tenant's
time zone (pure rules; the page's template lays them out)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chalicelib.domain import zones
from chalicelib.domain.calendar_ja import format_wareki
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.person import EMPLOYMENT_TRACK, Person

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")

# what each timeline entry says; {detail} is filled from the entry (stage, reason, agency, ...)
EVENTS: Mapping[str, Mapping[str, str]] = {
    "ja": {"applied": "応募", "rejected": "不採用", "offer_declined": "内定辞退", "rejection_reverted": "不採用の取り消し",
           "hired": "入社", "exited": "退職", "referrer_added": "紹介者として登録", "consent_given": "同意",
           "consent_withdrawn": "同意の撤回", "consent_renewed": "同意の更新", "survey_answered": "アンケート回答",
           "notice_sent": "お知らせメール送信", "nurture_sent": "ナーチャリングメール送信", "link_opened": "リンクを開いた",
           "referred": "紹介会社へ紹介", "reapplication": "再応募", "boomerang": "出戻り"},
    "en": {"applied": "Applied", "rejected": "Not selected", "offer_declined": "Declined the offer",
           "rejection_reverted": "Rejection withdrawn", "hired": "Hired", "exited": "Left the company",
           "referrer_added": "Registered as a referrer", "consent_given": "Consent given",
           "consent_withdrawn": "Consent withdrawn", "consent_renewed": "Consent renewed",
           "survey_answered": "Answered the survey", "notice_sent": "Notice mailed", "nurture_sent": "Nurture mail sent",
           "link_opened": "Opened the link", "referred": "Introduced to an agency", "reapplication": "re-application",
           "boomerang": "boomerang"},
}
CONSENTS: Mapping[str, Mapping[str, str]] = {
    "ja": {"relay": "紹介会社への紹介", "openings": "今後の求人のお知らせ", "mail": "メール", "survey": "アンケート"},
    "en": {"relay": "introductions to agencies", "openings": "news of openings", "mail": "mail", "survey": "survey"},
}
ROLES: Mapping[str, Mapping[str, str]] = {
    "ja": {"applicant": "応募中", "rejected": "不採用", "offer_declined": "内定辞退", "employee": "在籍",
           "alumni": "退職者（アルムナイ）", "referrer": "紹介者"},
    "en": {"applicant": "applicant", "rejected": "not selected", "offer_declined": "declined an offer",
           "employee": "employee", "alumni": "alumni", "referrer": "referrer"},
}
STATUSES: Mapping[str, Mapping[str, str]] = {
    "ja": {"applied": "応募", "rejected": "不採用", "offer_declined": "内定辞退", "rejection_reverted": "選考再開",
           "hired": "入社", "exited": "退職"},
    "en": {"applied": "applied", "rejected": "not selected", "offer_declined": "declined the offer",
           "rejection_reverted": "back in the process", "hired": "hired", "exited": "left"},
}


def day(moment: str | None, zone: str, locale: str) -> str:
    """A moment as the tenant's local date: 2024年4月1日 / 1 April 2024 ("" when there is none)."""
    if not moment:
        return ""
    try:
        local = zones.local_date(moment, zone)
    except ValueError:
        return moment[:10]
    if locale == "en":
        return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"
    return f"{local.year}年{local.month}月{local.day}日"


def era(moment: str | None, zone: str) -> str:
    """The same date in the Japanese calendar (令和6年4月1日), for the page's title text."""
    if not moment:
        return ""
    try:
        return format_wareki(zones.local_date(moment, zone))
    except ValueError:
        return ""


def _bracket(parts: Iterable[str | None], locale: str) -> str:
    shown = [p for p in parts if p]
    if not shown:
        return ""
    return f"（{'・'.join(shown)}）" if locale == "ja" else f" ({', '.join(shown)})"


@dataclass(frozen=True)
class Line:
    """One timeline line: the date, what happened in words, and the date in the Japanese calendar."""

    when: str
    what: str
    era: str
    at: str


def timeline(entries: Iterable[JsonObject], zone: str, locale: str) -> list[Line]:
    """The timeline newest first, each fact in words: 2024年4月1日 不採用（一次面接・スキル不一致）."""
    words, consents = EVENTS[locale], CONSENTS[locale]
    lines = []
    for entry in entries:
        kind = str(entry.get("type") or "")
        if kind == "rejected" and entry.get("by_candidate"):
            kind = "offer_declined"
        what = words.get(kind, kind.replace("_", " "))
        details: list[str | None] = []
        if kind in ("rejected", "offer_declined"):
            details = [_text(entry.get("stage")), _text(entry.get("reason"))]
        elif kind in ("applied", "hired"):
            details = [_text(entry.get("job_title")),
                       words["reapplication"] if entry.get("reapplication") else None,
                       words["boomerang"] if entry.get("boomerang") else None]
        elif kind.startswith("consent_"):
            details = [consents.get(str(entry.get("consent")), _text(entry.get("consent")))]
        elif kind == "referred":
            details = [_text(entry.get("agency"))]
        elif kind == "nurture_sent":
            details = [_text(entry.get("campaign"))]
        at = str(entry.get("occurred_at") or entry.get("at") or "")
        source = _text(entry.get("source"))
        suffix = (f" — {source}" if source else "")
        lines.append(Line(day(at, zone, locale), what + _bracket(details, locale) + suffix, era(at, zone), at))
    return sorted(lines, key=lambda line: line.at, reverse=True)


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, (str, int)) and str(value) else None


@dataclass(frozen=True)
class TrackLine:
    """One track of the person (an application, or their employment) in words."""

    name: str
    status: str
    when: str
    detail: str


def tracks(person: Person, zone: str, locale: str) -> list[TrackLine]:
    """Where each application and the employment stand: status, when, stage and reason."""
    statuses = STATUSES[locale]
    lines = []
    for key, track in sorted(person.tracks.items(), key=lambda item: item[1].at, reverse=True):
        if key == EMPLOYMENT_TRACK:
            name = "雇用" if locale == "ja" else "employment"
        else:
            _, source, application = (key.split(":", 2) + ["", ""])[:3]
            name = (f"応募 {application}（{source}）" if locale == "ja" else f"application {application} ({source})")
        lines.append(TrackLine(name, statuses.get(track.status, track.status), day(track.at, zone, locale),
                               _bracket([track.stage, track.reason], locale).strip(" ()（）")))
    return lines


def roles(person: Person, locale: str) -> list[str]:
    return [ROLES[locale].get(role, role) for role in person.roles]


def family_first(person: Person) -> str:
    """The name family first when the parts are known (山田 太郎), else as held."""
    parts = " ".join(p for p in (person.family_name, person.given_name) if p)
    return parts or person.name or ""
