"""The hub's one table as PynamoDB models: the table (HubItem, its sparse gsi1) and one model per
item kind, told apart by `kind`. Keys are built by keys.py only; stores convert items to domain
values in convert.py, so no model leaves this package.

Counters and agency ledgers have no model: their attribute names are
data (counter names), so they are written with transaction.Transaction and read raw."""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class Gsi1(GlobalSecondaryIndex):
    """Sparse index of due work: only items that wait for something carry gsi1pk."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class HubItem(Model):
    """Every item of the hub's table; `kind` tells them apart."""

    class Meta:
        table_name = "relations-hub-local"  # set from Settings by configure()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    expires_at = TTLAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """One connection for every kind of item: they share the table, its keys and its index.
        PynamoDB would make one per model class, each with its own botocore session, and each session
        loads the DynamoDB service model anew (megabytes per copy in a Lambda of 256 MB)."""
        if cls is HubItem:
            return super()._get_connection()
        return HubItem._get_connection()


class PersonItem(HubItem, discriminator="person"):
    name = UnicodeAttribute(null=True)
    family_name = UnicodeAttribute(null=True)
    given_name = UnicodeAttribute(null=True)
    family_kana = UnicodeAttribute(null=True)
    given_kana = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)  # E.164; before phone_display existed, as typed
    phone_display = UnicodeAttribute(null=True)
    terms_form = NumberAttribute(null=True)  # people.TERMS_FORM of the index items written; None: 1
    locale = UnicodeAttribute(null=True)
    contact_at = UnicodeAttribute(default="")
    tracks = JSONAttribute(default=dict)
    extra_roles = ListAttribute(of=UnicodeAttribute, default=list)
    roles = ListAttribute(of=UnicodeAttribute, default=list)  # derived; stored for reading and indexing
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    consents = JSONAttribute(default=dict)
    identities = ListAttribute(of=UnicodeAttribute, default=list)
    created_at = UnicodeAttribute(default="")
    updated_at = UnicodeAttribute(default="")
    last_contact_at = UnicodeAttribute(null=True)
    milestones = JSONAttribute(default=dict)
    relay_consent_at = UnicodeAttribute(null=True)  # set while relay consent stands: batches check it in their transaction
    version = VersionAttribute()


class TimelineItem(HubItem, discriminator="timeline"):
    entry = JSONAttribute()


class IdentityItem(HubItem, discriminator="identity"):
    person_id = UnicodeAttribute()


class DeliveryItem(HubItem, discriminator="delivery"):
    received_at = UnicodeAttribute()


class LookupBudgetItem(HubItem, discriminator="lookup_budget"):
    """How many vendor look-ups a tenant's source queued in one window (a conditional ADD)."""

    spent = NumberAttribute(default=0)


class IndexItem(HubItem, discriminator="index"):
    """One search term of one person (role, tag, source, name): people are found by Query, not Scan."""

    person_id = UnicodeAttribute()


class TombstoneItem(HubItem, discriminator="tombstone"):
    """An identity (source id or e-mail, by digest) whose person was erased, and when."""

    erased_at = UnicodeAttribute()


class TokenRefItem(HubItem, discriminator="token_ref"):
    """A link token's place in its person's partition, so erasure finds every token."""


class MarkerItem(HubItem, discriminator="person_marker"):
    """What became of a person id: merged into another (into, merged_at) or erased (erased_at).
    Ids and times only; it outlives the profile so later facts and requests find their way."""

    into = UnicodeAttribute(null=True)
    merged_at = UnicodeAttribute(null=True)
    erased_at = UnicodeAttribute(null=True)


class AuditItem(HubItem, discriminator="audit"):
    """Who did what to which record, when; never the data itself."""

    at = UnicodeAttribute()
    who = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute(null=True)


class AdminTokenItem(HubItem, discriminator="admin_token"):
    """A tenant-scoped admin token, stored by the hash of the whole token only."""

    digest = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    valid_until = UnicodeAttribute(null=True)   # absent on tokens issued before tokens expired
    last_used_at = UnicodeAttribute(null=True)  # moved at most once an hour


