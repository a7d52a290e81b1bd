"""Every key of the hub's one DynamoDB table, each format defined once. Nothing else in the code
base spells a key: stores, tools, bench and tests build and read keys with these functions.

The tenant is in every key. Items (pk / sk; gsi1pk / gsi1sk where the item waits for work):

  person profile   T#<tenant>#P#<person id>            / PROFILE
  timeline entry   T#<tenant>#P#<person id>            / TL#<at>#<tag>   (tag: fact key, sent notice, ...)
  notice           T#<tenant>#P#<person id>            / NOTICE#<sha256 of track>
                   while pending: OUTBOX#<tenant> / <due at>#<tenant>#<person id>#<notice sk>
                   (OUTBOX / the same sk for items stored before; still read)
                   while waiting for its sender: NWAIT#<tenant> / <due at>#<tenant>#<person id>#<notice sk>
  referral         T#<tenant>#P#<person id>            / REF#<agency>
                   while queued:    REFQ#<tenant>#<agency> / <queued at>#<person id>
                   to be withdrawn: WDQ#<tenant>#<agency>  / <at>#<person id>
  nurture schedule T#<tenant>#P#<person id>            / NURT#<campaign>
                   while due:       NURT#<tenant> / <next due>#<campaign>#<person id>
  token reference  T#<tenant>#P#<person id>            / TOKREF#<token digest>
  person marker    T#<tenant>#P#<person id>            / MARK   (merged into another id, or erased: ids only)
  identity         T#<tenant>#ID#<source>#<vendor id>  / ID     -> person id
  e-mail identity  T#<tenant>#EM#<sha256 of address>   / EM     -> person id
  delivery         T#<tenant>#DL#<source>#<delivery id> / DL    (TTL: the dedupe window)
  look-up budget   T#<tenant>#LB#<source>#<minute>     / LB    (look-ups queued that minute; TTL: a day)
  search index     T#<tenant>#IX#<kind>#<value>        / <person id>
                   names: T#<tenant>#IX#name           / <name key>#<person id>
  tombstone        T#<tenant>#TOMB#<sha256 of identity> / TOMB  (an erased identity: replays stay out)
  counters         T#<tenant>#CTR                      / TOTAL and DAY#<yyyy-mm-dd>  (ADD on write)
  KPI snapshot     T#<tenant>#KPI                      / SNAP#<yyyy-mm-dd>
  tenant           TENANTS                             / <tenant>
  sender claim     SENDER#<domain>                     / SENDER  (no tenant in the key: one put decides who holds it)
  source link      T#<tenant>#CONF                     / SOURCE#<source>
  poll cursor      T#<tenant>#CONF                     / CURSOR#<source>
  document         T#<tenant>#CONF                     / SETTINGS, TEMPLATE#<kind>#<locale>, AGENCY#<slug>,
                                                         SEGMENT#<slug>, CAMPAIGN#<slug>, CONSENT_TEXT#<version>,
                                                         ROUTING, SOURCE_SETTINGS#<source>
  link token       T#<tenant>#TOK#<sha256 of secret>   / TOK    (TTL: valid until)
  suppression      T#<tenant>#SUP#<sha256 of address>  / SUP
  audit entry      T#<tenant>#AUDIT                    / <at>#<random>  (TTL)
  admin token      T#<tenant>#ADMTOK                   / <token id>   (TTL: 30 days after it expired)
  principal grant  T#<tenant>#GRANT / <grant id>; its mirror GRANTEE#<grant id> / T#<tenant> (AWS: who acts for whom)
  agency ledger    T#<tenant>#AGY#<agency>             / LEDGER  (ADD on write)
  agency circuit   T#<tenant>#AGY#<agency>             / STATE
  batch            T#<tenant>#AGY#<agency>             / BATCH#<batch id>
                   while open: OPENB#<tenant>#<agency> / <created at>#<batch id>
  ledger entry     T#<tenant>#AGY#<agency>             / LE#<at>#earn<accepted>, LE#<at>#use<n>, LE#<at>#sent<batch>#<person>
  provision record T#<tenant>#PROV#<person id>         / <provided at>#<agency>#<batch id>  (TTL: kept 3 years)
  side effect once T#<tenant>#ONCE                     / <idempotency key>  (Powertools; adapters/once.py)
  console session  CONSOLE#S#<sha256 of session id>    / SESSION (TTL: its end; no tenant: a person may hold several)
  console sign-in  CONSOLE#SI#<sha256 of state>        / SIGNIN  (TTL: 10 minutes; taken once at the callback)

The gsi1 keys (OUTBOX, NWAIT#, REFQ#, WDQ#, OPENB#, NURT#) are built in index_keys.py and
re-exported here, so callers use keys.* for every key.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo.index_keys import OUTBOX as OUTBOX
from chalicelib.adapters.dynamo.index_keys import nurture_due_entry as nurture_due_entry
from chalicelib.adapters.dynamo.index_keys import nurture_due_pk as nurture_due_pk
from chalicelib.adapters.dynamo.index_keys import nurture_due_sk as nurture_due_sk
from chalicelib.adapters.dynamo.index_keys import open_batch_sk as open_batch_sk
from chalicelib.adapters.dynamo.index_keys import open_batches_pk as open_batches_pk
from chalicelib.adapters.dynamo.index_keys import outbox_entry as outbox_entry
from chalicelib.adapters.dynamo.index_keys import outbox_pk as outbox_pk
from chalicelib.adapters.dynamo.index_keys import outbox_sk as outbox_sk
from chalicelib.adapters.dynamo.index_keys import queued_pk as queued_pk
from chalicelib.adapters.dynamo.index_keys import waiting_person_sk as waiting_person_sk
from chalicelib.adapters.dynamo.index_keys import waiting_pk as waiting_pk
from chalicelib.adapters.dynamo.index_keys import withdrawals_pk as withdrawals_pk
from chalicelib.domain.events import HubEvent, iso
from chalicelib.domain.people import email_key
from chalicelib.domain.records import DocumentKind

Key = tuple[str, str]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _short(value: str) -> str:
    # keys stay well under DynamoDB's limits whatever a vendor sends as an id
    return value if len(value) <= 200 else _digest(value)


# -- a person's partition ---------------------------------------------------------------------

PROFILE = "PROFILE"
REFERRAL_PREFIX = "REF#"  # the sort keys of a person's referrals begin so
_TOKEN_REF = "TOKREF#"


def person_pk(tenant: str, person_id: str) -> str:
    return f"T#{tenant}#P#{person_id}"


def person_id_of(pk: str) -> str:
    """The person id in the key of a person's partition (or of their provision records)."""
    return pk.rsplit("#", 1)[1]


