"""A tenant's own settings: who the mail is from (the sender block the law asks for) and how it travels."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from chalicelib.domain import phones, senders, zones
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.people import normalise_email

LOCALES = ("ja", "en")
TRANSPORTS = ("ses", "smtp")
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")
# Bidirectional controls: invisible, and they reorder what a mail client shows (a spoofed sender name).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_controls(value: str, *, line_breaks: bool = False) -> bool:
    """Whether text holds a control character (CR, LF, NUL, ESC, ..., line and paragraph separators,
    bidi overrides): what would break or forge a mail header. line_breaks: LF is allowed (body text)."""
    return any((ch != "\n" or not line_breaks) and (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI)
               for ch in value)


MAX_NOTICE_DELAY_MINUTES = 10_080  # a week
IMPLICIT_TLS_PORT = 465  # RFC 8314: TLS from the first byte (else STARTTLS, RFC 3207)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str | None = None
    starttls: bool = True
    has_password: bool = False  # the password itself lives in Secrets Manager

    @property
    def uses_tls(self) -> bool:
        """Implicit TLS on port 465, else STARTTLS when asked."""
        return self.port == IMPLICIT_TLS_PORT or self.starttls


def same_mail_server(old: SmtpSettings, new: SmtpSettings) -> bool:
    """Whether new settings point where the old ones did (the stored password may stay)."""
    return (old.host.lower().rstrip("."), old.port) == (new.host.lower().rstrip("."), new.port)


def check_mail_security(smtp: SmtpSettings) -> None:
    """A password travels only over TLS: STARTTLS, or implicit TLS on port 465."""
    if smtp.has_password and not smtp.uses_tls:
        raise BadRequest("smtp: a password is sent only over TLS: set starttls to true, or use port 465 (implicit TLS)")


@dataclass(frozen=True)
class TenantSettings:
    company_name: str
    sender_email: str
    postal_address: str
    contact: str
    default_locale: str = "ja"
    mail_transport: str = "ses"
    smtp: SmtpSettings | None = None
    extra: JsonObject = field(default_factory=dict)
    nurture_interval_days: int = 90  # at most one nurture mail per person in this many days
    phone_region: str = phones.DEFAULT_REGION  # ISO 3166 alpha-2: where a phone without a country code is read
    time_zone: str | None = None     # IANA name; None: the locale's default (zones.default_zone)
    notice_delay_minutes: int | None = None  # hub_notice mode's wait after a rejection; None: the hub's default

    @property
    def zone(self) -> str:
        """The tenant's time zone: KPI days, segment windows, nurture cadences, dates in mails and pages."""
        return self.time_zone or zones.default_zone(self.default_locale)

    def to_json(self) -> JsonObject:
        data: JsonObject = {"company_name": self.company_name, "sender_email": self.sender_email,
                "postal_address": self.postal_address, "contact": self.contact,
                "default_locale": self.default_locale, "mail_transport": self.mail_transport,
                "nurture_interval_days": self.nurture_interval_days, "time_zone": self.zone,
                "phone_region": self.phone_region}
        if self.notice_delay_minutes is not None:
            data["notice_delay_minutes"] = self.notice_delay_minutes
        if self.smtp:
            data["smtp"] = {"host": self.smtp.host, "port": self.smtp.port, "username": self.smtp.username,
                            "starttls": self.smtp.starttls, "password_stored": self.smtp.has_password}
        return data


