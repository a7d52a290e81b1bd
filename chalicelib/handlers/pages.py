"""The pages people meet on their phones: the Career Relay consent page (/r/{token}) and the
one-click unsubscribe (/u/{token}). Server-rendered, no JavaScript, no outside assets.

GET only shows; every decision is a POST. The link counts as opened (docs/kpis.md) when a browser
loads the page's beacon image (GET /r/{token}/seen: mail scanners fetch the page, not its images)
or a form from the page comes back. A form the hub cannot take (stale, a bad score, too many
fields, too large) shows the page again with 400 and says why. Unknown and expired
tokens get the same page. No referrer leaves the page, nothing is cached or indexed."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain import zones
from chalicelib.domain.errors import Conflict, FormRefused, HubError
from chalicelib.handlers.http import api
from chalicelib.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from chalicelib.services.relay import RelayPage, UnsubscribePage

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
                                "base-uri 'none'; frame-ancestors 'none'"),
}
MAX_FORM_BYTES = 4096
MAX_FORM_FIELDS = 20

TEXT = {
    "ja": {
        "title": "キャリアリレーのご案内", "saved": "ご選択を保存しました。ありがとうございました。",
        "current": "現在のご選択", "withdraw_hint": "取り消す場合は、チェックを外して保存してください。",
        "relay_label": "提携する人材紹介会社からの紹介を希望する",
        "relay_detail": "次の人材紹介会社に、記載の項目だけを提供します。",
        "openings_label": "今後の募集やイベントのお知らせを受け取る",
        "openings_detail": "新しい募集が始まったときなどに、メールでお知らせします。",
        "no_agencies": "現在、ご紹介できる提携人材紹介会社はありません。",
        "items": "提供する項目", "sep": "、", "survey": "今回の選考の体験はいかがでしたか？（任意）",
        "low": "0 まったく良くない", "high": "10 とても良い", "save": "選択を保存する",
        "optional": "どちらも任意です。何も選ばずに閉じても、不利益はありません。",
        "contact": "お問い合わせ", "valid_until": "このページの有効期限",
        "foreign": "この提供先は日本国外（{country}）にあります。提供先の国の個人情報保護制度は日本と異なる場合があります。{note}",
        "purpose": "利用目的", "default_purpose": "職業紹介（あなたに合う求人のご提案）", "owner": "データの送信先",
        "changed_title": "提供先の内容が変わりました",
        "changed_body": "ご同意いただいた後に、次の提供先の内容（名称・所在国・利用目的・提供する項目・送信先のいずれか）が変わったか、"
                        "提供先が追加されました。内容をご確認のうえ、同意される場合は下の「変更後の内容で…同意する」にチェックを入れて保存してください。"
                        "同意いただくまで、これらの提供先にはあなたの情報を提供しません。",
        "renew_label": "変更後の内容で、これらの提供先への提供に同意する", "changed_badge": "変更あり",
        "stale": "ページを開いている間に内容が更新されました。最新の内容をご確認のうえ、もう一度保存してください。",
        "stale_form": "このフォームは古くなっています。ページを開き直してから、もう一度保存してください。",
        "bad_score": "評価は 0 から 10 の数字からお選びください。",
        "too_many_fields": "送信された項目が多すぎるため、保存できませんでした。ページを開き直してください。",
        "form_too_large": "送信された内容が大きすぎるため、保存できませんでした。ページを開き直してください。",
    },
    "en": {
        "title": "Career Relay", "saved": "Your choices are saved. Thank you.",
        "current": "Your current choices", "withdraw_hint": "To withdraw, untick the box and save.",
        "relay_label": "Introduce me to partner recruitment agencies",
        "relay_detail": "Only the items listed are shared with these agencies:",
        "openings_label": "Tell me about future openings and events",
        "openings_detail": "We e-mail you when new positions open.",
        "no_agencies": "There are no partner agencies to introduce you to at the moment.",
        "items": "Items shared", "sep": ", ", "survey": "How was your experience of our hiring process? (optional)",
        "low": "0 very poor", "high": "10 excellent", "save": "Save my choices",
        "optional": "Both are optional. Closing this page without choosing has no consequences.",
        "contact": "Contact", "valid_until": "This page is valid until",
        "foreign": "This recipient is outside Japan ({country}); that country's personal data protection may differ from Japan's. {note}",
        "purpose": "Purpose", "default_purpose": "job placement (suggesting roles that fit you)", "owner": "Data sent to",
        "changed_title": "Some recipients have changed",
        "changed_body": "Since you consented, the details of the agencies below (name, country, purpose, items shared or "
                        "where the data is sent) have changed, or the agency is new. Please read them, and if you agree, "
                        "tick the box below and save. Until you do, nothing about you is shared with these agencies.",
        "renew_label": "I agree to share my details with these agencies as now described", "changed_badge": "changed",
        "stale": "The details on this page changed while it was open. Please read them again and save once more.",
        "stale_form": "This form is out of date. Please reload the page and save again.",
        "bad_score": "Please choose a score from 0 to 10.",
        "too_many_fields": "The form sent too many fields and was not saved. Please reload the page.",
        "form_too_large": "The form sent was too large and was not saved. Please reload the page.",
    },
}
GONE = {
    "ja": {"title": "このリンクはご利用いただけません", "body": "リンクが正しくないか、有効期限が切れています。",
           "note": "お心当たりがある場合は、メールの差出人にお問い合わせください。"},
    "en": {"title": "This link cannot be used", "body": "The link is not valid, or it has expired.",
           "note": "If you expected it to work, please contact the sender of the e-mail."},
}
NEUTRAL = {  # a link whose rejection was routed to no mail at all (docs/routing.md), opened anyway
    "ja": {"title": "ご案内", "body": "このページでご案内できる内容は、現在ありません。",
           "note": "ご不明な点がございましたら、メールの差出人にお問い合わせください。"},
    "en": {"title": "Information", "body": "There is nothing to show on this page at the moment.",
           "note": "If you have a question, please contact the sender of the e-mail."},
}
UNSUBSCRIBE = {
    "ja": {"title": "メール配信の停止", "body": "ボタンを押すと、今後このアドレスへのメールをすべて停止します。",
           "button": "配信を停止する", "done": "配信を停止しました。今後メールをお送りすることはありません。",
           "contact": "お問い合わせ"},
    "en": {"title": "Stop e-mails", "body": "Press the button to stop all e-mails to this address.",
           "button": "Stop e-mails", "done": "You are unsubscribed. We will not e-mail you again.",
           "contact": "Contact"},
}
ITEM_LABELS = {
    "ja": {"name": "氏名", "email": "メールアドレス", "phone": "電話番号", "desired_roles": "希望職種",
           "job_title": "応募職種", "stage": "選考段階", "locale": "言語"},
    "en": {"name": "name", "email": "e-mail address", "phone": "phone number", "desired_roles": "desired roles",
           "job_title": "the role applied for", "stage": "the stage reached", "locale": "language"},
}


def _render(name: str, status: int = 200, **context) -> Response:
    from chalicelib.adapters import templates  # Jinja2: ~20 ms of imports, on first page

    html = templates.page(name, **context)
    return Response(body=html, status_code=status, headers=HEADERS)


def _gone(request: Request) -> Response:
    locale = _accept(request)
    return _render("gone", 404, locale=locale, title=GONE[locale]["title"], t=GONE[locale])


def _accept(request: Request) -> str:
    from chalicelib.services.common import locale_from
    return locale_from((request.headers or {}).get("accept-language"), "ja")


def agencies_view(agencies: list[dict], locale: str, changed: Sequence[str] = ()) -> list[dict]:
    """The agencies as the page tells of them: everything in referrals.recipient_facts, in words."""
    from chalicelib.domain.referrals import endpoint_owner  # the domain's models load on first page (cold start)

    labels = ITEM_LABELS[locale]
    view = []
    for agency in agencies:
        foreign = (agency.get("country") or "JP").upper() != "JP"
        view.append({**agency, "item_labels": [labels.get(i, i) for i in agency.get("data_items", [])], "foreign": foreign,
                     "foreign_text": TEXT[locale]["foreign"].format(country=agency.get("country"),
                                                                    note=agency.get("foreign_regime_note") or "") if foreign else "",
                     "purpose_text": agency.get("purpose") or TEXT[locale]["default_purpose"],
                     "owner": endpoint_owner(agency.get("endpoint")), "changed": agency.get("slug") in changed})
    return view


def consent_text(page: RelayPage) -> str:
    """Exactly the explanation the person is shown; its digest is the consent's text version."""
    from chalicelib.adapters import templates  # Jinja2: ~20 ms of imports, on first page

    return templates.page_text(f"relay_consent.{page.locale}", company_name=page.settings.company_name,
                               agencies=agencies_view(page.agencies, page.locale))