def profile_key(tenant: str, person_id: str) -> Key:
    return person_pk(tenant, person_id), PROFILE


def marker_key(tenant: str, person_id: str) -> Key:
    return person_pk(tenant, person_id), "MARK"


def timeline_sk(at: str, tag: str) -> str:
    return f"TL#{at}#{tag}"


def fact_sk(event: HubEvent) -> str:
    """A fact's timeline entry: one per fact, whichever delivery brought it."""
    return timeline_sk(iso(event.occurred_at), event.fact_key()[:32])


def sent_notice_sk(sent_at: str, notice: str) -> str:
    return timeline_sk(sent_at, notice[-16:])


def contact_sk(entry: Mapping[str, Any]) -> str:
    """A timeline entry the hub made itself, keyed by its content: recorded once."""
    return timeline_sk(entry["occurred_at"], _digest(repr(sorted(entry.items())))[:16])


def decision_sk(at: str, index: int, consent: str) -> str:
    return timeline_sk(at, f"c{index}{consent}")


def opt_out_sk(at: str) -> str:
    return timeline_sk(at, "optout")


def referred_sk(at: str, agency: str) -> str:
    return timeline_sk(at, f"ref{agency}")


def answered_sk(at: str, agency: str) -> str:
    return timeline_sk(at, f"res{agency}")


def nurture_sent_sk(sent_at: str, campaign: str, due: str) -> str:
    return timeline_sk(sent_at, "n" + _digest(f"{campaign}:{due}")[:16])


def notice_sk(track: str) -> str:
    return "NOTICE#" + _digest(track)[:24]


def referral_key(tenant: str, person_id: str, agency: str) -> Key:
    return person_pk(tenant, person_id), REFERRAL_PREFIX + agency