def _text(body: JsonObject, name: str, limit: int = 300, *, line_breaks: bool = False) -> str:
    """A settings text; every one but the postal address (body only, may take line breaks) can reach a
    mail header (From, Subject via a template), so none may hold a control character."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequest(f"{name} must be a non-empty string of at most {limit} characters")
    value = value.replace("\r\n", "\n") if line_breaks else value
    if has_controls(value, line_breaks=line_breaks):
        raise BadRequest(f"{name} must not contain control characters (CR, LF, tab, ...)"
                         + (" other than line breaks" if line_breaks else ""))
    return value.strip()


def read_settings(body: JsonObject, *, has_password: bool = False) -> tuple[TenantSettings, str | None]:
    """Settings from an admin request, and the SMTP password if one was given (stored apart)."""
    unknown = set(body) - {"company_name", "sender_email", "postal_address", "contact", "default_locale", "mail_transport", "smtp",
                          "nurture_interval_days", "time_zone", "phone_region", "notice_delay_minutes"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    sender = normalise_email(_text(body, "sender_email"))
    if sender is None:
        raise BadRequest("sender_email is not an e-mail address")
    senders.domain_of(sender)  # the From header takes it as is, and its domain is registered as the sender
    locale = body.get("default_locale", "ja")
    if locale not in LOCALES:
        raise BadRequest(f"default_locale must be one of {', '.join(LOCALES)}")
    transport = body.get("mail_transport", "ses")
    if transport not in TRANSPORTS:
        raise BadRequest(f"mail_transport must be one of {', '.join(TRANSPORTS)}")
    smtp, password = None, None
    if transport == "smtp" or body.get("smtp") is not None:
        raw = body.get("smtp")
        if not isinstance(raw, dict):
            raise BadRequest("smtp must be an object with host, port, username, password, starttls")
        if set(raw) - {"host", "port", "username", "password", "starttls"}:
            raise BadRequest("smtp takes host, port, username, password, starttls")
        host = raw.get("host")
        port = raw.get("port", 587)
        if not isinstance(host, str) or not _HOST.match(host):
            raise BadRequest("smtp.host must be a host name")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise BadRequest("smtp.port must be a port number")
        username, password = raw.get("username"), raw.get("password")
        if username is not None and (not isinstance(username, str) or len(username) > 300 or has_controls(username)):
            raise BadRequest("smtp.username must be a string without control characters")
        if password is not None and (not isinstance(password, str) or not 1 <= len(password) <= 1000):
            raise BadRequest("smtp.password must be a string")
        starttls = raw.get("starttls", True)
        if not isinstance(starttls, bool):
            raise BadRequest("smtp.starttls must be true or false")
        smtp = SmtpSettings(host=host, port=port, username=username, starttls=starttls,
                            has_password=password is not None or has_password)
    interval = body.get("nurture_interval_days", 90)
    if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= 3650:
        raise BadRequest("nurture_interval_days must be a whole number from 1 to 3650")
    delay = body.get("notice_delay_minutes")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_NOTICE_DELAY_MINUTES):
        raise BadRequest(f"notice_delay_minutes must be a whole number from 0 to {MAX_NOTICE_DELAY_MINUTES} (7 days), or null")
    time_zone = zones.check_zone(body["time_zone"]) if body.get("time_zone") is not None else zones.default_zone(locale)
    region = body.get("phone_region", phones.DEFAULT_REGION)
    if not phones.is_region(region):
        raise BadRequest("phone_region must be an ISO 3166 alpha-2 region code in capitals, such as JP or US")
    settings = TenantSettings(company_name=_text(body, "company_name"), sender_email=sender,
                              postal_address=_text(body, "postal_address", 500, line_breaks=True), contact=_text(body, "contact"),
                              default_locale=locale, mail_transport=transport, smtp=smtp,
                              nurture_interval_days=interval, time_zone=time_zone, phone_region=region,
                              notice_delay_minutes=delay)
    return settings, password


def from_json(data: JsonObject) -> TenantSettings:
    smtp = data.get("smtp")
    return TenantSettings(
        company_name=data["company_name"], sender_email=data["sender_email"], postal_address=data["postal_address"],
        contact=data["contact"], default_locale=data.get("default_locale", "ja"),
        mail_transport=data.get("mail_transport", "ses"),
        smtp=SmtpSettings(host=smtp["host"], port=smtp.get("port", 587), username=smtp.get("username"),
                          starttls=smtp.get("starttls", True), has_password=smtp.get("password_stored", False)) if smtp else None,
        nurture_interval_days=data.get("nurture_interval_days", 90), time_zone=data.get("time_zone"),
        phone_region=data.get("phone_region", phones.DEFAULT_REGION), notice_delay_minutes=data.get("notice_delay_minutes"))


def zone_of(data: JsonObject | None) -> str:
    """The time zone of stored settings (None: a tenant without settings has the defaults: ja, Asia/Tokyo)."""
    if not data:
        return zones.default_zone(TenantSettings.default_locale)
    return str(data.get("time_zone") or zones.default_zone(data.get("default_locale", "ja")))