class SessionItem(HubItem, discriminator="console_session"):
    """A console session, keyed by the SHA-256 of its id (the id is only in the browser's cookie)."""

    subject = UnicodeAttribute()
    username = UnicodeAttribute()
    groups = ListAttribute(of=UnicodeAttribute, default=list)
    csrf = UnicodeAttribute()
    created_at = UnicodeAttribute()
    last_seen_at = UnicodeAttribute()


class SignInItem(HubItem, discriminator="console_sign_in"):
    """A sign-in sent to the managed login: its PKCE verifier, under the SHA-256 of its state."""

    code_verifier = UnicodeAttribute()
    valid_until = UnicodeAttribute()


class GrantItem(HubItem, discriminator="principal_grant"):
    """An IAM principal that may act for a tenant (keyed under the tenant)."""

    principal = UnicodeAttribute()
    granted_at = UnicodeAttribute()
    granted_by = UnicodeAttribute()


class GranteeItem(HubItem, discriminator="grantee"):
    """The mirror of a grant, keyed under the principal: does it act for any tenant?"""

    principal = UnicodeAttribute()


class TenantItem(HubItem, discriminator="tenant"):
    created_at = UnicodeAttribute()


class SenderClaimItem(HubItem, discriminator="sender_claim"):
    """A sender domain held by one tenant, and the status last read from the mail service."""

    tenant = UnicodeAttribute()
    claimed_at = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")
    dkim_tokens = ListAttribute(of=UnicodeAttribute, default=list)
    checked_at = UnicodeAttribute(null=True)


class SourceLinkItem(HubItem, discriminator="source_link"):
    updated_at = UnicodeAttribute()


class PollCursorItem(HubItem, discriminator="poll_cursor"):
    cursor = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


class NoticeItem(HubItem, discriminator="notice"):
    """One notice per application (or employment) track; gsi1 lists it while it waits."""

    notice_kind = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | sent | cancelled | suppressed | failed
    reason = UnicodeAttribute(null=True)  # why a failed notice was not sent (template_error), or its last failure
    attempts = NumberAttribute(null=True)  # sends that failed (the consumer raised); failed at notices.MAX_ATTEMPTS
    track = UnicodeAttribute()
    fact_at = UnicodeAttribute()
    due_at = UnicodeAttribute()
    source = UnicodeAttribute()
    job_title = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    template_version = NumberAttribute(null=True)
    waiting = UnicodeAttribute(null=True)  # why it waits (sender_pending, ...): listed under NWAIT, not OUTBOX
    claimed_until = UnicodeAttribute(null=True)  # a worker mails it until then (docs/notices.md, "Once per notice")
    mailed = JSONAttribute(null=True)  # its mail went out, the record failed: {kind, mail, entry} to record


class ConfigItem(HubItem, discriminator="config"):
    """A tenant's settings or one of its templates (JSON), versioned."""

    data = JSONAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


class TokenItem(HubItem, discriminator="token"):
    """A link token, stored by the hash of its secret part only."""

    person_id = UnicodeAttribute()
    purpose = UnicodeAttribute()
    valid_until = UnicodeAttribute()
    csrf = UnicodeAttribute()
    notice = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    opened_at = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)  # how the link reached the person; None: hub_notice (before issue 19)


class SuppressionItem(HubItem, discriminator="suppression"):
    """An address never to mail again (opted out, bounced, complained, erased), by its digest."""

    reasons = ListAttribute(of=UnicodeAttribute, default=list)
    updated_at = UnicodeAttribute()


