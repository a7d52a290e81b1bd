"""Career Relay referrals: what an agency receives, how retries wait, when slots are earned,
when an agency is paused (pure rules)."""
from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.jsondata import JsonObject
from chalicelib.domain.people import normalise_email
from chalicelib.domain.person import Person

DATA_ITEMS = ("name", "email", "phone", "desired_roles", "job_title", "stage", "locale")
KEEP_PROVISION_RECORDS = timedelta(days=3 * 365 + 1)  # APPI Art. 29 / rules Art. 20: three years
HELD = "reconsent_needed"   # a referral consented under another version of its agency: not sent until consent is given again
MAX_TRIES_PER_RUN = 3        # sends of one batch within one job run
MAX_BATCH_ATTEMPTS = 5       # runs before a batch is parked in the dead-letter queue
BREAKER_THRESHOLD = 3        # consecutive failed batches before an agency is paused
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Agency:
    slug: str
    name: str
    legal_name: str
    country: str
    endpoint: str
    auth_type: str
    data_items: tuple[str, ...]
    batch_size: int = 10
    referrals_per_slot: int = 10
    foreign_regime_note: str | None = None
    client: str = "career_relay"
    sandbox: bool = False
    purpose: str | None = None  # what the agency uses the data for, when not the standard job placement

    @property
    def consent_version(self) -> str:
        """The version of what a candidate is told about this recipient (consent_version_of)."""
        return consent_version_of(self._told())

    def to_json(self) -> JsonObject:
        return {"slug": self.slug, "name": self.name, "legal_name": self.legal_name, "country": self.country,
                "endpoint": self.endpoint, "auth_type": self.auth_type, "data_items": list(self.data_items),
                "batch_size": self.batch_size, "referrals_per_slot": self.referrals_per_slot,
                "foreign_regime_note": self.foreign_regime_note, "client": self.client, "sandbox": self.sandbox,
                "purpose": self.purpose, "consent_version": self.consent_version}

    def _told(self) -> JsonObject:
        return {"name": self.name, "legal_name": self.legal_name, "country": self.country, "endpoint": self.endpoint,
                "data_items": list(self.data_items), "foreign_regime_note": self.foreign_regime_note,
                "purpose": self.purpose}

    @classmethod
    def from_json(cls, data: JsonObject) -> Agency:
        """An agency as stored (a stored consent_version is derived, not read: it is computed afresh)."""
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "data_items": tuple(data["data_items"])})


# -- what a candidate is told about a recipient, and its version (APPI Art. 27/28) -----------------