def _relay(request: Request, token: str, page: RelayPage, status: int = 200, notice: str | None = None) -> Response:
    locale, settings = page.locale, page.settings
    if page.action == "none":
        return _render("gone", locale=locale, title=NEUTRAL[locale]["title"], t=NEUTRAL[locale])
    text = consent_text(page)  # the form carries what it showed: a POST after a change is refused (409)
    agencies = agencies_view(page.agencies, locale, page.changed)
    return _render("relay", status, locale=locale, t=TEXT[locale], title=TEXT[locale]["title"],
                   company_name=settings.company_name, postal_address=settings.postal_address, contact=settings.contact,
                   consent_paragraphs=[p for p in text.split("\n") if p.strip()],
                   agencies=agencies, changed=[a for a in agencies if a["changed"]], offer_relay="relay" in page.offers,
                   current={purpose: given and purpose in page.offers for purpose, given in page.current.items()},
                   score=page.score, csrf=page.info.csrf, action=f"/r/{token}",
                   valid_until=zones.local_day(page.info.valid_until, settings.zone),  # the tenant's day
                   saved=page.saved, shown=page.shown(text), notice=notice, seen=f"/r/{token}/seen")


def _form(request: Request) -> dict[str, str]:
    """The page's form fields; FormRefused for a body too large or with too many fields."""
    raw = request.raw_body or b""
    if len(raw) > MAX_FORM_BYTES:
        raise FormRefused("form_too_large", f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise FormRefused("too_many_fields", f"the form has more than {MAX_FORM_FIELDS} fields") from None
    return {k: v[-1] for k, v in parsed.items()}


@api
def relay_get(request: Request, token: str) -> Response:
    page = wiring.hub().relay.relay_page(token, accept_language=(request.headers or {}).get("accept-language"))
    if page is None:
        return _gone(request)
    metrics.add_metric(name="RelayPageViewed", unit=MetricUnit.Count, value=1)
    return _relay(request, token, page)


@api
def relay_seen(request: Request, token: str) -> Response:
    """The page's beacon image: a browser showing the page loads it; the first load counts the link
    as opened. 204 whatever the token (it tells nobody which tokens exist)."""
    wiring.hub().relay.seen(token)
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@api
def relay_post(request: Request, token: str) -> Response:
    try:
        page = wiring.hub().relay.decide(token, _form(request), consent_text=consent_text,
                                   accept_language=(request.headers or {}).get("accept-language"))
    except HubError as error:
        if error.status >= 500:
            raise
        logger.info("relay decision refused", extra={"error": error.code})
        current = wiring.hub().relay.relay_page(token, accept_language=(request.headers or {}).get("accept-language"))
        if current is None:
            return _gone(request)
        notice = TEXT[current.locale]["stale"] if isinstance(error, Conflict) else None
        if isinstance(error, FormRefused):
            notice = TEXT[current.locale].get(error.reason, TEXT[current.locale]["stale_form"])
        return _relay(request, token, current, error.status, notice=notice)
    if page is None:
        return _gone(request)
    logger.info("relay decision saved", extra={"tenant": page.info.tenant})
    metrics.add_metric(name="RelayDecisionSaved", unit=MetricUnit.Count, value=1)
    return _relay(request, token, page)


def _unsubscribe(page: UnsubscribePage, token: str) -> Response:
    locale, settings = page.locale, page.settings
    return _render("unsubscribe", locale=locale, t=UNSUBSCRIBE[locale], title=UNSUBSCRIBE[locale]["title"],
                   company_name=settings.company_name, postal_address=settings.postal_address, contact=settings.contact,
                   unsubscribed=page.unsubscribed, action=f"/u/{token}")


@api
def unsubscribe_get(request: Request, token: str) -> Response:
    page = wiring.hub().relay.unsubscribe_page(token)
    return _unsubscribe(page, token) if page else _gone(request)


@api
def unsubscribe_post(request: Request, token: str) -> Response:
    """RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click"; the page's button does too."""
    page = wiring.hub().relay.unsubscribe(token)
    if page is None:
        return _gone(request)
    logger.info("unsubscribed", extra={"tenant": page.info.tenant})
    metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
    return _unsubscribe(page, token)