def nurture_key(tenant: str, person_id: str, campaign: str) -> Key:
    return person_pk(tenant, person_id), f"NURT#{campaign}"


def token_ref_sk(digest: str) -> str:
    return _TOKEN_REF + digest


def token_digest_of_ref(sk: str) -> str:
    return sk[len(_TOKEN_REF):]


def referral_id(tenant: str, person_id: str, agency: str) -> str:
    """The id an agency knows a referral by: stable per person and agency, however often consent is given."""
    return "r_" + _digest(f"{tenant}\x1f{person_id}\x1f{agency}")[:24]


# -- what leads to a person -------------------------------------------------------------------

def identity_key(tenant: str, source: str, vendor_id: str) -> Key:
    return f"T#{tenant}#ID#{source}#{_short(vendor_id)}", "ID"


def email_identity_key(tenant: str, email: str) -> Key:
    return f"T#{tenant}#EM#{email_key(email)}", "EM"


def delivery_key(tenant: str, source: str, delivery_id: str) -> Key:
    return f"T#{tenant}#DL#{source}#{_short(delivery_id)}", "DL"


def lookup_budget_key(tenant: str, source: str, window: str) -> Key:
    return f"T#{tenant}#LB#{source}#{window}", "LB"


NAME_INDEX = "name"  # one partition per tenant, sorted by name: a prefix search is a key condition


def index_pk(tenant: str, kind: str, value: str) -> str:
    return f"T#{tenant}#IX#{NAME_INDEX}" if kind == NAME_INDEX else f"T#{tenant}#IX#{kind}#{_short(value)}"


def index_key(tenant: str, person_id: str, kind: str, value: str) -> Key:
    return index_pk(tenant, kind, value), (f"{value}#{person_id}" if kind == NAME_INDEX else person_id)


def index_start(kind: str, value: str) -> str | None:
    """The sort key prefix a search of the index reads (names: a prefix of the name), or None."""
    return value if kind == NAME_INDEX else None


def tombstone_key(tenant: str, identity: str) -> Key:
    """identity: "<source>:<vendor id>" or a normalised e-mail address; only its digest is kept."""
    return f"T#{tenant}#TOMB#{_digest(identity)}", "TOMB"


# -- counters and KPI snapshots -----------------------------------------------------------------

COUNTERS_TOTAL = "TOTAL"
_DAY = "DAY#"
_SNAPSHOT = "SNAP#"


def counters_pk(tenant: str) -> str:
    return f"T#{tenant}#CTR"


def counters_day_sk(day: str) -> str:
    return _DAY + day


def day_of_counters(sk: str) -> str:
    return sk[len(_DAY):]


def kpi_pk(tenant: str) -> str:
    return f"T#{tenant}#KPI"


def snapshot_sk(day: str) -> str:
    return _SNAPSHOT + day


def day_of_snapshot(sk: str) -> str:
    return sk[len(_SNAPSHOT):]


# -- tenants and their configuration ----------------------------------------------------------

TENANTS = "TENANTS"
SOURCE_PREFIX = "SOURCE#"


def tenant_key(tenant: str) -> Key:
    return TENANTS, tenant


def conf_pk(tenant: str) -> str:
    return f"T#{tenant}#CONF"


def source_sk(source: str) -> str:
    return SOURCE_PREFIX + source


def source_of(sk: str) -> str:
    return sk[len(SOURCE_PREFIX):]


def cursor_sk(source: str) -> str:
    return f"CURSOR#{source}"


# a document kind: its sort key prefix, and how many names it takes
_DOCUMENTS: dict[str, tuple[str, int]] = {
    "settings": ("SETTINGS", 0), "template": ("TEMPLATE#", 2), "agency": ("AGENCY#", 1),
    "segment": ("SEGMENT#", 1), "campaign": ("CAMPAIGN#", 1), "consent_text": ("CONSENT_TEXT#", 1),
    "source_status": ("SOURCE_STATUS#", 1), "source_delivery": ("SOURCE_DELIVERY#", 1),
    "writeback_state": ("WRITEBACK#", 1), "routing": ("ROUTING", 0),
}