def endpoint_owner(endpoint: object) -> str | None:
    """Who receives the data: the host of the agency's endpoint (lower case, IDNA, no port, no path).
    Another path on the same host is the same owner; another host is another owner."""
    if not isinstance(endpoint, str):
        return None
    try:
        host = urlsplit(endpoint.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def recipient_facts(agency: Mapping[str, Any]) -> JsonObject:
    """Everything the consent page tells a candidate about one recipient: its names, country,
    purpose, data items, who owns the endpoint the data goes to, and (outside Japan) the note on
    that country's regime. Nothing else (batch sizes, slots, the endpoint's path) is in it."""
    country = str(agency.get("country") or "JP").upper()
    items = agency.get("data_items") or []
    return {"name": agency.get("name"), "legal_name": agency.get("legal_name"), "country": country,
            "purpose": agency.get("purpose") or None, "data_items": sorted(str(i) for i in items),
            "endpoint_owner": endpoint_owner(agency.get("endpoint")),
            "foreign_regime_note": (agency.get("foreign_regime_note") or None) if country != "JP" else None}


def consent_version_of(agency: Mapping[str, Any]) -> str:
    """The consent version of a recipient: a digest of recipient_facts. Any edit to what the
    candidate is told makes another version; consents name the version they were given to."""
    canonical = json.dumps(recipient_facts(agency), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "r-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def consent_evidence(agency: Mapping[str, Any]) -> JsonObject:
    """What is kept for each version (the consent_text document named by it): the facts it stands for."""
    return {"kind": "recipient", "version": consent_version_of(agency), "facts": recipient_facts(agency)}


NO_AUTH = "none"  # the auth_type of an agency without stored credentials (dropped when its endpoint changed)


def read_agency(slug: str, body: JsonObject, clients: tuple[str, ...], *,
                auth_required: bool = True) -> tuple[Agency, dict[str, str] | None]:
    """An agency from an admin request, and its auth (stored apart, in Secrets Manager). An update
    (auth_required=False) may leave auth out: then the auth is None and the auth_type NO_AUTH, and
    the caller decides whether the stored credentials still apply."""
    if not _SLUG.match(slug or ""):
        raise BadRequest("the agency slug must be lower-case letters, digits, - and _")
    allowed = {"name", "legal_name", "country", "endpoint", "auth", "data_items", "batch_size", "referrals_per_slot",
               "foreign_regime_note", "client", "sandbox", "purpose"}
    if set(body) - allowed:
        raise BadRequest(f"unknown fields: {', '.join(sorted(set(body) - allowed))}")

    def text(name: str, limit: int = 200) -> str:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise BadRequest(f"{name} must be a non-empty string of at most {limit} characters")
        return value.strip()

    def optional_text(name: str, limit: int) -> str | None:
        return None if body.get(name) is None else text(name, limit)

    country = text("country", 2)
    if not re.match(r"^[A-Za-z]{2}$", country):
        raise BadRequest("country must be an ISO 3166 alpha-2 code such as JP")
    endpoint = text("endpoint", 500)
    if not re.match(r"^https?://[^\s]+$", endpoint):
        raise BadRequest("endpoint must be an http(s) URL")
    items = body.get("data_items")
    if not isinstance(items, list) or not items or not all(i in DATA_ITEMS for i in items):
        raise BadRequest(f"data_items must be a non-empty list of {', '.join(DATA_ITEMS)}")
    numbers: dict[str, int] = {}
    for name, default, top in (("batch_size", 10, 100), ("referrals_per_slot", 10, 1000)):
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise BadRequest(f"{name} must be a whole number from 1 to {top}")
        numbers[name] = value
    client = body.get("client", "career_relay")
    if client not in clients:
        raise BadRequest(f"client must be one of {', '.join(clients)}")
    auth = body.get("auth")
    credentials: dict[str, str] | None = None
    if auth is not None or auth_required:
        if not isinstance(auth, dict) or auth.get("type") not in ("standard_webhooks", "bearer"):
            raise BadRequest('auth must be {"type": "standard_webhooks", "secret": "whsec_..."} or {"type": "bearer", "token": "..."}')
        field = "secret" if auth["type"] == "standard_webhooks" else "token"
        value = auth.get(field)
        if not isinstance(value, str) or not 8 <= len(value) <= 4096 or set(auth) - {"type", field}:
            raise BadRequest(f"auth.{field} must be a string of 8 to 4096 characters")
        if field == "secret" and not value.startswith("whsec_"):
            raise BadRequest("auth.secret must be a Standard Webhooks secret (whsec_...)")
        credentials = {"type": auth["type"], field: value}
    if body.get("sandbox") is not None and not isinstance(body["sandbox"], bool):
        raise BadRequest("sandbox must be true or false")
    agency = Agency(slug=slug, name=text("name"), legal_name=text("legal_name"), country=country.upper(),
                    endpoint=endpoint.rstrip("/"), auth_type=credentials["type"] if credentials else NO_AUTH,
                    data_items=tuple(dict.fromkeys(items)),
                    foreign_regime_note=optional_text("foreign_regime_note", 500), client=client,
                    sandbox=bool(body.get("sandbox", False)), purpose=optional_text("purpose", 300), **numbers)
    return agency, credentials


def payload(person: Person, timeline: list[JsonObject], referral_id: str, items: tuple[str, ...],
            consent: JsonObject) -> JsonObject:
    """What one agency receives about one person: only its configured data items, and the consent."""
    last: JsonObject = next((e for e in reversed(timeline) if e.get("type") in ("rejected", "applied")), {})
    values: dict[str, object] = {
        "name": person.name, "email": normalise_email(person.email), "phone": person.phone,
        "desired_roles": [t for t in person.tags if t] or ([last["job_title"]] if last.get("job_title") else []),
        "job_title": last.get("job_title"), "stage": last.get("stage"), "locale": person.locale,
    }
    body: JsonObject = {"referral_id": referral_id}
    body.update({item: values[item] for item in items if values.get(item) not in (None, [], "")})
    body["consent"] = {"given_at": consent.get("at"), "text_version": consent.get("text_version"),
                       "version": consent.get("version")}
    return body


def backoff_s(attempt: int, *, retry_after: float | None = None, base: float = 0.5, cap: float = 8.0,
              rand: random.Random | None = None) -> float:
    """Capped full jitter, and never sooner than the agency's Retry-After."""
    jitter = (rand or random).uniform(0, min(cap, base * 2 ** attempt))
    return max(jitter, retry_after or 0.0)


def slots_for(accepted: int, per_slot: int) -> int:
    return accepted // per_slot


def pause_for(consecutive_failures: int) -> timedelta | None:
    """How long the circuit stays open after this many failed batches in a row (None: closed)."""
    if consecutive_failures < BREAKER_THRESHOLD:
        return None
    factor: int = 2 ** (consecutive_failures - BREAKER_THRESHOLD)  # a whole number: the exponent is >= 0 here
    return min(timedelta(minutes=15) * factor, timedelta(hours=6))


def keep_until(at: datetime) -> datetime:
    return at + KEEP_PROVISION_RECORDS