class ReferralItem(HubItem, discriminator="referral"):
    """A consented person for one agency. queued -> sending -> accepted | declined | failed;
    withdrawn when consent is withdrawn first; reconsent_needed (held) when it was consented under
    another version of the agency. gsi1 lists it while it waits for a batch."""

    agency = UnicodeAttribute()
    referral_id = UnicodeAttribute()
    status = UnicodeAttribute()
    queued_at = UnicodeAttribute()
    consent_at = UnicodeAttribute()
    consent_version = UnicodeAttribute()  # the agency's consent version (stored before: the page's text version)
    text_version = UnicodeAttribute(null=True)  # the page text the person saw (absent before: consent_version)
    batch_id = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    agency_ref = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    withdrawn_at = UnicodeAttribute(null=True)  # the agency was told of a withdrawal after sending
    provision_sk = UnicodeAttribute(null=True)  # where its provision record is (answered with the outcome)
    attempts = NumberAttribute(default=0)


class BatchItem(HubItem, discriminator="batch"):
    """One batch to one agency: its members and Idempotency-Key; gsi1 lists it while it is open."""

    agency = UnicodeAttribute()
    status = UnicodeAttribute()  # sending | done | parked
    members = ListAttribute(of=UnicodeAttribute, default=list)  # person ids
    idempotency_key = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    last_error = UnicodeAttribute(null=True)


class ProvisionItem(HubItem, discriminator="provision"):
    """The record of a provision to a third party (APPI Art. 29): kept past erasure until keep_until."""

    person_id = UnicodeAttribute()
    agency = UnicodeAttribute()
    recipient = JSONAttribute()       # legal name, country
    data_items = ListAttribute(of=UnicodeAttribute)
    consent = JSONAttribute()         # given_at, version (the agency's consent version), text_version, channel
    provided_at = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    idempotency_key = UnicodeAttribute()
    referral_id = UnicodeAttribute()
    agency_answer = UnicodeAttribute(null=True)
    keep_until = UnicodeAttribute()
    person_name = UnicodeAttribute(null=True)  # minimal: resolves the record to the person after erasure


class LedgerEntryItem(HubItem, discriminator="ledger_entry"):
    entry = JSONAttribute()


class AgencyStateItem(HubItem, discriminator="agency_state"):
    consecutive_failures = NumberAttribute(default=0)
    paused_until = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)  # one batch run per agency at a time
    updated_at = UnicodeAttribute()

class NurtureItem(HubItem, discriminator="nurture"):
    """One person's place in one campaign (sk NURT#<campaign>); gsi1 lists it under NURT#<tenant>,
    sorted by its next due date, while it waits."""

    campaign = UnicodeAttribute()
    enrolled_at = UnicodeAttribute()
    occurrence = UnicodeAttribute(null=True)
    next_due = UnicodeAttribute(null=True)
    last_done = UnicodeAttribute(null=True)
    last_outcome = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()


class DeliveryLogItem(HubItem, discriminator="delivery_log"):
    """e20-sources: one webhook delivery's outcome (keys_deliveries.py); no body, no personal field."""

    at = UnicodeAttribute()
    outcome = UnicodeAttribute()
    event = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    test = BooleanAttribute(default=False)


MODELS: tuple[type[HubItem], ...] = (
    HubItem, PersonItem, TimelineItem, IdentityItem, DeliveryItem, IndexItem, TombstoneItem, TokenRefItem, MarkerItem, AuditItem,
    AdminTokenItem, TenantItem, SenderClaimItem, SourceLinkItem, PollCursorItem, NoticeItem, ConfigItem, TokenItem, SuppressionItem,
    ReferralItem, BatchItem, ProvisionItem, LedgerEntryItem, AgencyStateItem, NurtureItem, DeliveryLogItem,
)


def configure(table_name: str) -> None:
    """Point every model (and the transactions' connection) at the table. PynamoDB makes a model's
    connection afresh when its table name changes."""
    for model in MODELS:
        model.Meta.table_name = table_name


def table_name() -> str:
    return HubItem.Meta.table_name


def connection() -> Connection:
    """The connection transactions and raw reads (counters, ledgers) go through: the models' own
    (HubItem's), so the process holds one botocore session and one client for DynamoDB."""
    return HubItem._get_connection().connection