def document_sk(kind: DocumentKind, name: Sequence[str]) -> str:
    """SETTINGS, TEMPLATE#<kind>#<locale>, AGENCY#<slug>, SEGMENT#<slug>, CAMPAIGN#<slug>, CONSENT_TEXT#<version>,
    SOURCE_STATUS#<source>."""
    prefix, arity = _DOCUMENTS[kind]
    if len(name) != arity:
        raise ValueError(f"a {kind} document is named by {arity} names")
    return prefix + "#".join(name)


def documents_prefix(kind: DocumentKind) -> str:
    return _DOCUMENTS[kind][0]


# -- links, suppressions, audit, admin tokens, side effects -------------------------------------

def token_key(token: str) -> Key | None:
    """The key of a link token "<tenant>.<secret>" (by the digest of its secret); None if malformed."""
    if not isinstance(token, str) or len(token) > 120 or "." not in token:
        return None
    tenant, secret = token.split(".", 1)
    return token_key_of(tenant, _digest(secret)) if tenant and secret else None


def token_key_of(tenant: str, digest: str) -> Key:
    return f"T#{tenant}#TOK#{digest}", "TOK"


def token_digest(key: Key) -> str:
    return key[0].rsplit("#", 1)[1]


def suppression_key(tenant: str, email: str) -> Key:
    return f"T#{tenant}#SUP#{email_key(email)}", "SUP"


def audit_pk(tenant: str) -> str:
    return f"T#{tenant}#AUDIT"


def audit_sk(at: str, nonce: str) -> str:
    return f"{at}#{nonce}"


def grants_pk(tenant: str) -> str:
    return f"T#{tenant}#GRANT"


def grantee_pk(grant_id: str) -> str:
    return f"GRANTEE#{grant_id}"


def grant_keys(tenant: str, grant_id: str) -> tuple[Key, Key]:
    return (grants_pk(tenant), grant_id), (grantee_pk(grant_id), f"T#{tenant}")  # the grant, and its mirror


def admin_token_key(tenant: str, token_id: str) -> Key:
    return f"T#{tenant}#ADMTOK", token_id  # token_id "": the partition of the tenant's tokens


def once_pk(tenant: str) -> str:
    """The partition of a tenant's side-effect records (Powertools idempotency, adapters/once.py)."""
    return f"T#{tenant}#ONCE"


# -- Career Relay: agencies, batches, the ledger, provision records ----------------------------

LEDGER_ENTRY_PREFIX = "LE#"
_BATCH = "BATCH#"


def agency_pk(tenant: str, agency: str) -> str:
    return f"T#{tenant}#AGY#{agency}"


def ledger_key(tenant: str, agency: str) -> Key:
    return agency_pk(tenant, agency), "LEDGER"


def state_key(tenant: str, agency: str) -> Key:
    return agency_pk(tenant, agency), "STATE"


def batch_key(tenant: str, agency: str, batch_id: str) -> Key:
    return agency_pk(tenant, agency), _BATCH + batch_id


def batch_id_of(sk: str) -> str:
    return sk[len(_BATCH):]


def slot_earned_sk(at: str, accepted_total: int) -> str:
    return f"{LEDGER_ENTRY_PREFIX}{at}#earn{accepted_total}"


def slot_used_sk(at: str, used_total: int) -> str:
    return f"{LEDGER_ENTRY_PREFIX}{at}#use{used_total}"


def sent_sk(at: str, batch_id: str, first_person_id: str) -> str:
    """A ledger entry of referrals claimed into a batch (one per claim transaction)."""
    return f"{LEDGER_ENTRY_PREFIX}{at}#sent{batch_id}#{first_person_id}"


def provision_pk(tenant: str, person_id: str) -> str:
    return f"T#{tenant}#PROV#{person_id}"


def provision_sk(provided_at: str, agency: str, batch_id: str) -> str:
    return f"{provided_at}#{agency}#{batch_id}"


def sender_key(domain: str) -> Key:
    return f"SENDER#{domain}", "SENDER"


def session_key(id_hash: str) -> Key:
    return f"CONSOLE#S#{id_hash}", "SESSION"


def sign_in_key(state_hash: str) -> Key:
    return f"CONSOLE#SI#{state_hash}", "SIGNIN"
